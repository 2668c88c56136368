// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package rq reads an RQ (Python, 1.x) installation's state from its Redis:
// queues, jobs per registry, workers and the jobs they are running. It
// understands what RQ 1.13 writes (and older 1.x, whose timestamps may lack
// microseconds), and never writes itself.
//
// A snapshot costs at most three pipelined round trips whatever the number
// of queues and workers: the queue and worker registries; then every
// selected queue (size, head job id, registries) and every registered worker
// (its hash and the hash's remaining TTL); then the job hashes the second
// round trip pointed at (each queue's head job, each busy worker's current
// job). These are the only commands sent, all read-only (an ACL user needs
// nothing beyond them):
//
//	SCARD, SRANDMEMBER  rq:queues, rq:workers (the registries, bounded read)
//	LLEN, LINDEX        rq:queue:<q>
//	ZCARD, ZCOUNT       rq:wip|finished|failed|deferred|scheduled|canceled:<q>
//	HMGET, PTTL         rq:worker:<name>
//	HMGET               rq:job:<id>
//
// # How the figures map
//
// RQ's own counts (a registry's .count, get_job_ids, `rq info`) first clean
// the registry: StartedJobRegistry, FinishedJobRegistry and
// FailedJobRegistry drop every entry whose score (an expiry time) is in
// [0, now], and the started one moves those jobs to the failed registry or
// back onto their queue. The reader never writes, so it counts what RQ
// would count once cleaned, ZCARD minus ZCOUNT 0 <now>, and leaves the
// moving to RQ: a started job whose worker died (its entry expired) is no
// longer started, and not yet failed until RQ's next clean-up. The deferred,
// scheduled and canceled registries are never cleaned; they are ZCARD.
//
// A worker is live while its hash exists, as for Worker.all(), except when
// its heartbeat is overdue: every heartbeat sets the hash's TTL to the
// worker's TTL plus 60 s (idle: worker_ttl + 60, beating every
// worker_ttl - 15 s; busy: job_monitoring_interval + 60, beating every
// job_monitoring_interval), so a live worker's hash keeps at least 60 s
// (busy) or 75 s (idle) before its next beat. A hash with less than 30 s
// left has missed a heartbeat by 30 s or more, whatever TTL the worker was
// started with (a suspended worker does not beat either). Those workers, and
// registry entries whose hash is gone (which Worker.all() would SREM), are
// counted in ProcessesStale. Totals are the live and overdue workers'
// successful_job_count and failed_job_count summed: RQ keeps no other
// counter, so they drop when a worker exits. The per-queue worker sets
// (rq:workers:<q>) are not read: each worker hash lists its queues.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one
// of wrong_type, missing_job, missing_timestamp, invalid_timestamp,
// invalid_number, invalid_value, registry_truncated, name_too_long,
// invalid_utf8, too_many_problems. Every name reported (queues, worker
// names, hostnames) goes through snapshot.Name.
package rq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rq"

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options struct {
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the age beyond which a running job counts as
	// stalled; 0 counts none.
	StalledAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Job states (jobqueue.job.state), RQ's own JobStatus names.
const (
	StateQueued    = "queued"
	StateStarted   = "started"
	StateDeferred  = "deferred"
	StateScheduled = "scheduled"
	StateFinished  = "finished"
	StateFailed    = "failed"
	StateCanceled  = "canceled"
)

const (
	system = "rq"

	queuesKey   = "rq:queues"
	workersKey  = "rq:workers"
	queuePrefix = "rq:queue:"
	// workerPrefix is also what Worker.find_by_key requires of a member of
	// rq:workers.
	workerPrefix = "rq:worker:"
	jobPrefix    = "rq:job:"

	// Registries are read whole up to these sizes, so a registry flooded
	// with garbage cannot exhaust memory; beyond them a random subset is
	// read and registry_truncated says so.
	maxQueueNames = 100_000
	maxWorkers    = 10_000

	// heartbeatGrace is what RQ adds to a worker's TTL at every heartbeat
	// (worker.py: worker_ttl + 60, job_monitoring_interval + 60).
	heartbeatGrace = 60 * time.Second
	// overdueBelow is the remaining TTL under which a worker has missed its
	// heartbeat: half the grace, so that a busy worker whose beat comes a
	// little late (its TTL then dips just under 60 s) is not judged dead.
	overdueBelow = heartbeatGrace / 2
)

// Problem kinds of this reader (snapshot.Problem.Kind).
const (
	kindMissingJob       = "missing_job"
	kindMissingTimestamp = "missing_timestamp"
	kindInvalidTimestamp = "invalid_timestamp"
	kindInvalidValue     = "invalid_value"
)

// registries are the per-queue sorted sets, in snapshot order. cleaned are
// those whose .count drops entries with a score in [0, now] first.
var registries = [...]struct {
	state, prefix string
	cleaned       bool
}{
	{StateStarted, "rq:wip:", true},
	{StateDeferred, "rq:deferred:", false},
	{StateScheduled, "rq:scheduled:", false},
	{StateFinished, "rq:finished:", true},
	{StateFailed, "rq:failed:", true},
	{StateCanceled, "rq:canceled:", false},
}

// Fields read from a worker hash, in HMGET order (Worker.refresh reads the
// same ones, plus some no figure uses).
var workerFields = []string{
	"state", "current_job", "last_heartbeat", "successful_job_count", "failed_job_count",
	"hostname", "pid", "queues", "shutdown_requested_date",
}

const (
	wState = iota
	wCurrentJob
	wLastHeartbeat
	wSuccessful
	wFailed
	wHostname
	wPID
	wQueues
	wShutdownRequested
)

// Reader takes snapshots of one RQ Redis.
type Reader struct {
	client redis.Cmdable
	opts   Options
	// from names the server in errors (" from host:port").
	from string
}

var _ snapshot.Reader = (*Reader)(nil)

// NewReader returns a reader that sends its commands through client.
func NewReader(client redis.Cmdable, opts Options) *Reader {
	return &Reader{client: client, opts: opts, from: redisread.From(client)}
}

// Snapshot reads RQ's state. It fails only when Redis cannot be read
// (unreachable, timeout, a refused command); bad data is skipped and listed
// in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now)}
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, DeadState: StateFailed}
	queues, workers, err := sc.readRegistries(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.readQueuesAndWorkers(ctx, queues, workers); err != nil {
		return nil, err
	}
	if err := sc.readJobs(ctx); err != nil {
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

	// Filled by round trip 2 for round trip 3.
	queues  []queueRead
	workers []workerRead
}

// readRegistries runs round trip 1: the queue and worker registries. It
// returns the queue names (rq:queue: stripped) and worker names.
func (sc *scrape) readRegistries(ctx context.Context) (queues, workers []string, err error) {
	pipe := sc.r.client.Pipeline()
	queueCount := pipe.SCard(ctx, queuesKey)
	queueKeys := pipe.SRandMemberN(ctx, queuesKey, maxQueueNames)
	workerCount := pipe.SCard(ctx, workersKey)
	workerKeys := pipe.SRandMemberN(ctx, workersKey, maxWorkers)
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read registries", sc.r.from, cmds, err); err != nil {
		return nil, nil, err
	}
	sc.snap.QueuesDiscovered = int(queueCount.Val())
	queues = sc.strip(sc.problems.Members(queueKeys, queueCount, queuesKey), queuePrefix, queuesKey)
	workers = sc.strip(sc.problems.Members(workerKeys, workerCount, workersKey), workerPrefix, workersKey)
	sort.Strings(workers)
	return queues, workers, nil
}

// strip removes prefix from every member of a registry; members without it
// are skipped as invalid_value (RQ itself raises ValueError on them).
func (sc *scrape) strip(members []string, prefix, key string) []string {
	out := members[:0]
	for _, m := range members {
		name, ok := strings.CutPrefix(m, prefix)
		if !ok {
			sc.problems.Add(kindInvalidValue, key, "member without the "+prefix+" prefix")
			continue
		}
		out = append(out, name)
	}
	return out
}

// queueRead is one selected queue's commands of round trip 2 and its head
// job's of round trip 3.
type queueRead struct {
	raw, key string
	size     *redis.IntCmd
	head     *redis.StringCmd
	// card is each registry's ZCARD; expired, for the cleaned ones, its
	// ZCOUNT of the scores RQ's clean-up would drop.
	card, expired [len(registries)]*redis.IntCmd
	// headJob is the HMGET of the head job's hash (round trip 3).
	headJob    *redis.SliceCmd
	headJobKey string
}

// workerRead is one registered worker's commands.
type workerRead struct {
	name, key string
	hash      *redis.SliceCmd
	ttl       *redis.DurationCmd
	// job is the HMGET of the current job's hash (round trip 3), nil when
	// the worker runs none.
	job    *redis.SliceCmd
	jobKey string
}

// readQueuesAndWorkers runs round trip 2: size, head job id and registry
// counts of every selected queue; hash and remaining TTL of every worker.
func (sc *scrape) readQueuesAndWorkers(ctx context.Context, queues, workers []string) error {
	kept, dropped := sc.r.opts.Selection.Apply(queues)
	sc.snap.QueuesDropped = dropped
	// RQ's clean-up removes scores up to current_timestamp(), whole UTC
	// seconds.
	expiredMax := strconv.FormatInt(sc.now.Unix(), 10)

	pipe := sc.r.client.Pipeline()
	sc.queues = make([]queueRead, len(kept))
	for i, name := range kept {
		q := &sc.queues[i]
		q.raw, q.key = name, queuePrefix+name
		q.size = pipe.LLen(ctx, q.key)
		q.head = pipe.LIndex(ctx, q.key, 0)
		for j, reg := range registries {
			key := reg.prefix + name
			q.card[j] = pipe.ZCard(ctx, key)
			if reg.cleaned {
				q.expired[j] = pipe.ZCount(ctx, key, "0", expiredMax)
			}
		}
	}
	sc.workers = make([]workerRead, len(workers))
	for i, name := range workers {
		w := &sc.workers[i]
		w.name, w.key = name, workerPrefix+name
		w.hash = pipe.HMGet(ctx, w.key, workerFields...)
		w.ttl = pipe.PTTL(ctx, w.key)
	}
	if pipe.Len() == 0 {
		return nil
	}
	cmds, err := pipe.Exec(ctx)
	return redisread.Failure(system, "read queues and workers", sc.r.from, cmds, err)
}

// readJobs runs round trip 3, the job hashes round trip 2 pointed at, and
// builds the snapshot's queues, states, workers and totals.
func (sc *scrape) readJobs(ctx context.Context) error {
	pipe := sc.r.client.Pipeline()
	for i := range sc.queues {
		q := &sc.queues[i]
		if sc.problems.WrongType(q.size, q.key) {
			continue
		}
		if id := q.head.Val(); id != "" {
			q.headJobKey = jobPrefix + id
			// status, which RQ always writes, tells a missing hash from a
			// missing enqueued_at.
			q.headJob = pipe.HMGet(ctx, q.headJobKey, "enqueued_at", "status")
		}
	}
	for i := range sc.workers {
		w := &sc.workers[i]
		if sc.problems.WrongType(w.hash, w.key) {
			continue
		}
		if id, _ := w.hash.Val()[wCurrentJob].(string); id != "" {
			w.jobKey = jobPrefix + id
			w.job = pipe.HMGet(ctx, w.jobKey, "origin", "started_at")
		}
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read jobs", sc.r.from, cmds, err); err != nil {
			return err
		}
	}

	queues := make([]snapshot.Queue, 0, len(sc.queues))
	// Running jobs are attributed to the reported queues by their origin:
	// the raw name, not the bounded one reported.
	byName := make(map[string]int, len(sc.queues))
	for i := range sc.queues {
		q := &sc.queues[i]
		if q.size.Err() != nil { // WRONGTYPE, recorded above
			continue
		}
		byName[q.raw] = len(queues)
		queues = append(queues, sc.queue(q))
	}
	sc.snap.Queues = queues

	var totals snapshot.Totals
	for i := range sc.workers {
		w := &sc.workers[i]
		p, state := sc.worker(w)
		switch state {
		case workerGone:
			sc.snap.ProcessesStale++
			continue
		case workerUnreadable:
			continue
		case workerOverdue:
			// Probably dead: its current job is not counted as running,
			// but the executions it counted did happen.
			sc.snap.ProcessesStale++
		case workerLive:
			sc.snap.Processes = append(sc.snap.Processes, p.Process)
			sc.running(queues, byName, w)
		}
		totals.Processed += p.successful + p.failed
		totals.Failed += p.failed
	}
	// RQ keeps no global counter: a sum over no worker is 0.
	sc.snap.Totals = []snapshot.Totals{totals}
	return nil
}

// queue builds one queue's figures and appends its states to the snapshot.
func (sc *scrape) queue(q *queueRead) snapshot.Queue {
	out := snapshot.Queue{Name: sc.problems.Name(q.raw, queuesKey, "queue name"), Size: q.size.Val()}
	sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: StateQueued, Queue: out.Name, Count: out.Size})
	for j, reg := range registries {
		key := reg.prefix + q.raw
		if sc.problems.WrongType(q.card[j], key) {
			continue
		}
		n := q.card[j].Val()
		if reg.cleaned {
			n -= q.expired[j].Val()
		}
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: reg.state, Queue: out.Name, Count: n})
	}
	if q.headJob == nil {
		return out
	}
	if sc.problems.WrongType(q.headJob, q.headJobKey) {
		return out
	}
	vals := q.headJob.Val()
	raw, _ := vals[0].(string)
	switch {
	case vals[0] == nil && vals[1] == nil:
		// The list may hold ids whose hash expired or was deleted; RQ's
		// workers skip them. The job behind it is not looked for: that
		// would cost a round trip per dangling id.
		sc.problems.Add(kindMissingJob, q.key, "head job has no hash")
	case raw == "":
		sc.problems.Add(kindMissingTimestamp, q.headJobKey, "no enqueued_at")
	default:
		ts, ok := parseTime(raw)
		if !ok {
			sc.problems.Add(kindInvalidTimestamp, q.headJobKey, "enqueued_at is not an RQ UTC timestamp")
			break
		}
		out.Latency = snapshot.Age(sc.now, ts)
	}
	return out
}

// worker judgements.
const (
	workerLive = iota
	// workerOverdue: the hash exists but missed a heartbeat.
	workerOverdue
	// workerGone: registered, hash expired.
	workerGone
	// workerUnreadable: the key is not a hash (recorded).
	workerUnreadable
)

// process is a snapshot.Process with the worker's execution counts.
type process struct {
	snapshot.Process
	successful, failed int64
}

// worker builds one worker's process and judges whether it is live.
func (sc *scrape) worker(w *workerRead) (process, int) {
	if w.hash.Err() != nil { // WRONGTYPE, recorded in readJobs
		return process{}, workerUnreadable
	}
	ttl := w.ttl.Val()
	if ttl == -2 || w.ttl.Err() != nil { // PTTL -2: no such key
		return process{}, workerGone
	}
	vals := w.hash.Val()
	field := func(i int) string { s, _ := vals[i].(string); return s }
	p := process{Process: snapshot.Process{
		ID:          sc.problems.Name(w.name, workersKey, "worker name"),
		Hostname:    sc.problems.Name(field(wHostname), w.key, "hostname"),
		Concurrency: 1, // a worker runs one job at a time, in a forked work horse
	}}
	if raw := field(wPID); raw != "" {
		p.PID = sc.problems.Count(raw, w.key, "pid")
	}
	switch state := field(wState); state {
	case "busy":
		p.Busy = 1
	case "suspended":
		p.Quiet = true
	case "started", "idle", "":
	default:
		sc.problems.Add(kindInvalidValue, w.key, "state is none of RQ's worker states")
	}
	// A warm shutdown finishes the current job and takes no other.
	if field(wShutdownRequested) != "" {
		p.Quiet = true
	}
	if raw := field(wQueues); raw != "" {
		p.Queues = strings.Split(raw, ",")
		for i, q := range p.Queues {
			p.Queues[i] = sc.problems.Name(q, w.key, "queue name")
		}
	}
	if raw := field(wSuccessful); raw != "" {
		p.successful = sc.problems.Count(raw, w.key, "successful_job_count")
	}
	if raw := field(wFailed); raw != "" {
		p.failed = sc.problems.Count(raw, w.key, "failed_job_count")
	}
	switch raw := field(wLastHeartbeat); {
	case raw == "":
		sc.problems.Add(kindMissingTimestamp, w.key, "no last_heartbeat")
	default:
		beat, ok := parseTime(raw)
		if !ok {
			sc.problems.Add(kindInvalidTimestamp, w.key, "last_heartbeat is not an RQ UTC timestamp")
			break
		}
		p.HeartbeatAge = snapshot.Age(sc.now, beat)
	}
	// PTTL -1: no expiry, which no RQ worker leaves; its heartbeat age
	// still tells.
	if ttl >= 0 && ttl < overdueBelow {
		return p, workerOverdue
	}
	return p, workerLive
}

// running counts a worker's current job into the queue it came from.
func (sc *scrape) running(queues []snapshot.Queue, byName map[string]int, w *workerRead) {
	if w.job == nil || sc.problems.WrongType(w.job, w.jobKey) {
		return
	}
	vals := w.job.Val()
	origin, ok := vals[0].(string)
	if !ok {
		sc.problems.Add(kindMissingJob, w.key, "current job has no hash")
		return
	}
	i, ok := byName[origin]
	if !ok {
		return
	}
	q := &queues[i]
	q.Running++
	raw, _ := vals[1].(string)
	if raw == "" {
		sc.problems.Add(kindMissingTimestamp, w.jobKey, "no started_at")
		return
	}
	started, ok := parseTime(raw)
	if !ok {
		sc.problems.Add(kindInvalidTimestamp, w.jobKey, "started_at is not an RQ UTC timestamp")
		return
	}
	a := snapshot.Age(sc.now, started)
	q.RunningMaxAge = max(q.RunningMaxAge, a)
	if sc.r.opts.StalledAfter > 0 && a > sc.r.opts.StalledAfter {
		q.Stalled++
	}
}
