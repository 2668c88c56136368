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
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
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

// keys are the global keys, namespace included.
type keys struct {
	prefix                                                      string
	queues, processes, schedule, retry, dead, processed, failed string
}

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

// readRegistries runs round trip 1: the queue and process registries, the
// per-state counts, the totals and, when asked, the newest retry/dead
// entries. Everything is global in Sidekiq, so nothing here depends on the
// number of queues.
func (sc *scrape) readRegistries(ctx context.Context) (registries, error) {
	k := &sc.r.keys
	pipe := sc.r.client.Pipeline()
	queueCount := pipe.SCard(ctx, k.queues)
	queues := pipe.SRandMemberN(ctx, k.queues, maxQueueNames)
	processCount := pipe.SCard(ctx, k.processes)
	processes := pipe.SRandMemberN(ctx, k.processes, maxProcesses)
	scheduled := pipe.ZCard(ctx, k.schedule)
	retries := pipe.ZCard(ctx, k.retry)
	dead := pipe.ZCard(ctx, k.dead)
	processed := pipe.Get(ctx, k.processed)
	failed := pipe.Get(ctx, k.failed)
	var retryEntries, deadEntries *redis.StringSliceCmd
	if n := int64(sc.r.opts.ByClassMaxEntries); n > 0 {
		retryEntries = pipe.ZRevRange(ctx, k.retry, 0, n-1)
		deadEntries = pipe.ZRevRange(ctx, k.dead, 0, n-1)
	}
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read registries", sc.r.from, cmds, err); err != nil {
		return registries{}, err
	}

	var reg registries
	sc.snap.QueuesDiscovered = int(queueCount.Val())
	reg.queues = sc.problems.Members(queues, queueCount, k.queues)
	reg.identities = sc.problems.Members(processes, processCount, k.processes)
	sort.Strings(reg.identities)

	for _, c := range [...]struct {
		state string
		cmd   *redis.IntCmd
		key   string
	}{
		{snapshot.StateScheduled, scheduled, k.schedule},
		{snapshot.StateRetry, retries, k.retry},
		{snapshot.StateDead, dead, k.dead},
	} {
		if sc.problems.WrongType(c.cmd, c.key) {
			continue
		}
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: c.state, Count: c.cmd.Val()})
	}

	p, okP := sc.problems.Counter(processed, k.processed)
	f, okF := sc.problems.Counter(failed, k.failed)
	if okP && okF {
		sc.snap.Totals = []snapshot.Totals{{Processed: p, Failed: f}}
	}

	if retryEntries != nil {
		var cells snapshot.ClassCells
		sc.countClasses(&cells, snapshot.StateRetry, retryEntries, k.retry)
		sc.countClasses(&cells, snapshot.StateDead, deadEntries, k.dead)
		sc.snap.ByClass = cells.List()
	}
	return reg, nil
}

type queueCmds struct {
	key    string
	size   *redis.IntCmd
	oldest *redis.StringCmd
}

type processCmds struct {
	hashKey, workKey, workersKey string
	hash                         *redis.SliceCmd
	work, workers                *redis.MapStringStringCmd
}

// Fields read from a process hash, in HMGET order. Sidekiq also writes
// rtt_us, which no figure of the snapshot uses.
var processFields = []string{"info", "busy", "beat", "quiet", "rss", "concurrency"}

// perQueueAndProcess returns the list key of every queue and the
// `<identity>:workers` key of every process, whose prefixes are the process
// hash and `:work` keys. All are slices of one string: building a string per
// key would cost an allocation each, 1,600 for 1,000 queues and 200 processes.
func (k *keys) perQueueAndProcess(queues, identities []string) (queueKeys, workersKeys []string) {
	const queuePrefix, workersSuffix = "queue:", ":workers"
	n := 0
	for _, q := range queues {
		n += len(k.prefix) + len(queuePrefix) + len(q)
	}
	for _, id := range identities {
		n += len(k.prefix) + len(id) + len(workersSuffix)
	}
	var b strings.Builder
	b.Grow(n)
	for _, q := range queues {
		b.WriteString(k.prefix)
		b.WriteString(queuePrefix)
		b.WriteString(q)
	}
	for _, id := range identities {
		b.WriteString(k.prefix)
		b.WriteString(id)
		b.WriteString(workersSuffix)
	}
	all, off := b.String(), 0
	slice := func(l int) string {
		off += l
		return all[off-l : off]
	}
	queueKeys = make([]string, len(queues))
	for i, q := range queues {
		queueKeys[i] = slice(len(k.prefix) + len(queuePrefix) + len(q))
	}
	workersKeys = make([]string, len(identities))
	for i, id := range identities {
		workersKeys[i] = slice(len(k.prefix) + len(id) + len(workersSuffix))
	}
	return queueKeys, workersKeys
}

// readQueuesAndProcesses runs round trip 2: size and oldest job of every
// selected queue, hash and in-flight work of every registered process.
func (sc *scrape) readQueuesAndProcesses(ctx context.Context, reg registries) error {
	k := &sc.r.keys
	kept, dropped := sc.r.opts.Selection.Apply(reg.queues)
	sc.snap.QueuesDropped = dropped

	queueKeys, workersKeys := k.perQueueAndProcess(kept, reg.identities)
	pipe := sc.r.client.Pipeline()
	qcmds := make([]queueCmds, len(kept))
	for i, key := range queueKeys {
		qcmds[i] = queueCmds{key: key, size: pipe.LLen(ctx, key), oldest: pipe.LIndex(ctx, key, -1)}
	}
	pcmds := make([]processCmds, len(reg.identities))
	for i, workers := range workersKeys {
		c := processCmds{
			hashKey:    workers[:len(workers)-len(":workers")],
			workKey:    workers[:len(workers)-len("ers")],
			workersKey: workers,
		}
		c.hash = pipe.HMGet(ctx, c.hashKey, processFields...)
		c.work = pipe.HGetAll(ctx, c.workKey)
		c.workers = pipe.HGetAll(ctx, c.workersKey)
		pcmds[i] = c
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read queues and processes", sc.r.from, cmds, err); err != nil {
			return err
		}
	}

	// In-flight jobs are attributed to the reported queues by the name they
	// carry: the raw one, not the bounded one reported.
	queues := make([]snapshot.Queue, 0, len(kept))
	byName := make(map[string]*snapshot.Queue, len(kept))
	for i, raw := range kept {
		if q, ok := sc.queue(raw, qcmds[i]); ok {
			queues = append(queues, q) // within capacity: earlier pointers stay valid
			byName[raw] = &queues[len(queues)-1]
		}
	}
	sc.snap.Queues = queues
	processes := make([]snapshot.Process, 0, len(reg.identities))
	var busy int64
	for i, id := range reg.identities {
		c := &pcmds[i]
		p, live := sc.process(id, c.hashKey, c.hash)
		if !live {
			continue
		}
		processes = append(processes, p)
		busy += p.Busy
		sc.work(byName, c.work, c.workKey)
		sc.work(byName, c.workers, c.workersKey)
	}
	sc.snap.Processes = processes
	// Like Sidekiq's Workers#size: the busy counts the processes report.
	sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: snapshot.StateBusy, Count: busy})
	return nil
}

// queue builds the figures of the queue named raw in the registry; ok is
// false when its key is not a list.
func (sc *scrape) queue(raw string, c queueCmds) (snapshot.Queue, bool) {
	key := c.key
	if sc.problems.WrongType(c.size, key) {
		return snapshot.Queue{}, false
	}
	q := snapshot.Queue{Name: sc.problems.Name(raw, sc.r.keys.queues, "queue name"), Size: c.size.Val()}
	if payload := c.oldest.Val(); payload != "" {
		j, err := parseJob(payload)
		if err != nil {
			sc.problems.Add(kindInvalidJSON, key, "oldest job: "+err.Error())
			return q, true
		}
		ts, problem := j.enqueued()
		if problem != "" {
			sc.problems.Add(problem, key, "oldest job has no usable enqueued_at or created_at")
			return q, true
		}
		q.Latency = snapshot.Age(sc.now, ts)
	}
	return q, true
}

// process builds one process from its hash; live is false when the process
// is gone (its hash expired: the registry entry is stale) or unreadable.
func (sc *scrape) process(id, key string, hash *redis.SliceCmd) (p snapshot.Process, live bool) {
	if sc.problems.WrongType(hash, key) {
		return p, false
	}
	vals := hash.Val()
	info, _ := vals[0].(string)
	if info == "" {
		sc.snap.ProcessesStale++
		return p, false
	}
	p.ID = sc.problems.Name(id, sc.r.keys.processes, "process identity")
	pi, problem := parseInfo(info)
	if problem != "" {
		sc.problems.Add(problem, key, "info is not the JSON object Sidekiq writes")
	}
	p.PID = pi.pid
	p.Hostname = sc.problems.Name(pi.hostname, key, "info hostname")
	p.Tag = sc.problems.Name(pi.tag, key, "info tag")
	for i, q := range pi.queues {
		pi.queues[i] = sc.problems.Name(q, key, "info queue name")
	}
	p.Queues = pi.queues
	if n, ok := pi.concurrencyDeclared(); ok {
		p.Concurrency = sc.problems.NonNegative(n, key, "info concurrency")
	}
	if raw, ok := vals[5].(string); ok {
		p.Concurrency = sc.problems.Count(raw, key, "concurrency")
	}
	if raw, ok := vals[1].(string); ok {
		p.Busy = sc.problems.Count(raw, key, "busy")
	}
	if raw, ok := vals[2].(string); !ok || raw == "" {
		sc.problems.Add(kindMissingTimestamp, key, "no beat")
	} else if beat, ok := epoch(raw); !ok {
		sc.problems.Add(kindInvalidTimestamp, key, "beat is not an epoch time")
	} else {
		p.HeartbeatAge = snapshot.Age(sc.now, beat)
	}
	switch raw, _ := vals[3].(string); raw {
	case "true":
		p.Quiet = true
	case "false", "":
	default:
		sc.problems.Add(kindInvalidValue, key, "quiet is neither true nor false")
	}
	// rss is in KB; 0 means the platform does not measure it.
	if raw, ok := vals[4].(string); ok && raw != "" {
		if kb := sc.problems.Count(raw, key, "rss"); kb > 0 && kb <= maxInt64/1024 {
			p.MemoryBytes, p.MemoryKnown = kb*1024, true
		}
	}
	return p, true
}

const maxInt64 = 1<<63 - 1

// work counts one process's in-flight jobs into the queues they come from.
func (sc *scrape) work(byName map[string]*snapshot.Queue, cmd *redis.MapStringStringCmd, key string) {
	if sc.problems.WrongType(cmd, key) {
		return
	}
	for field, value := range cmd.Val() {
		name, runAt, problem := parseWork(value)
		if problem != "" {
			sc.problems.Add(problem, key, "thread "+field)
		}
		q := byName[name]
		if q == nil {
			continue
		}
		q.Running++
		if runAt.IsZero() {
			continue
		}
		a := snapshot.Age(sc.now, runAt)
		q.RunningMaxAge = max(q.RunningMaxAge, a)
		if sc.r.opts.StalledAfter > 0 && a > sc.r.opts.StalledAfter {
			q.Stalled++
		}
	}
}

// countClasses adds one set's entries to the breakdown.
func (sc *scrape) countClasses(cells *snapshot.ClassCells, state string, cmd *redis.StringSliceCmd, key string) {
	if sc.problems.WrongType(cmd, key) {
		return
	}
	for _, entry := range cmd.Val() {
		j, err := parseJob(entry)
		if err != nil {
			sc.problems.Add(kindInvalidJSON, key, "entry: "+err.Error())
			continue
		}
		errorClass, _ := rawjson.String(j.errorClass)
		cells.Add(state, sc.problems.Name(j.displayName(), key, "class"), sc.problems.Name(errorClass, key, "error_class"))
	}
}
