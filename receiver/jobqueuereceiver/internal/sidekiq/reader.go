// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package sidekiq reads a Sidekiq installation's state from its Redis:
// queues, jobs per state, totals, processes and the jobs they are running.
// It understands what Sidekiq 6.x (with or without a redis-namespace prefix),
// 7.x and 8.x write, and never writes itself.
//
// A snapshot costs two pipelined round trips whatever the number of queues
// and processes: the registries and global counts first, then every selected
// queue and every registered process. These are the only commands sent, all
// of them read-only (an ACL user needs nothing beyond them):
//
//	SCARD, SRANDMEMBER  queues, processes (the registries, bounded read)
//	ZCARD               schedule, retry, dead
//	GET                 stat:processed, stat:failed
//	ZREVRANGE           retry, dead (only for the by-class breakdown)
//	LLEN, LINDEX        queue:<name>
//	HMGET, HGETALL      <identity>, <identity>:work, <identity>:workers
//
// Queue pausing is a Sidekiq Pro feature (it keeps paused names in a SET
// `paused`); open-source Sidekiq cannot pause, so queues carry
// PausedKnown=false and that set is not read.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one of
// wrong_type, invalid_json, missing_timestamp, invalid_timestamp,
// invalid_number, invalid_value, missing_queue, registry_truncated,
// name_too_long, invalid_utf8, too_many_problems. Stale processes (registered, but their hash expired)
// are normal in Sidekiq, which prunes them lazily: they are counted in
// ProcessesStale, not reported as problems.
//
// Every name reported (queues, process identities, hostnames, tags, job
// classes, error types) goes through snapshot.Name: at most
// snapshot.MaxNameLen bytes of valid UTF-8, each change counted as a
// name_too_long or invalid_utf8 problem. Redis is still read under the names
// as they are.
package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options struct {
	// Namespace is the redis-namespace prefix of Sidekiq <= 6 ("" for none):
	// keys become "<ns>:queues" and so on.
	Namespace string
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the age beyond which an in-flight job counts as
	// stalled; 0 counts none.
	StalledAfter time.Duration
	// ByClassMaxEntries > 0 enables the retry/dead breakdown, reading at
	// most this many entries of each set, highest score first (dead: the
	// latest deaths; retry: the furthest next attempts). A cell is (state,
	// class, error type): the class is display_class, else wrapped
	// (ActiveJob), else class; the error type is error_class, "" when the
	// entry has none. Beyond snapshot.MaxClassCells cells, new ones fold
	// into snapshot.OtherClass.
	ByClassMaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const (
	system = "sidekiq"

	// Registries are read whole up to these sizes, so a registry flooded
	// with garbage cannot exhaust memory; beyond them a random subset is
	// read and registry_truncated says so.
	maxQueueNames = 100_000
	maxProcesses  = 10_000
	// maxProblems bounds the problems listed per snapshot.
	maxProblems = snapshot.MaxProblems
)

// Problem kinds (snapshot.Problem.Kind).
const (
	kindWrongType         = redisread.KindWrongType
	kindInvalidJSON       = "invalid_json"
	kindMissingTimestamp  = "missing_timestamp"
	kindInvalidTimestamp  = "invalid_timestamp"
	kindInvalidNumber     = redisread.KindInvalidNumber
	kindInvalidValue      = "invalid_value"
	kindMissingQueue      = "missing_queue"
	kindRegistryTruncated = redisread.KindRegistryTruncated
	kindNameTooLong       = snapshot.KindNameTooLong
	kindInvalidUTF8       = snapshot.KindInvalidUTF8
	kindTooManyProblems   = snapshot.KindTooManyProblems
)

// Reader takes snapshots of one Sidekiq Redis.
type Reader struct {
	client redis.Cmdable
	opts   Options
	// from names the server in errors (" from host:port"), when the client
	// says which it is.
	from string
	keys keys
}

var _ snapshot.Reader = (*Reader)(nil)

// NewReader returns a reader that sends its commands through client.
func NewReader(client redis.Cmdable, opts Options) *Reader {
	prefix := ""
	if opts.Namespace != "" {
		prefix = opts.Namespace + ":"
	}
	r := &Reader{
		client: client,
		opts:   opts,
		keys: keys{
			prefix:    prefix,
			queues:    prefix + "queues",
			processes: prefix + "processes",
			schedule:  prefix + "schedule",
			retry:     prefix + "retry",
			dead:      prefix + "dead",
			processed: prefix + "stat:processed",
			failed:    prefix + "stat:failed",
		},
	}
	r.from = redisread.From(client)
	return r
}

// Snapshot reads Sidekiq's state. It fails only when Redis cannot be read
// (unreachable, timeout, a refused command); bad data is skipped and listed
// in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now)}
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, DeadState: snapshot.StateDead}
	reg, err := sc.readRegistries(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.readQueuesAndProcesses(ctx, reg); err != nil {
		return nil, err
	}
	sc.snap.Problems = sc.problems.List()
	return sc.snap, nil
}

// scrape is the state of one Snapshot call.
type scrape struct {
	r        *Reader
	now      time.Time
	snap     *snapshot.Snapshot
	problems redisread.Problems
}

// registries is what the first round trip found out.
type registries struct {
	queues     []string
	identities []string
}
