// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package bullmq reads a BullMQ installation's state from its Redis: queues,
// jobs per state, per-queue totals, in-flight jobs and, when asked, the
// workers connected. It follows what BullMQ 6.x writes (verified with
// 6.7.0), with bull's and BullMQ 4's leftovers where they cost little (a
// legacy `paused` list counts as waiting; a `0:` marker at the tail of
// `wait` is not a job), and never writes itself.
//
// BullMQ keeps no registry of queues: a queue exists when `<prefix>:<q>:meta`
// does. Unless the queue names are given (Options.Names), the reader finds
// them with a SCAN for that pattern on its first snapshot and again every
// Options.DiscoveryInterval; such a snapshot costs one more round trip per
// SCAN page (1,000 keys each). Every other snapshot costs two pipelined round
// trips whatever the number of queues: the counts, flags, ids and totals of
// every selected queue, then the hashes of the jobs those ids name. These
// are the only commands sent, all read-only:
//
//	SCAN                      <prefix>:*:meta (discovery only)
//	LLEN                      wait, paused; active when 100 or more ids
//	ZCARD                     prioritized, delayed, waiting-children, completed, failed
//	HEXISTS                   meta paused
//	LRANGE                    wait (last two ids), active (oldest 100 ids)
//	HGET                      metrics:completed, metrics:failed (count); job hashes (timestamp, processedOn)
//	ZREVRANGE, HMGET          failed, job hashes (name, failedReason): the by-class breakdown only
//	CLIENT LIST               workers, only with Options.ReadWorkers
//
// CLIENT LIST is the only place BullMQ's workers show (each names its
// connection `<prefix>:<base64 queue>`, `...:w:<worker name>` when named),
// and it needs a permission a read-only ACL user lacks (`+client|list`,
// @admin), so workers are read only when asked (otherwise the snapshot's
// ProcessesUnknown is set). Each worker connection is a
// snapshot.Process: BullMQ keeps neither its concurrency nor its busy slots
// in Redis, so those are 0, and its heartbeat age is the connection's idle
// time (a live worker blocks at most a few seconds between commands).
//
// Totals come from the per-queue `metrics:completed` and `metrics:failed`
// hashes, which BullMQ writes only for queues whose workers run with the
// `metrics` option; queues without them carry no Totals. Processed is
// completed plus failed (every job that finished), Failed the jobs that
// failed for good; attempts that were retried are in neither.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one of
// wrong_type, missing_job, missing_timestamp, invalid_timestamp,
// invalid_number, registry_truncated, name_too_long,
// invalid_utf8, too_many_problems. Every name reported goes through
// snapshot.Name; Redis is still read under the names as they are.
package bullmq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/bullmq"

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// DefaultPrefix is BullMQ's default key prefix (its `prefix` option).
const DefaultPrefix = "bull"

// Job states as BullMQ names them (Queue.getJobCounts), beyond the shared ones.
const (
	StateWaiting         = "waiting"
	StateWaitingChildren = "waiting-children"
)

// Options says what to read and how to judge it.
type Options struct {
	// Prefix is BullMQ's key prefix; "" means DefaultPrefix.
	Prefix string
	// Names, when not empty, are the queues to read: no SCAN is made.
	Names []string
	// DiscoveryInterval is how often the queues are discovered again;
	// 0 discovers only once.
	DiscoveryInterval time.Duration
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the age beyond which an active job counts as
	// stalled; 0 counts none.
	StalledAfter time.Duration
	// ReadWorkers reads the workers with CLIENT LIST.
	ReadWorkers bool
	// ByClassMaxEntries > 0 enables the breakdown of failed jobs by name
	// and failedReason, reading about this many of the latest failed jobs
	// over all queues (an equal share per queue, at least one each).
	// Beyond snapshot.MaxClassCells cells, new ones fold into
	// snapshot.OtherClass.
	ByClassMaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const (
	system = "bullmq"

	// maxQueueNames bounds the queue names one discovery keeps.
	maxQueueNames = 100_000
	// scanCount is the COUNT hint of each discovery SCAN page.
	scanCount = 1000
	// maxActiveRead bounds the active jobs whose start is read per queue:
	// the oldest ones (the tail of `active`), where stalled jobs are.
	maxActiveRead = 100
)

// Problem kinds (snapshot.Problem.Kind) this reader adds to redisread's.
const (
	kindMissingJob       = "missing_job"
	kindMissingTimestamp = "missing_timestamp"
	kindInvalidTimestamp = "invalid_timestamp"
)

// Reader takes snapshots of one BullMQ Redis. Snapshots must not run
// concurrently (the Snapshotter serialises them): the discovered queue
// names are kept between them.
type Reader struct {
	client redis.Cmdable
	opts   Options
	from   string
	prefix string // "<prefix>:"

	// Discovery state: the queue names found and when to look again.
	queues        []string
	nextDiscovery time.Time
}

var _ snapshot.Reader = (*Reader)(nil)

// NewReader returns a reader that sends its commands through client.
func NewReader(client redis.Cmdable, opts Options) *Reader {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	r := &Reader{client: client, opts: opts, from: redisread.From(client), prefix: opts.Prefix + ":"}
	if len(opts.Names) > 0 {
		r.queues = opts.Names
	}
	return r
}

// Snapshot reads BullMQ's state. It fails only when Redis cannot be read
// (unreachable, timeout, a refused command); bad data is skipped and listed
// in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now)}
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, DeadState: snapshot.StateFailed, ProcessesUnknown: !r.opts.ReadWorkers}
	if len(r.opts.Names) == 0 && (r.queues == nil || !sc.now.Before(r.nextDiscovery)) {
		if err := sc.discover(ctx); err != nil {
			return nil, err
		}
	}
	sc.snap.QueuesDiscovered = len(r.queues)
	kept, dropped := r.opts.Selection.Apply(r.queues)
	sc.snap.QueuesDropped = dropped
	if len(kept) > 0 || r.opts.ReadWorkers {
		qs, err := sc.readQueues(ctx, kept)
		if err != nil {
			return nil, err
		}
		if err := sc.readJobs(ctx, qs); err != nil {
			return nil, err
		}
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
	workers  *redis.StringCmd
}

// discover finds the queues by their meta keys, one SCAN page per round
// trip, keeping at most maxQueueNames.
func (sc *scrape) discover(ctx context.Context) error {
	r := sc.r
	match := globEscape(r.prefix) + "*:meta"
	seen := make(map[string]struct{})
	var cursor uint64
	for {
		keys, next, err := r.client.Scan(ctx, cursor, match, scanCount).Result()
		if err != nil {
			return fmt.Errorf("%s: discover queues%s: SCAN %s: %w", system, r.from, match, err)
		}
		for _, k := range keys {
			name := k[len(r.prefix) : len(k)-len(":meta")]
			if len(seen) >= maxQueueNames {
				sc.problems.Add(redisread.KindRegistryTruncated, match,
					"kept the first "+strconv.Itoa(maxQueueNames)+" queues found")
				next = 0
				break
			}
			seen[strings.Clone(name)] = struct{}{}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	r.queues = make([]string, 0, len(seen))
	for name := range seen {
		r.queues = append(r.queues, name)
	}
	r.nextDiscovery = sc.now.Add(r.opts.DiscoveryInterval)
	if r.opts.DiscoveryInterval <= 0 {
		r.nextDiscovery = time.Unix(1<<62, 0) // never again
	}
	return nil
}

// globEscape escapes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// queueSuffixes are the keys of a queue read in round trip 1, after
// "<prefix>:<name>:".
var queueSuffixes = [...]string{
	"wait", "paused", "active", "prioritized", "delayed", "waiting-children",
	"completed", "failed", "meta", "metrics:completed", "metrics:failed",
}

// queueKeys are one queue's keys, slices of one string: building a string
// per key would cost 11 allocations a queue, 11,000 for 1,000 queues.
type queueKeys struct {
	base                                                        string // "<prefix>:<name>:"
	wait, paused, active, prioritized, delayed, waitingChildren string
	completed, failed, meta, metricsCompleted, metricsFailed    string
}

func newQueueKeys(prefix, name string) queueKeys {
	n := len(prefix) + len(name) + 1
	size := n
	for _, suffix := range queueSuffixes {
		size += n + len(suffix)
	}
	var b strings.Builder
	b.Grow(size)
	b.WriteString(prefix)
	b.WriteString(name)
	b.WriteByte(':')
	for _, suffix := range queueSuffixes {
		b.WriteString(prefix)
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(suffix)
	}
	all, off := b.String(), n
	next := func(suffix string) string {
		off += n + len(suffix)
		return all[off-n-len(suffix) : off]
	}
	return queueKeys{
		base: all[:n], wait: next("wait"), paused: next("paused"), active: next("active"),
		prioritized: next("prioritized"), delayed: next("delayed"), waitingChildren: next("waiting-children"),
		completed: next("completed"), failed: next("failed"), meta: next("meta"),
		metricsCompleted: next("metrics:completed"), metricsFailed: next("metrics:failed"),
	}
}

// queueCmds are one queue's round-trip-1 commands.
type queueCmds struct {
	name string // the raw name
	keys queueKeys

	wait, paused                                        *redis.IntCmd
	prioritized, delayed, waitingChildren, done, failed *redis.IntCmd
	isPaused                                            *redis.BoolCmd
	waitTail, activeIDs, failedIDs                      *redis.StringSliceCmd
	metricsCompleted, metricsFailed                     *redis.StringCmd

	// Round trip 2.
	active    *redis.IntCmd // only when activeIDs is full
	oldest    *redis.StringCmd
	started   []*redis.StringCmd
	failures  []*redis.SliceCmd
	failedIDv []string
}

// readQueues runs round trip 1: counts, pause flag, the ids of the oldest
// waiting and active jobs and the totals of every selected queue, and the
// workers when asked.
func (sc *scrape) readQueues(ctx context.Context, kept []string) ([]queueCmds, error) {
	pipe := sc.r.client.Pipeline()
	qs := make([]queueCmds, len(kept))
	perQueue := int64(0)
	if n := sc.r.opts.ByClassMaxEntries; n > 0 && len(kept) > 0 {
		perQueue = int64(max(1, n/len(kept)))
	}
	for i, name := range kept {
		q := queueCmds{name: name, keys: newQueueKeys(sc.r.prefix, name)}
		q.wait = pipe.LLen(ctx, q.keys.wait)
		q.paused = pipe.LLen(ctx, q.keys.paused)
		q.prioritized = pipe.ZCard(ctx, q.keys.prioritized)
		q.delayed = pipe.ZCard(ctx, q.keys.delayed)
		q.waitingChildren = pipe.ZCard(ctx, q.keys.waitingChildren)
		q.done = pipe.ZCard(ctx, q.keys.completed)
		q.failed = pipe.ZCard(ctx, q.keys.failed)
		q.isPaused = pipe.HExists(ctx, q.keys.meta, "paused")
		q.waitTail = pipe.LRange(ctx, q.keys.wait, -2, -1)
		// The active count comes from these ids unless there are more.
		q.activeIDs = pipe.LRange(ctx, q.keys.active, -maxActiveRead, -1)
		q.metricsCompleted = pipe.HGet(ctx, q.keys.metricsCompleted, "count")
		q.metricsFailed = pipe.HGet(ctx, q.keys.metricsFailed, "count")
		if perQueue > 0 {
			q.failedIDs = pipe.ZRevRange(ctx, q.keys.failed, 0, perQueue-1)
		}
		qs[i] = q
	}
	if sc.r.opts.ReadWorkers {
		sc.workers = pipe.ClientList(ctx)
	}
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read queues", sc.r.from, cmds, err); err != nil {
		return nil, err
	}
	return qs, nil
}

// readJobs runs round trip 2: the hashes of the jobs round trip 1 named,
// then builds the snapshot.
func (sc *scrape) readJobs(ctx context.Context, qs []queueCmds) error {
	pipe := sc.r.client.Pipeline()
	for i := range qs {
		q := &qs[i]
		if id, ok := sc.oldestWaiting(q); ok {
			q.oldest = pipe.HGet(ctx, q.keys.base+id, "timestamp")
		}
		if !sc.problems.WrongType(q.activeIDs, q.keys.active) {
			ids := q.activeIDs.Val()
			if len(ids) == maxActiveRead {
				q.active = pipe.LLen(ctx, q.keys.active)
			}
			for _, id := range ids {
				q.started = append(q.started, pipe.HGet(ctx, q.keys.base+id, "processedOn"))
			}
		}
		if q.failedIDs != nil && !sc.problems.WrongType(q.failedIDs, q.keys.failed) {
			q.failedIDv = q.failedIDs.Val()
			for _, id := range q.failedIDv {
				q.failures = append(q.failures, pipe.HMGet(ctx, q.keys.base+id, "name", "failedReason"))
			}
		}
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read jobs", sc.r.from, cmds, err); err != nil {
			return err
		}
	}

	queues := make([]snapshot.Queue, 0, len(qs))
	byName := make(map[string]string, len(qs)) // raw name -> reported name
	var cells snapshot.ClassCells
	for i := range qs {
		q := &qs[i]
		out, ok := sc.queue(q)
		if !ok {
			continue
		}
		queues = append(queues, out)
		byName[q.name] = out.Name
		sc.totals(q, out.Name)
		sc.countFailures(&cells, q)
	}
	sc.snap.Queues = queues
	if sc.r.opts.ByClassMaxEntries > 0 {
		sc.snap.ByClass = cells.List()
	}
	if sc.workers != nil {
		sc.snap.Processes = sc.processes(byName)
	}
	return nil
}

// oldestWaiting returns the id at the tail of `wait`, the oldest FIFO job,
// skipping the `0:` marker BullMQ <= 4 left there.
func (sc *scrape) oldestWaiting(q *queueCmds) (string, bool) {
	if q.waitTail.Err() != nil { // a wrong type, recorded with the queue's LLEN
		return "", false
	}
	ids := q.waitTail.Val()
	for i := len(ids) - 1; i >= 0; i-- {
		if !isMarker(ids[i]) {
			return ids[i], true
		}
	}
	return "", false
}

// isMarker tells the `0:<ts>` entry BullMQ <= 4 pushed onto `wait` to wake
// workers; it is not a job.
func isMarker(id string) bool { return strings.HasPrefix(id, "0:") }

// queue builds one queue's figures and its jobs per state; ok is false when
// its `wait` key is not a list.
func (sc *scrape) queue(q *queueCmds) (snapshot.Queue, bool) {
	if sc.problems.WrongType(q.wait, q.keys.wait) {
		return snapshot.Queue{}, false
	}
	name := sc.problems.Name(q.name, q.keys.meta, "queue name")
	count := func(cmd *redis.IntCmd, key string) int64 {
		if sc.problems.WrongType(cmd, key) {
			return 0
		}
		return cmd.Val()
	}
	waiting := q.wait.Val() + count(q.paused, q.keys.paused)
	if ids := q.waitTail.Val(); len(ids) > 0 && isMarker(ids[len(ids)-1]) {
		waiting-- // as getCounts does
	}
	prioritized := count(q.prioritized, q.keys.prioritized)
	out := snapshot.Queue{
		Name:        name,
		Size:        waiting + prioritized,
		PausedKnown: true,
		Paused:      q.isPaused.Val(),
		Running:     int64(len(q.activeIDs.Val())), // wrong type: none
	}
	if q.active != nil {
		out.Running = q.active.Val()
	}
	if sc.problems.WrongType(q.isPaused, q.keys.meta) {
		out.PausedKnown = false
	}
	for _, s := range [...]struct {
		state string
		n     int64
	}{
		{StateWaiting, waiting},
		{snapshot.StateActive, out.Running},
		{snapshot.StateDelayed, count(q.delayed, q.keys.delayed)},
		{snapshot.StatePrioritized, prioritized},
		{StateWaitingChildren, count(q.waitingChildren, q.keys.waitingChildren)},
		{snapshot.StateCompleted, count(q.done, q.keys.completed)},
		{snapshot.StateFailed, count(q.failed, q.keys.failed)},
	} {
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: s.state, Queue: name, Count: s.n})
	}

	if q.oldest != nil {
		if ts, ok := sc.jobTime(q.oldest, "timestamp"); ok {
			out.Latency = snapshot.Age(sc.now, ts)
		}
	}
	for _, cmd := range q.started {
		ts, ok := sc.jobTime(cmd, "processedOn")
		if !ok {
			continue
		}
		age := snapshot.Age(sc.now, ts)
		out.RunningMaxAge = max(out.RunningMaxAge, age)
		if sc.r.opts.StalledAfter > 0 && age > sc.r.opts.StalledAfter {
			out.Stalled++
		}
	}
	return out, true
}

// jobTime reads a job hash's millisecond time field; a missing hash or
// field and a bad value are problems.
func (sc *scrape) jobTime(cmd *redis.StringCmd, field string) (time.Time, bool) {
	key, _ := cmd.Args()[1].(string)
	if sc.problems.WrongType(cmd, key) {
		return time.Time{}, false
	}
	raw := cmd.Val()
	if raw == "" {
		sc.problems.Add(kindMissingTimestamp, key, "no "+field+" (job hash missing or incomplete)")
		return time.Time{}, false
	}
	ts, ok := parseMillis(raw)
	if !ok {
		sc.problems.Add(kindInvalidTimestamp, key, field+" is not epoch milliseconds")
		return time.Time{}, false
	}
	return ts, true
}

// totals adds the queue's metrics counters, when its workers keep them;
// none when either is unreadable, rather than a wrong one.
func (sc *scrape) totals(q *queueCmds, name string) {
	absent := func(cmd *redis.StringCmd) bool { return errors.Is(cmd.Err(), redis.Nil) }
	if absent(q.metricsCompleted) && absent(q.metricsFailed) {
		return
	}
	completed, okC := sc.problems.Counter(q.metricsCompleted, q.keys.metricsCompleted)
	failed, okF := sc.problems.Counter(q.metricsFailed, q.keys.metricsFailed)
	if okC && okF {
		sc.snap.Totals = append(sc.snap.Totals, snapshot.Totals{Queue: name, Processed: completed + failed, Failed: failed})
	}
}

// countFailures adds the queue's latest failed jobs to the breakdown.
func (sc *scrape) countFailures(cells *snapshot.ClassCells, q *queueCmds) {
	for i, cmd := range q.failures {
		key := q.keys.base + q.failedIDv[i]
		if sc.problems.WrongType(cmd, key) {
			continue
		}
		vals := cmd.Val()
		jobName, ok := vals[0].(string)
		if !ok {
			sc.problems.Add(kindMissingJob, key, "failed job has no hash")
			continue
		}
		reason, _ := vals[1].(string)
		cells.Add(snapshot.StateFailed, sc.problems.Name(jobName, key, "name"), sc.problems.Name(reason, key, "failedReason"))
	}
}

// processes turns the worker connections of the reported queues into
// processes, sorted by ID.
func (sc *scrape) processes(byName map[string]string) []snapshot.Process {
	if sc.workers.Err() != nil { // Failure let only WRONGTYPE-like replies through
		return nil
	}
	var out []snapshot.Process
	for _, w := range parseClientList(sc.workers.Val(), sc.r.prefix) {
		queue, ok := byName[w.queue]
		if !ok {
			continue
		}
		id := sc.problems.Name(w.processID(), "CLIENT LIST", "worker connection name")
		out = append(out, snapshot.Process{
			ID:           id,
			Hostname:     sc.problems.Name(w.host, "CLIENT LIST", "worker address"),
			HeartbeatAge: w.idle,
			Queues:       []string{queue},
		})
	}
	sortProcesses(out)
	return out
}
