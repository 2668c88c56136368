// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// rqWorkerTTL is RQ's DEFAULT_WORKER_TTL: an idle worker beats every
	// rqWorkerTTL - 15 s (its BLPOP timeout) with a TTL of rqWorkerTTL + 60.
	rqWorkerTTL = 420 * time.Second
	// rqMonitorInterval is DEFAULT_JOB_MONITORING_INTERVAL: a busy worker
	// beats every 30 s with a TTL of 90 s, and so does its job's wip entry.
	rqMonitorInterval = 30 * time.Second
	rqBusyTTL         = rqMonitorInterval + 60*time.Second
	// rqResultTTL and rqFailureTTL are DEFAULT_RESULT_TTL and
	// DEFAULT_FAILURE_TTL: how long finished and failed jobs are kept.
	rqResultTTL  = 500 * time.Second
	rqFailureTTL = 365 * 24 * time.Hour
	// rqTimeout is a job's default timeout (DEFAULT_JOB_TIMEOUT), in s.
	rqTimeout = 180
)

// rqTime is rq.utils.utcformat's '%Y-%m-%dT%H:%M:%S.%fZ'.
func rqTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// RQ plays a Scenario as an RQ 1.13 deployment against one Redis database,
// writing the keys RQ writes, with the same commands: Queue.enqueue (the job
// hash, SADD rq:queues, RPUSH rq:queue:<q>), enqueue_in (the job hash with
// status scheduled, ZADD rq:scheduled:<q>), a worker's birth (its hash, SADD
// rq:workers and rq:workers:<q>, EXPIRE), the dequeue (LPOP in its queues'
// order), prepare_job_execution (current_job, heartbeat, the job's
// started_at, ZADD rq:wip:<q>), the job's success (status finished, ZADD
// rq:finished:<q>, the result stream, successful_job_count) or failure
// (Retry with intervals through rq:scheduled:<q>, else status failed and
// ZADD rq:failed:<q>, failed_job_count), heartbeats and register_death.
//
// Scenario notions map as follows: a Process is Concurrency `rq worker`
// processes on its host (RQ runs one job at a time per worker), named as RQ
// names them (a uuid4 hex); RQ's own timing is kept, not Heartbeat: an idle
// worker beats every 405 s, a busy one every 30 s; PollInterval is the
// scheduler's (a worker run with --with-scheduler) moving due scheduled
// jobs; quieting is a warm shutdown (SIGTERM: shutdown_requested_date, the
// running job finishes, then register_death); a crash (kill -9) leaves the
// worker registered, its hash expiring with its last TTL and its job's wip
// entry expiring too, until a live worker's clean_registries, which
// CleanupInterval stands for, moves that job to the failed registry. A
// class's Retry is RQ's Retry(max=n, interval=...) (RetryDefault: 3
// retries; RetryNever: none), retried 10 s, 30 s then 60 s later.
// ScheduledShare jobs are enqueued with enqueue_in.
//
// Report: Scheduled counts enqueue_in jobs, Requeued the scheduler's moves,
// Retried the failures scheduled again, Died the failures that reached the
// failed registry (the last attempt, or moved there by clean-up);
// StatProcessed and StatFailed what the workers' successful_job_count plus
// failed_job_count and failed_job_count gained.
//
// It is not safe for concurrent use.
type RQ struct {
	rdb     *redis.Client
	sc      Scenario
	rng     *rand.Rand
	classes map[string]*Class
	workers []*rqWorker
	// retries left per job id of the jobs in flight that have any.
	retries map[string]int

	start, last           time.Time
	nextPoll, nextCleanup time.Time
	abandoned             []rqAbandoned
}

// rqWorker is what one RQ worker process keeps in memory.
type rqWorker struct {
	spec      *Process
	name      string
	pid       int
	job       string // the running job's id, "" when idle
	queue     string
	class     *Class
	startedAt time.Time
	finishAt  time.Time // zero: never
	nextBeat  time.Time
	stopping  bool // warm shutdown requested
	waiting   bool // not started yet
	gone      bool // crashed or stopped
}

// rqAbandoned is a job whose worker crashed: its wip entry expires at
// expiry, after which clean-up moves it.
type rqAbandoned struct {
	id, queue string
	expiry    time.Time
}

// NewRQ prepares a simulator that writes to rdb. Nothing is written before
// the first Step.
func NewRQ(rdb *redis.Client, sc Scenario, seed uint64) (*RQ, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	r := &RQ{
		rdb:     rdb,
		sc:      sc,
		rng:     rand.New(rand.NewPCG(seed, seed^0x5151)),
		classes: make(map[string]*Class, len(sc.Classes)),
		retries: map[string]int{},
	}
	for i := range r.sc.Classes {
		r.classes[r.sc.Classes[i].Name] = &r.sc.Classes[i]
	}
	return r, nil
}

// rqRetryIntervals are the Retry intervals the simulated classes use.
var rqRetryIntervals = []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second}

func rqMaxRetries(c *Class) int {
	switch c.Retry {
	case RetryNever:
		return 0
	case RetryDefault:
		return 3
	}
	return int(c.Retry)
}

// uuid is a uuid4 as RQ's job ids (str) and worker names (hex) are.
func (r *RQ) uuid() string {
	h := randomHex(r.rng, 16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// newJob writes a job hash as Job.save does, with status and its time
// fields; it returns the id.
func (r *RQ) newJob(ctx context.Context, pipe redis.Pipeliner, c *Class, status string, now time.Time, fields ...any) string {
	id := r.uuid()
	all := append([]any{
		"status", status, "origin", c.Queue, "created_at", rqTime(now),
		"description", "app.jobs." + c.Name + "(" + strconv.Itoa(r.rng.IntN(1_000_000)) + ")",
		// zlib(pickle((func, instance, args, kwargs))) in RQ; opaque here.
		"data", "x\x9c" + randomHex(r.rng, 24),
		"timeout", rqTimeout, "result_ttl", int(rqResultTTL.Seconds()), "failure_ttl", int(rqFailureTTL.Seconds()),
	}, fields...)
	if n := rqMaxRetries(c); n > 0 {
		all = append(all, "retries_left", n, "retry_intervals", "[10, 30, 60]")
		r.retries[id] = n
	}
	pipe.HSet(ctx, "rq:job:"+id, all...)
	return id
}

// enqueueJob puts a job on its queue as Queue.enqueue_job does.
func enqueueRQJob(ctx context.Context, pipe redis.Pipeliner, id, queue string, at time.Time) {
	pipe.SAdd(ctx, "rq:queues", "rq:queue:"+queue)
	pipe.HSet(ctx, "rq:job:"+id, "status", "queued", "enqueued_at", rqTime(at))
	pipe.RPush(ctx, "rq:queue:"+queue, id)
}

// Step advances the simulation to now: workers are born, crash or shut
// down, running jobs finish, clients enqueue, idle workers dequeue, busy
// and idle workers beat when due, the scheduler moves due jobs and, every
// CleanupInterval, abandoned jobs are moved. The first Step also seeds the
// backlogs, the workers and the long jobs.
func (r *RQ) Step(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	if r.start.IsZero() {
		if err := r.begin(ctx, now, &rep); err != nil {
			return rep, err
		}
	}
	dt := min(max(now.Sub(r.last), 0), maxStep)
	r.last = now
	for _, stage := range []struct {
		name string
		run  func(context.Context, time.Time, time.Duration, *Report) error
	}{
		{"lifecycle", r.lifecycle},
		{"finish jobs", r.finish},
		{"enqueue", r.enqueue},
		{"schedule", r.schedule},
		{"dequeue", r.dequeue},
		{"heartbeat", r.heartbeat},
		{"clean registries", r.clean},
	} {
		if err := stage.run(ctx, now, dt, &rep); err != nil {
			return rep, fmt.Errorf("%s: %w", stage.name, err)
		}
	}
	return rep, nil
}

// Stop shuts the live workers down as a cold shutdown does: the running
// jobs' work horses are killed, leaving them started until clean-up (their
// wip entries expire), and each worker registers its death.
func (r *RQ) Stop(ctx context.Context, now time.Time) (Report, error) {
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.gone || w.waiting {
			continue
		}
		r.death(ctx, pipe, w, now)
	}
	if pipe.Len() == 0 {
		return Report{}, nil
	}
	_, err := pipe.Exec(ctx)
	return Report{}, err
}

// execRQ runs pipe when it holds commands.
func execRQ(ctx context.Context, pipe redis.Pipeliner) error {
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// begin seeds the backlogs and births the workers that exist at the start,
// with their long jobs running.
func (r *RQ) begin(ctx context.Context, now time.Time, rep *Report) error {
	r.start, r.last = now, now
	r.nextPoll, r.nextCleanup = now, now.Add(r.sc.CleanupInterval)
	pipe := r.rdb.Pipeline()
	for _, bl := range r.sc.Backlogs {
		c := r.classes[bl.Class]
		for i := range bl.Jobs {
			at := now.Add(-bl.Oldest + time.Duration(i)*bl.Oldest/time.Duration(bl.Jobs))
			enqueueRQJob(ctx, pipe, r.newJob(ctx, pipe, c, "queued", at), c.Queue, at)
		}
		rep.Enqueued += bl.Jobs
	}
	pid := 2000
	for i := range r.sc.Processes {
		spec := &r.sc.Processes[i]
		for slot := range spec.Concurrency {
			pid++
			w := &rqWorker{spec: spec, name: strings.ReplaceAll(r.uuid(), "-", ""), pid: pid, waiting: spec.StartAfter > 0}
			r.workers = append(r.workers, w)
			if w.waiting {
				continue
			}
			r.birth(ctx, pipe, w, now)
			if lj := spec.LongJob; lj != nil && slot == 0 {
				c := r.classes[lj.Class]
				startedAt := now.Add(-lj.RunningFor)
				id := r.newJob(ctx, pipe, c, "queued", startedAt.Add(-time.Second))
				enqueueRQJob(ctx, pipe, id, c.Queue, startedAt.Add(-time.Second))
				pipe.LRem(ctx, "rq:queue:"+c.Queue, 1, id)
				r.prepare(ctx, pipe, w, c, id, startedAt, now)
				w.finishAt = time.Time{}
				if lj.FinishAfter > 0 {
					w.finishAt = now.Add(lj.FinishAfter)
				}
				rep.Enqueued++
				rep.Fetched++
			}
		}
	}
	return execRQ(ctx, pipe)
}

// birth registers a worker as register_birth does; it goes idle at once.
func (r *RQ) birth(ctx context.Context, pipe redis.Pipeliner, w *rqWorker, now time.Time) {
	key := "rq:worker:" + w.name
	pipe.Del(ctx, key)
	pipe.HSet(ctx, key, "birth", rqTime(now), "last_heartbeat", rqTime(now), "queues", strings.Join(w.spec.Queues, ","),
		"pid", w.pid, "hostname", w.spec.Hostname, "ip_address", "10.0.0."+strconv.Itoa(1+w.pid%250),
		"version", "1.13.0", "python_version", "3.11.2 (main, Mar 13 2023, 12:18:29) [GCC 12.2.0]")
	pipe.SAdd(ctx, "rq:workers", key)
	for _, q := range w.spec.Queues {
		pipe.SAdd(ctx, "rq:workers:"+q, key)
	}
	pipe.Expire(ctx, key, rqWorkerTTL+60*time.Second)
	pipe.HSet(ctx, key, "state", "idle")
	w.nextBeat = now.Add(rqWorkerTTL - 15*time.Second)
}

// prepare starts a job as prepare_job_execution does: the worker's
// current_job and heartbeat, the job's started_at and wip entry.
func (r *RQ) prepare(ctx context.Context, pipe redis.Pipeliner, w *rqWorker, c *Class, id string, at, now time.Time) {
	key := "rq:worker:" + w.name
	pipe.HSet(ctx, key, "current_job", id, "current_job_working_time", 0, "last_heartbeat", rqTime(now))
	pipe.Expire(ctx, key, rqBusyTTL)
	pipe.HSet(ctx, "rq:job:"+id, "last_heartbeat", rqTime(now), "status", "started", "started_at", rqTime(at), "worker_name", w.name)
	pipe.ZAdd(ctx, "rq:wip:"+c.Queue, redis.Z{Score: float64(now.Add(rqBusyTTL).Unix()), Member: id})
	pipe.HSet(ctx, key, "state", "busy")
	w.job, w.queue, w.class, w.startedAt = id, c.Queue, c, at
	w.finishAt = at.Add(runTime(r.rng, c))
	w.nextBeat = now.Add(rqMonitorInterval)
}

// lifecycle births, crashes and shuts down workers whose time has come.
func (r *RQ) lifecycle(ctx context.Context, now time.Time, _ time.Duration, _ *Report) error {
	elapsed := now.Sub(r.start)
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.waiting && elapsed >= w.spec.StartAfter {
			w.waiting = false
			r.birth(ctx, pipe, w, now)
		}
		if w.gone || w.waiting {
			continue
		}
		if w.spec.CrashAfter > 0 && elapsed >= w.spec.CrashAfter {
			w.gone = true // its hash, registry entries and wip entry stay until they expire
			if w.job != "" {
				r.abandoned = append(r.abandoned, rqAbandoned{w.job, w.queue, w.nextBeat.Add(rqBusyTTL - rqMonitorInterval)})
			}
			continue
		}
		if w.spec.QuietAfter > 0 && elapsed >= w.spec.QuietAfter && !w.stopping {
			w.stopping = true
			pipe.HSet(ctx, "rq:worker:"+w.name, "shutdown_requested_date", rqTime(now))
			if w.job == "" {
				r.death(ctx, pipe, w, now)
			}
		}
	}
	return execRQ(ctx, pipe)
}

// death unregisters a worker as register_death does; a job still running
// (cold shutdown) is left started.
func (r *RQ) death(ctx context.Context, pipe redis.Pipeliner, w *rqWorker, now time.Time) {
	key := "rq:worker:" + w.name
	pipe.SRem(ctx, "rq:workers", key)
	for _, q := range w.spec.Queues {
		pipe.SRem(ctx, "rq:workers:"+q, key)
	}
	pipe.HSet(ctx, key, "death", rqTime(now))
	pipe.Expire(ctx, key, 60*time.Second)
	if w.job != "" {
		r.abandoned = append(r.abandoned, rqAbandoned{w.job, w.queue, w.nextBeat.Add(rqBusyTTL - rqMonitorInterval)})
	}
	w.gone = true
}

// finish ends the executions due by now, as handle_job_success and
// handle_job_failure do.
func (r *RQ) finish(ctx context.Context, now time.Time, _ time.Duration, rep *Report) error {
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.gone || w.waiting || w.job == "" || w.finishAt.IsZero() || w.finishAt.After(now) {
			continue
		}
		key, jobKey := "rq:worker:"+w.name, "rq:job:"+w.job
		pipe.ZRem(ctx, "rq:wip:"+w.queue, w.job)
		if w.class != nil && r.rng.Float64() < w.class.FailRate {
			e := w.class.Errors[r.rng.IntN(len(w.class.Errors))]
			r.fail(ctx, pipe, w.job, w.queue, now, e, rep)
			pipe.HIncrBy(ctx, key, "failed_job_count", 1)
			rep.Failed++
			rep.StatFailed++
		} else {
			pipe.HSet(ctx, jobKey, "status", "finished", "ended_at", rqTime(now))
			pipe.Expire(ctx, jobKey, rqResultTTL)
			pipe.ZAdd(ctx, "rq:finished:"+w.queue, redis.Z{Score: float64(now.Add(rqResultTTL).Unix()), Member: w.job})
			pipe.XAdd(ctx, &redis.XAddArgs{Stream: "rq:results:" + w.job, MaxLen: 10, Approx: true,
				Values: []any{"type", 1, "created_at", rqTime(now), "return_value", "\x80\x04N."}})
			pipe.Expire(ctx, "rq:results:"+w.job, rqResultTTL)
			pipe.HIncrBy(ctx, key, "successful_job_count", 1)
			delete(r.retries, w.job)
			rep.Succeeded++
		}
		rep.StatProcessed++
		pipe.HIncrByFloat(ctx, key, "total_working_time", now.Sub(w.startedAt).Seconds())
		pipe.HDel(ctx, key, "current_job")
		if w.stopping {
			w.job, w.class = "", nil
			r.death(ctx, pipe, w, now)
			continue
		}
		pipe.HSet(ctx, key, "state", "idle", "last_heartbeat", rqTime(now))
		pipe.Expire(ctx, key, rqWorkerTTL+60*time.Second)
		w.job, w.class = "", nil
		w.nextBeat = now.Add(rqWorkerTTL - 15*time.Second)
	}
	return execRQ(ctx, pipe)
}

// fail records a failed execution: with retries left it is scheduled again
// (Job.retry with an interval), else it goes to the failed registry.
func (r *RQ) fail(ctx context.Context, pipe redis.Pipeliner, id, queue string, now time.Time, e Error, rep *Report) {
	jobKey := "rq:job:" + id
	pipe.XAdd(ctx, &redis.XAddArgs{Stream: "rq:results:" + id, MaxLen: 10, Approx: true,
		Values: []any{"type", 2, "created_at", rqTime(now), "exc_string", "x\x9c" + e.Class + ": " + e.Message}})
	if left := r.retries[id]; left > 0 {
		r.retries[id] = left - 1
		interval := rqRetryIntervals[min(len(rqRetryIntervals)-1, len(rqRetryIntervals)-left)]
		pipe.HSet(ctx, jobKey, "retries_left", left-1, "status", "scheduled", "ended_at", rqTime(now))
		pipe.ZAdd(ctx, "rq:scheduled:"+queue, redis.Z{Score: float64(now.Add(interval).Unix()), Member: id})
		rep.Retried++
		return
	}
	delete(r.retries, id)
	pipe.HSet(ctx, jobKey, "status", "failed", "ended_at", rqTime(now))
	pipe.Expire(ctx, jobKey, rqFailureTTL)
	pipe.ZAdd(ctx, "rq:failed:"+queue, redis.Z{Score: float64(now.Add(rqFailureTTL).Unix()), Member: id})
	rep.Died++
}

// enqueue writes the jobs clients enqueued over the last dt: at once, or
// with enqueue_in.
func (r *RQ) enqueue(ctx context.Context, now time.Time, dt time.Duration, rep *Report) error {
	elapsed := now.Sub(r.start).Seconds()
	pipe := r.rdb.Pipeline()
	for i := range r.sc.Classes {
		c := &r.sc.Classes[i]
		for range poisson(r.rng, c.rateAt(elapsed)*dt.Seconds()) {
			if c.ScheduledShare > 0 && r.rng.Float64() < c.ScheduledShare {
				at := now.Add(c.ScheduleMin + time.Duration(r.rng.Int64N(int64(c.ScheduleMax-c.ScheduleMin)+1)))
				id := r.newJob(ctx, pipe, c, "scheduled", now)
				pipe.SAdd(ctx, "rq:queues", "rq:queue:"+c.Queue)
				pipe.ZAdd(ctx, "rq:scheduled:"+c.Queue, redis.Z{Score: float64(at.Unix()), Member: id})
				rep.Scheduled++
				continue
			}
			enqueueRQJob(ctx, pipe, r.newJob(ctx, pipe, c, "queued", now), c.Queue, now)
			rep.Enqueued++
		}
	}
	return execRQ(ctx, pipe)
}

// schedule runs the scheduler every PollInterval: due jobs of every queue
// leave rq:scheduled:<q> for their queue (enqueue_scheduled_jobs).
func (r *RQ) schedule(ctx context.Context, now time.Time, _ time.Duration, rep *Report) error {
	if now.Before(r.nextPoll) {
		return nil
	}
	r.nextPoll = now.Add(r.sc.PollInterval)
	pipe := r.rdb.Pipeline()
	for _, c := range r.sc.Classes {
		key := "rq:scheduled:" + c.Queue
		due, err := r.rdb.ZRangeByScore(ctx, key, &redis.ZRangeBy{Min: "0", Max: strconv.FormatInt(now.Unix(), 10)}).Result()
		if err != nil {
			return err
		}
		for _, id := range due {
			enqueueRQJob(ctx, pipe, id, c.Queue, now)
			pipe.ZRem(ctx, key, id)
			rep.Requeued++
		}
		if err := execRQ(ctx, pipe); err != nil {
			return err
		}
	}
	return nil
}

// dequeue has every idle, live worker not shutting down LPOP its queues in
// order and start the job it got. Workers poll on their own clocks, so they
// take their turns in a random order.
func (r *RQ) dequeue(ctx context.Context, now time.Time, _ time.Duration, rep *Report) error {
	empty := map[string]bool{}
	pipe := r.rdb.Pipeline()
	for _, i := range r.rng.Perm(len(r.workers)) {
		w := r.workers[i]
		if w.gone || w.waiting || w.stopping || w.job != "" {
			continue
		}
		for _, q := range w.spec.Queues {
			if empty[q] {
				continue
			}
			id, err := r.rdb.LPop(ctx, "rq:queue:"+q).Result()
			if errors.Is(err, redis.Nil) {
				empty[q] = true
				continue
			}
			if err != nil {
				return err
			}
			r.prepare(ctx, pipe, w, r.classOf(ctx, id, q), id, now, now)
			rep.Fetched++
			break
		}
	}
	return execRQ(ctx, pipe)
}

// classOf finds the scenario class of a job from its description, as the
// simulator wrote it; a queue's first class when it cannot.
func (r *RQ) classOf(ctx context.Context, id, queue string) *Class {
	desc := r.rdb.HGet(ctx, "rq:job:"+id, "description").Val()
	name, _, _ := strings.Cut(strings.TrimPrefix(desc, "app.jobs."), "(")
	if c, ok := r.classes[name]; ok {
		return c
	}
	for i := range r.sc.Classes {
		if r.sc.Classes[i].Queue == queue {
			return &r.sc.Classes[i]
		}
	}
	return nil
}

// heartbeat writes the beats that are due: a busy worker's every 30 s (its
// hash, its job's last_heartbeat and wip score), an idle one's when its
// BLPOP times out.
func (r *RQ) heartbeat(ctx context.Context, now time.Time, _ time.Duration, _ *Report) error {
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.gone || w.waiting || now.Before(w.nextBeat) {
			continue
		}
		key := "rq:worker:" + w.name
		pipe.HSet(ctx, key, "last_heartbeat", rqTime(now))
		if w.job == "" {
			pipe.Expire(ctx, key, rqWorkerTTL+60*time.Second)
			w.nextBeat = now.Add(rqWorkerTTL - 15*time.Second)
			continue
		}
		pipe.Expire(ctx, key, rqBusyTTL)
		pipe.HSet(ctx, "rq:job:"+w.job, "last_heartbeat", rqTime(now))
		pipe.ZAddXX(ctx, "rq:wip:"+w.queue, redis.Z{Score: float64(now.Add(rqBusyTTL).Unix()), Member: w.job})
		w.nextBeat = now.Add(rqMonitorInterval)
	}
	return execRQ(ctx, pipe)
}

// clean runs clean_registries every CleanupInterval, as a live worker does
// every 10 minutes: expired finished entries go, and the started jobs of
// crashed workers move to the failed registry, or back onto their queue
// when retries are left.
func (r *RQ) clean(ctx context.Context, now time.Time, _ time.Duration, rep *Report) error {
	if r.sc.CleanupInterval <= 0 || now.Before(r.nextCleanup) {
		return nil
	}
	r.nextCleanup = now.Add(r.sc.CleanupInterval)
	pipe := r.rdb.Pipeline()
	maxScore := strconv.FormatInt(now.Unix(), 10)
	kept := r.abandoned[:0]
	for _, a := range r.abandoned {
		if a.expiry.After(now) {
			kept = append(kept, a)
			continue
		}
		if r.retries[a.id] > 0 {
			r.retries[a.id]--
			pipe.HSet(ctx, "rq:job:"+a.id, "retries_left", r.retries[a.id])
			enqueueRQJob(ctx, pipe, a.id, a.queue, now)
			rep.Requeued++
		} else {
			delete(r.retries, a.id)
			pipe.HSet(ctx, "rq:job:"+a.id, "status", "failed", "exc_info", "x\x9cMoved to FailedJobRegistry at "+now.UTC().Format(time.DateTime))
			pipe.Persist(ctx, "rq:job:"+a.id)
			pipe.ZAdd(ctx, "rq:failed:"+a.queue, redis.Z{Score: float64(now.Add(rqFailureTTL).Unix()), Member: a.id})
			rep.Died++
		}
		pipe.ZRem(ctx, "rq:wip:"+a.queue, a.id)
	}
	r.abandoned = kept
	for _, q := range r.queues() {
		pipe.ZRemRangeByScore(ctx, "rq:finished:"+q, "0", maxScore)
		pipe.ZRemRangeByScore(ctx, "rq:failed:"+q, "0", maxScore)
	}
	return execRQ(ctx, pipe)
}

// queues are the scenario's queue names, each once.
func (r *RQ) queues() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range r.sc.Classes {
		if !seen[c.Queue] {
			seen[c.Queue] = true
			out = append(out, c.Queue)
		}
	}
	return out
}
