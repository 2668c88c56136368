// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package resque reads a Resque installation's state from its Redis: queues,
// failed jobs, totals, workers and the jobs they are working on. It
// understands the layout of Resque 2.x and 3.x (Ruby) and of node-resque 9.x,
// which writes the same keys with a few differences (see below), and never
// writes itself.
//
// Every key is under the redis-namespace prefix, "resque" unless the
// installation set another (Resque.redis.namespace, node-resque's
// connection.namespace).
//
// A snapshot costs two pipelined round trips whatever the number of queues
// and workers: the registries, the failed list and the totals first, then
// every selected queue, every failed queue and every registered worker. These
// are the only commands sent, all of them read-only (an ACL user needs
// nothing beyond them):
//
//	SCARD, SRANDMEMBER  queues, workers, failed_queues (bounded registry reads)
//	LLEN                failed, <queue>_failed, queue:<name>
//	GET                 stat:processed, stat:failed, pause-all-workers
//	MGET                worker:<id> (running jobs), worker:ping:<name> (node-resque heartbeats)
//	HMGET               workers:heartbeat (Ruby heartbeats)
//
// A Resque job payload is {"class","args"} and nothing else: no enqueue time
// exists, so no queue latency can be read from Redis and queues carry
// LatencyUnknown. Resque cannot pause a queue either (PausedKnown is false);
// `pause-all-workers` (Resque 2.x+) pauses every worker, reported as quiet.
//
// Figures, each as Resque (Resque.info, Worker.all, Worker.working,
// Failure.count) and node-resque (Queue#length, #failedCount, #stats,
// #workers, #allWorkingOn) compute it:
//   - a queue's size is LLEN queue:<name>;
//   - failed jobs (global) are LLEN failed plus, for the multi-queue failure
//     backend (Resque::Failure::RedisMultiQueue), the LLEN of every list named
//     in failed_queues;
//   - working (global) counts the registered workers whose worker:<id> holds
//     a job, as Resque.working does; each such job is running in the queue it
//     names, for as long as its run_at says (Ruby writes ISO 8601 UTC,
//     node-resque JavaScript's Date#toString);
//   - a worker's heartbeat is its field of workers:heartbeat (Ruby, ISO 8601
//     from Redis TIME, every 60 s) or worker:ping:<name> (node-resque, JSON
//     with epoch seconds, every `timeout`), the newer when both exist. A
//     registered worker whose heartbeat is older than StaleAfter is stale:
//     Resque prunes it when the next worker starts. It is counted in
//     ProcessesStale, not as a process, but a job it holds still counts as
//     working (Resque lists it so until it is pruned) and, once old enough,
//     as stalled;
//   - a worker runs one job at a time: its capacity is 1, busy 0 or 1;
//   - processed and failed totals are stat:processed and stat:failed (Ruby
//     counts a failed execution in both, node-resque only in stat:failed).
//     The per-worker counters (stat:processed:<worker>) are not read: both
//     libraries delete them when a worker unregisters, so they add up to less.
//
// The worker id is host:pid:queues (Ruby, node-resque's default names); a
// node-resque worker named otherwise is id name:queues, and a MultiWorker's
// pid is pid+n. The host is the id's first part when it has three or more,
// the pid its second when that is a number (a "+n" suffix ignored).
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one of
// wrong_type, invalid_json, missing_queue, missing_timestamp,
// invalid_timestamp, invalid_number, registry_truncated, name_too_long,
// invalid_utf8, too_many_problems. A key of the wrong type read by MGET reads
// as absent, as it does for Resque. Every name reported goes through
// snapshot.Name.
package resque // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/resque"

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// DefaultNamespace is the key prefix both Resque and node-resque use unless
// told otherwise.
const DefaultNamespace = "resque"

// DefaultStaleAfter is Resque's prune interval (Resque.prune_interval, five
// heartbeat intervals).
const DefaultStaleAfter = 5 * time.Minute

// StateWorking is the jobqueue.job.state of jobs being worked on (Resque's
// own word, Resque.info[:working]).
const StateWorking = "working"

// Options says what to read and how to judge it.
type Options struct {
	// Namespace is the redis-namespace prefix; "" means DefaultNamespace.
	Namespace string
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the age beyond which a running job counts as
	// stalled; 0 counts none.
	StalledAfter time.Duration
	// StaleAfter is the heartbeat age beyond which a worker is stale; 0
	// means DefaultStaleAfter.
	StaleAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

const (
	system = "resque"

	// Registries are read whole up to these sizes, so a registry flooded
	// with garbage cannot exhaust memory; beyond them a random subset is
	// read and registry_truncated says so.
	maxQueueNames = 100_000
	maxWorkers    = 10_000
)

// Problem kinds of this package (redisread has the shared ones).
const (
	kindInvalidJSON      = "invalid_json"
	kindMissingQueue     = "missing_queue"
	kindMissingTimestamp = "missing_timestamp"
	kindInvalidTimestamp = "invalid_timestamp"
)

// Reader takes snapshots of one Resque Redis.
type Reader struct {
	client redis.Cmdable
	opts   Options
	// from names the server in errors (" from host:port").
	from string
	keys keys
}

var _ snapshot.Reader = (*Reader)(nil)

// keys are the global keys, namespace included.
type keys struct {
	prefix                                           string
	queues, workers, failed, failedQueues, heartbeat string
	processed, failedTotal, pauseAll                 string
}

// NewReader returns a reader that sends its commands through client.
func NewReader(client redis.Cmdable, opts Options) *Reader {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.StaleAfter <= 0 {
		opts.StaleAfter = DefaultStaleAfter
	}
	p := opts.Namespace + ":"
	return &Reader{
		client: client,
		opts:   opts,
		from:   redisread.From(client),
		keys: keys{
			prefix:       p,
			queues:       p + "queues",
			workers:      p + "workers",
			failed:       p + "failed",
			failedQueues: p + "failed_queues",
			heartbeat:    p + "workers:heartbeat",
			processed:    p + "stat:processed",
			failedTotal:  p + "stat:failed",
			pauseAll:     p + "pause-all-workers",
		},
	}
}

// Snapshot reads Resque's state. It fails only when Redis cannot be read
// (unreachable, timeout, a refused command); bad data is skipped and listed
// in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now)}
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, DeadState: snapshot.StateFailed}
	reg, err := sc.readRegistries(ctx)
	if err != nil {
		return nil, err
	}
	if err := sc.readQueuesAndWorkers(ctx, reg); err != nil {
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
	queues, workers, failedQueues []string
	failed                        int64 // LLEN failed
	failedKnown                   bool
	paused                        bool // pause-all-workers
}

// readRegistries runs round trip 1: the queue, worker and failed-queue
// registries, the failed list, the totals and the pause switch.
func (sc *scrape) readRegistries(ctx context.Context) (registries, error) {
	k := &sc.r.keys
	pipe := sc.r.client.Pipeline()
	queueCount := pipe.SCard(ctx, k.queues)
	queues := pipe.SRandMemberN(ctx, k.queues, maxQueueNames)
	workerCount := pipe.SCard(ctx, k.workers)
	workers := pipe.SRandMemberN(ctx, k.workers, maxWorkers)
	failedQueueCount := pipe.SCard(ctx, k.failedQueues)
	failedQueues := pipe.SRandMemberN(ctx, k.failedQueues, maxQueueNames)
	failed := pipe.LLen(ctx, k.failed)
	processed := pipe.Get(ctx, k.processed)
	failedTotal := pipe.Get(ctx, k.failedTotal)
	pauseAll := pipe.Get(ctx, k.pauseAll)
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read registries", sc.r.from, cmds, err); err != nil {
		return registries{}, err
	}

	var reg registries
	sc.snap.QueuesDiscovered = int(queueCount.Val())
	reg.queues = sc.problems.Members(queues, queueCount, k.queues)
	reg.workers = sc.problems.Members(workers, workerCount, k.workers)
	sort.Strings(reg.workers)
	reg.failedQueues = sc.problems.Members(failedQueues, failedQueueCount, k.failedQueues)
	if !sc.problems.WrongType(failed, k.failed) {
		reg.failed, reg.failedKnown = failed.Val(), true
	}
	p, okP := sc.problems.Counter(processed, k.processed)
	f, okF := sc.problems.Counter(failedTotal, k.failedTotal)
	if okP && okF {
		sc.snap.Totals = []snapshot.Totals{{Processed: p, Failed: f}}
	}
	if !sc.problems.WrongType(pauseAll, k.pauseAll) {
		// Resque's Worker#paused?: the value, stripped and downcased, is "true".
		reg.paused = strings.EqualFold(strings.TrimSpace(pauseAll.Val()), "true")
	}
	return reg, nil
}

// workerKeys are one registered worker's id and keys.
type workerKeys struct {
	id, jobKey, pingKey string
}

// readQueuesAndWorkers runs round trip 2: the size of every selected queue
// and failed queue, the job, heartbeat and ping of every registered worker.
func (sc *scrape) readQueuesAndWorkers(ctx context.Context, reg registries) error {
	k := &sc.r.keys
	kept, dropped := sc.r.opts.Selection.Apply(reg.queues)
	sc.snap.QueuesDropped = dropped

	pipe := sc.r.client.Pipeline()
	sizes := make([]*redis.IntCmd, len(kept))
	queueKeys := make([]string, len(kept))
	for i, q := range kept {
		queueKeys[i] = k.prefix + "queue:" + q
		sizes[i] = pipe.LLen(ctx, queueKeys[i])
	}
	failedSizes := make([]*redis.IntCmd, 0, len(reg.failedQueues))
	for _, fq := range reg.failedQueues {
		if fq == "failed" { // counted already
			continue
		}
		failedSizes = append(failedSizes, pipe.LLen(ctx, k.prefix+fq))
	}
	ws := make([]workerKeys, len(reg.workers))
	var jobs, beats, pings *redis.SliceCmd
	if len(reg.workers) > 0 {
		jobKeys := make([]string, len(reg.workers))
		pingKeys := make([]string, len(reg.workers))
		for i, id := range reg.workers {
			ws[i] = workerKeys{id: id, jobKey: k.prefix + "worker:" + id, pingKey: k.prefix + "worker:ping:" + parseID(id).name}
			jobKeys[i], pingKeys[i] = ws[i].jobKey, ws[i].pingKey
		}
		jobs = pipe.MGet(ctx, jobKeys...)
		beats = pipe.HMGet(ctx, k.heartbeat, reg.workers...)
		pings = pipe.MGet(ctx, pingKeys...)
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read queues and workers", sc.r.from, cmds, err); err != nil {
			return err
		}
	}

	queues := make([]snapshot.Queue, 0, len(kept))
	byName := make(map[string]*snapshot.Queue, len(kept))
	for i, raw := range kept {
		if sc.problems.WrongType(sizes[i], queueKeys[i]) {
			continue
		}
		queues = append(queues, snapshot.Queue{
			Name:           sc.problems.Name(raw, k.queues, "queue name"),
			Size:           sizes[i].Val(),
			LatencyUnknown: true,
		})
		byName[raw] = &queues[len(queues)-1] // within capacity: earlier pointers stay valid
	}
	sc.snap.Queues = queues

	if reg.failedKnown {
		failed := reg.failed
		for _, c := range failedSizes {
			if !sc.problems.WrongType(c, c.Args()[1].(string)) {
				failed += c.Val()
			}
		}
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: snapshot.StateFailed, Count: failed})
	}

	sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: StateWorking, Count: sc.workers(ws, jobs, beats, pings, byName, reg.paused)})
	return nil
}

// workers builds the processes from the registered workers and attributes
// their jobs to the queues; it returns how many workers are working.
func (sc *scrape) workers(ws []workerKeys, jobs, beats, pings *redis.SliceCmd, byName map[string]*snapshot.Queue, paused bool) int64 {
	if len(ws) == 0 {
		return 0
	}
	k := &sc.r.keys
	beatsOK := !sc.problems.WrongType(beats, k.heartbeat)
	processes := make([]snapshot.Process, 0, len(ws))
	var working int64
	for i := range ws {
		w := &ws[i]
		job, _ := jobs.Val()[i].(string)
		busy := job != ""
		if busy {
			working++
			sc.job(job, w.jobKey, byName)
		}

		beat := sc.heartbeat(w, beatsOK, beats.Val()[i], pings.Val()[i])
		var age time.Duration
		if beat.IsZero() {
			// Resque before 1.26 never heartbeats (and never prunes by
			// heartbeat): the worker counts as live.
			sc.problems.Add(kindMissingTimestamp, w.jobKey, "no heartbeat in workers:heartbeat nor worker:ping")
		} else if age = snapshot.Age(sc.now, beat); age > sc.r.opts.StaleAfter {
			sc.snap.ProcessesStale++
			continue
		}

		id := parseID(w.id)
		p := snapshot.Process{
			ID:           sc.problems.Name(w.id, k.workers, "worker id"),
			Hostname:     sc.problems.Name(id.host, k.workers, "worker host"),
			PID:          id.pid,
			Concurrency:  1,
			HeartbeatAge: age,
			Quiet:        paused,
		}
		if busy {
			p.Busy = 1
		}
		for _, q := range id.queues {
			p.Queues = append(p.Queues, sc.problems.Name(q, k.workers, "worker queue name"))
		}
		processes = append(processes, p)
	}
	sc.snap.Processes = processes
	return working
}

// heartbeat is the newer of a worker's Ruby heartbeat (its field of
// workers:heartbeat; beatsOK is false when that key is not a hash) and its
// node-resque ping; zero when it has neither.
func (sc *scrape) heartbeat(w *workerKeys, beatsOK bool, rawBeat, rawPing any) time.Time {
	var beat time.Time
	if raw, ok := rawBeat.(string); ok && beatsOK {
		if t, ok := parseTime(raw); ok {
			beat = t
		} else {
			sc.problems.Add(kindInvalidTimestamp, sc.r.keys.heartbeat, "heartbeat of a worker is not an ISO 8601 time")
		}
	}
	if raw, ok := rawPing.(string); ok {
		t, problem := parsePing(raw)
		if problem != "" {
			sc.problems.Add(problem, w.pingKey, "not the ping node-resque writes")
		} else if t.After(beat) {
			beat = t
		}
	}
	return beat
}

// job counts one running job into the queue it names.
func (sc *scrape) job(raw, key string, byName map[string]*snapshot.Queue) {
	queue, runAt, problem := parseWorking(raw)
	if problem != "" {
		sc.problems.Add(problem, key, "running job")
	}
	q := byName[queue]
	if q == nil {
		return
	}
	q.Running++
	if runAt.IsZero() {
		return
	}
	a := snapshot.Age(sc.now, runAt)
	q.RunningMaxAge = max(q.RunningMaxAge, a)
	if sc.r.opts.StalledAfter > 0 && a > sc.r.opts.StalledAfter {
		q.Stalled++
	}
}
