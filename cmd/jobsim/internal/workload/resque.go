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
	// resqueNamespace is Resque's default redis-namespace.
	resqueNamespace = "resque"
	// resquePruneInterval is Resque.prune_interval's default: a worker
	// whose heartbeat is older is pruned by prune_dead_workers.
	resquePruneInterval = 5 * time.Minute
	// resqueFailedAt is Failure::Redis#save's failed_at layout.
	resqueFailedAt = "2006/01/02 15:04:05 MST"
	// resqueISO8601 is Ruby's Time#iso8601 (seconds, numeric offset).
	resqueISO8601 = "2006-01-02T15:04:05-07:00"
)

// Resque plays a Scenario as a Resque 3.0 deployment against one Redis
// database, writing the keys Resque writes, with the same commands:
// Resque.enqueue (SADD queues, RPUSH queue:<q>), a worker's start
// (heartbeat!: HSET workers:heartbeat; prune_dead_workers; register_worker:
// SADD workers, SET worker:<id>:started), reserve (LPOP queue:<q>, in its
// queues' order), working_on (SET worker:<id>), a failure (Failure::Redis:
// RPUSH failed; INCR stat:failed and stat:failed:<id>), done_working (DEL
// worker:<id>; INCR stat:processed and stat:processed:<id>), heartbeats and
// unregister_worker.
//
// Scenario notions map as follows: a Process is a pool of Concurrency
// single-job worker processes on its host (as resque-pool runs them), each
// with an id host:pid:queues; Heartbeat is Resque.heartbeat_interval (60 s
// by default; the demo's 5 s); quieting is USR2 (the worker takes no new
// job; nothing in Redis says so); a crash (kill -9) leaves the worker
// registered with its job until prune_dead_workers, which a worker runs when
// it starts and which CleanupInterval stands for (a pool restarting a
// worker), removes it once its heartbeat is older than 5 minutes, its job
// recorded as failed (PruneDeadWorkerDirtyExit). Resque has no retries and
// no scheduled jobs of its own (plugins add them): Retry is ignored and
// ScheduledShare jobs are enqueued at once. Resque payloads carry no time,
// so backlogs are simply waiting jobs.
//
// Report: Failed counts failing executions, Died the jobs of pruned or
// stopped workers recorded as failed; StatProcessed and StatFailed what
// stat:processed and stat:failed gained (Resque counts at once).
//
// It is not safe for concurrent use.
type Resque struct {
	rdb     *redis.Client
	sc      Scenario
	rng     *rand.Rand
	classes map[string]*Class
	workers []*resqueWorker

	start, last time.Time
	nextCleanup time.Time
}

// resqueWorker is what one Resque worker process keeps in memory.
type resqueWorker struct {
	spec     *Process
	id       string
	job      string // the running job's payload, "" when idle
	queue    string
	class    *Class
	runAt    time.Time
	finishAt time.Time // zero: never
	nextBeat time.Time
	lastBeat time.Time
	paused   bool
	waiting  bool // not started yet
	gone     bool // crashed or stopped
}

// NewResque prepares a simulator that writes to rdb under Resque's default
// namespace. Nothing is written before the first Step.
func NewResque(rdb *redis.Client, sc Scenario, seed uint64) (*Resque, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	r := &Resque{
		rdb:     rdb,
		sc:      sc,
		rng:     rand.New(rand.NewPCG(seed, seed^0x7e5c)),
		classes: make(map[string]*Class, len(sc.Classes)),
	}
	for i := range r.sc.Classes {
		r.classes[r.sc.Classes[i].Name] = &r.sc.Classes[i]
	}
	return r, nil
}

func resqueKey(k string) string { return resqueNamespace + ":" + k }

// payload is a job as Resque::Job.create encodes it.
func (r *Resque) payload(c *Class) string {
	return `{"class":"` + c.Name + `","args":[{"account":"acct_` + randomHex(r.rng, 4) + `","n":` + strconv.Itoa(r.rng.IntN(1_000_000)) + `}]}`
}

// Step advances the simulation to now: workers start, crash or pause,
// running jobs finish, clients enqueue, idle workers reserve jobs, workers
// heartbeat when due and, every CleanupInterval, dead workers are pruned.
// The first Step also seeds the backlogs, the workers and the long jobs.
func (r *Resque) Step(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	if r.start.IsZero() {
		if err := r.begin(ctx, now, &rep); err != nil {
			return rep, err
		}
	}
	dt := min(max(now.Sub(r.last), 0), maxStep)
	r.last = now
	if err := r.lifecycle(ctx, now, &rep); err != nil {
		return rep, fmt.Errorf("start workers: %w", err)
	}
	if err := r.finish(ctx, now, &rep); err != nil {
		return rep, fmt.Errorf("finish jobs: %w", err)
	}
	if err := r.enqueue(ctx, now, dt, &rep); err != nil {
		return rep, fmt.Errorf("enqueue: %w", err)
	}
	if err := r.reserve(ctx, now, &rep); err != nil {
		return rep, fmt.Errorf("reserve: %w", err)
	}
	if err := r.heartbeat(ctx, now); err != nil {
		return rep, fmt.Errorf("heartbeat: %w", err)
	}
	if r.sc.CleanupInterval > 0 && !now.Before(r.nextCleanup) {
		r.nextCleanup = now.Add(r.sc.CleanupInterval)
		if err := r.prune(ctx, now, &rep); err != nil {
			return rep, fmt.Errorf("prune dead workers: %w", err)
		}
	}
	return rep, nil
}

// Stop shuts the live workers down as unregister_worker does: a job still
// running is recorded as failed (DirtyExit), the worker leaves the registry.
func (r *Resque) Stop(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.gone || w.waiting {
			continue
		}
		r.unregister(ctx, pipe, w, now, "Resque::DirtyExit", "Job still being processed", &rep)
		w.gone = true
	}
	if pipe.Len() == 0 {
		return rep, nil
	}
	_, err := pipe.Exec(ctx)
	return rep, err
}

// begin seeds the backlogs, creates the workers (those not starting later
// are registered, with their long jobs running).
func (r *Resque) begin(ctx context.Context, now time.Time, rep *Report) error {
	r.start, r.last, r.nextCleanup = now, now, now.Add(r.sc.CleanupInterval)
	pipe := r.rdb.Pipeline()
	for _, bl := range r.sc.Backlogs {
		c := r.classes[bl.Class]
		pipe.SAdd(ctx, resqueKey("queues"), c.Queue)
		for range bl.Jobs {
			pipe.RPush(ctx, resqueKey("queue:"+c.Queue), r.payload(c))
		}
		rep.Enqueued += bl.Jobs
	}
	pid := 1000
	for i := range r.sc.Processes {
		spec := &r.sc.Processes[i]
		for slot := range spec.Concurrency {
			pid++
			w := &resqueWorker{
				spec:    spec,
				id:      spec.Hostname + ":" + strconv.Itoa(pid) + ":" + strings.Join(spec.Queues, ","),
				waiting: spec.StartAfter > 0,
			}
			r.workers = append(r.workers, w)
			if w.waiting {
				continue
			}
			r.register(ctx, pipe, w, now)
			if lj := spec.LongJob; lj != nil && slot == 0 {
				c := r.classes[lj.Class]
				pipe.SAdd(ctx, resqueKey("queues"), c.Queue)
				r.workOn(ctx, pipe, w, c, c.Queue, r.payload(c), now.Add(-lj.RunningFor))
				w.finishAt = time.Time{}
				if lj.FinishAfter > 0 {
					w.finishAt = now.Add(lj.FinishAfter)
				}
				rep.Enqueued++
				rep.Fetched++
			}
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// register starts a worker as Worker#startup does: a first heartbeat, then
// the registry entry and start time.
func (r *Resque) register(ctx context.Context, pipe redis.Pipeliner, w *resqueWorker, now time.Time) {
	pipe.HSet(ctx, resqueKey("workers:heartbeat"), w.id, now.UTC().Format(resqueISO8601))
	pipe.SAdd(ctx, resqueKey("workers"), w.id)
	pipe.Set(ctx, resqueKey("worker:"+w.id+":started"), now.UTC().Format("2006-01-02 15:04:05 -0700"), 0)
	w.lastBeat, w.nextBeat = now, now.Add(r.sc.Heartbeat)
}

// workOn records the worker's job as Worker#working_on does.
func (r *Resque) workOn(ctx context.Context, pipe redis.Pipeliner, w *resqueWorker, c *Class, queue, payload string, at time.Time) {
	w.job, w.queue, w.class, w.runAt = payload, queue, c, at
	w.finishAt = at.Add(runTime(r.rng, c))
	pipe.Set(ctx, resqueKey("worker:"+w.id), `{"queue":"`+queue+`","run_at":"`+at.UTC().Format(time.RFC3339)+`","payload":`+payload+`}`, 0)
}

// lifecycle starts, crashes and pauses workers whose time has come; a
// starting worker prunes dead workers first, as Worker#startup does.
func (r *Resque) lifecycle(ctx context.Context, now time.Time, rep *Report) error {
	elapsed := now.Sub(r.start)
	pipe := r.rdb.Pipeline()
	started := false
	for _, w := range r.workers {
		if w.waiting && elapsed >= w.spec.StartAfter {
			w.waiting = false
			r.register(ctx, pipe, w, now)
			started = true
		}
		if w.gone || w.waiting {
			continue
		}
		if w.spec.CrashAfter > 0 && elapsed >= w.spec.CrashAfter {
			w.gone = true // its registration, heartbeat and job stay
			continue
		}
		if w.spec.QuietAfter > 0 && elapsed >= w.spec.QuietAfter {
			w.paused = true
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	if started {
		return r.prune(ctx, now, rep)
	}
	return nil
}

// finish ends the executions due by now: a failure is recorded
// (Failure::Redis, failed!), then done_working clears the job and counts
// the execution.
func (r *Resque) finish(ctx context.Context, now time.Time, rep *Report) error {
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.gone || w.waiting || w.job == "" || w.finishAt.IsZero() || w.finishAt.After(now) {
			continue
		}
		if w.class != nil && r.rng.Float64() < w.class.FailRate {
			e := w.class.Errors[r.rng.IntN(len(w.class.Errors))]
			r.fail(ctx, pipe, w, now, e.Class, e.Message)
			pipe.Incr(ctx, resqueKey("stat:failed"))
			pipe.Incr(ctx, resqueKey("stat:failed:"+w.id))
			rep.Failed++
			rep.StatFailed++
		} else {
			rep.Succeeded++
		}
		pipe.Del(ctx, resqueKey("worker:"+w.id))
		pipe.Incr(ctx, resqueKey("stat:processed"))
		pipe.Incr(ctx, resqueKey("stat:processed:"+w.id))
		rep.StatProcessed++
		w.job, w.class = "", nil
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// fail records the worker's job in the failed list as Failure::Redis#save does.
func (r *Resque) fail(ctx context.Context, pipe redis.Pipeliner, w *resqueWorker, now time.Time, exception, message string) {
	pipe.RPush(ctx, resqueKey("failed"), mustJSON(map[string]any{
		"failed_at": now.UTC().Format(resqueFailedAt),
		"payload":   rawPayload(w.job),
		"exception": exception,
		"error":     message,
		"backtrace": []string{"app/jobs/job.rb:12:in `perform'"},
		"worker":    w.id,
		"queue":     w.queue,
	}))
}

// rawPayload embeds a payload's JSON as is.
type rawPayload string

func (p rawPayload) MarshalJSON() ([]byte, error) { return []byte(p), nil }

// enqueue pushes the jobs clients enqueued over the last dt.
func (r *Resque) enqueue(ctx context.Context, now time.Time, dt time.Duration, rep *Report) error {
	elapsed := now.Sub(r.start).Seconds()
	pipe := r.rdb.Pipeline()
	for i := range r.sc.Classes {
		c := &r.sc.Classes[i]
		n := poisson(r.rng, c.rateAt(elapsed)*dt.Seconds())
		if n == 0 {
			continue
		}
		pipe.SAdd(ctx, resqueKey("queues"), c.Queue)
		for range n {
			pipe.RPush(ctx, resqueKey("queue:"+c.Queue), r.payload(c))
		}
		rep.Enqueued += n
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// reserve has every idle, live, unpaused worker LPOP its queues in order
// and record the job it got. Workers poll on their own clocks, so they
// take their turns in a random order.
func (r *Resque) reserve(ctx context.Context, now time.Time, rep *Report) error {
	empty := map[string]bool{} // queues found empty this step
	pipe := r.rdb.Pipeline()
	for _, i := range r.rng.Perm(len(r.workers)) {
		w := r.workers[i]
		if w.gone || w.waiting || w.paused || w.job != "" {
			continue
		}
		for _, q := range w.spec.Queues {
			if empty[q] {
				continue
			}
			payload, err := r.rdb.LPop(ctx, resqueKey("queue:"+q)).Result()
			if errors.Is(err, redis.Nil) {
				empty[q] = true
				continue
			}
			if err != nil {
				return err
			}
			r.workOn(ctx, pipe, w, r.classOf(payload), q, payload, now)
			rep.Fetched++
			break
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// classOf finds the scenario class of a payload this simulator wrote.
func (r *Resque) classOf(payload string) *Class {
	name, _, _ := strings.Cut(strings.TrimPrefix(payload, `{"class":"`), `"`)
	return r.classes[name]
}

// heartbeat writes the heartbeats that are due (heartbeat!).
func (r *Resque) heartbeat(ctx context.Context, now time.Time) error {
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if w.gone || w.waiting || now.Before(w.nextBeat) {
			continue
		}
		pipe.HSet(ctx, resqueKey("workers:heartbeat"), w.id, now.UTC().Format(resqueISO8601))
		w.lastBeat, w.nextBeat = now, now.Add(r.sc.Heartbeat)
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// prune runs prune_dead_workers: registered workers whose heartbeat is
// older than the prune interval are unregistered, their job recorded as
// failed. Only crashed workers stop heartbeating here.
func (r *Resque) prune(ctx context.Context, now time.Time, rep *Report) error {
	pipe := r.rdb.Pipeline()
	for _, w := range r.workers {
		if !w.gone || w.lastBeat.IsZero() || now.Sub(w.lastBeat) <= resquePruneInterval {
			continue
		}
		r.unregister(ctx, pipe, w, now, "Resque::PruneDeadWorkerDirtyExit", "Worker "+w.id+" did not gracefully exit while processing "+w.className(), rep)
		w.lastBeat = time.Time{} // unregistered: nothing left to prune
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (w *resqueWorker) className() string {
	if w.class == nil {
		return ""
	}
	return w.class.Name
}

// unregister removes a worker as unregister_worker does, recording a job
// still running as failed.
func (r *Resque) unregister(ctx context.Context, pipe redis.Pipeliner, w *resqueWorker, now time.Time, exception, message string, rep *Report) {
	if w.job != "" {
		r.fail(ctx, pipe, w, now, exception, message)
		w.job, w.class = "", nil
		rep.Died++
	}
	pipe.SRem(ctx, resqueKey("workers"), w.id)
	pipe.Del(ctx, resqueKey("worker:"+w.id), resqueKey("worker:"+w.id+":started"))
	pipe.HDel(ctx, resqueKey("workers:heartbeat"), w.id)
	pipe.Del(ctx, resqueKey("stat:processed:"+w.id), resqueKey("stat:failed:"+w.id))
}
