// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// bullmqPrefix is BullMQ's default key prefix.
	bullmqPrefix = "bull"
	// bullmqStalledAfter is how long a crashed worker's jobs stay active:
	// their lock expires (lockDuration, 30 s) and the next stalled check of
	// another worker (stalledInterval, 30 s) moves them back to wait.
	bullmqStalledAfter = time.Minute
	// bullmqKeepCompleted and bullmqKeepFailed are the workers'
	// removeOnComplete and removeOnFail counts.
	bullmqKeepCompleted = 1000
	bullmqKeepFailed    = 5000
	// bullmqMetricsPoints is the workers' metrics.maxDataPoints (a week of
	// minutes, MetricsTime.ONE_WEEK).
	bullmqMetricsPoints = 7 * 24 * 60
	// bullmqMaxAttempts stands for Sidekiq's retry: true.
	bullmqMaxAttempts = 25
)

// BullMQ plays a Scenario as a BullMQ 6.7 deployment against one Redis
// database, writing the keys BullMQ's Lua scripts write, with the same
// commands: producers add jobs (INCR id, HMSET the job hash, LPUSH wait or
// ZADD delayed), workers fetch them (RPOPLPUSH wait active, processedOn),
// finish them (LREM active, ZADD completed or failed, finishedOn, atm,
// metrics:completed|failed), retry failures with exponential backoff
// through delayed, and promote due delayed jobs (LPUSH wait).
//
// Scenario notions map as follows: a class is a job name on its queue; a
// Process is a Node process running one Worker per queue, whose
// Concurrency slots are shared and fetch in queue order; Retry is the
// `attempts` option (RetryNever: 1, RetryDefault: 25, n: n+1); quieting is
// worker.pause() (no new fetches); a crash leaves its jobs active until the
// stalled check moves them back to wait a minute later; Heartbeat and
// CleanupInterval have no counterpart. The events stream, job locks and
// the wake-up marker are not written: nothing the job_queue receiver or
// BullMQ's counts read depends on them.
//
// Report: Scheduled counts jobs added with a delay, Retried failures moved
// to delayed for another attempt, Died failures moved to failed, Requeued
// promoted delayed jobs and jobs moved back from active; StatProcessed and
// StatFailed count what metrics:completed and metrics:failed gained.
//
// It is not safe for concurrent use.
type BullMQ struct {
	rdb     *redis.Client
	sc      Scenario
	rng     *rand.Rand
	classes map[string]*Class
	procs   []*bullProc
	// jobs is what the simulator remembers of each job it added, by key
	// (the job hash's), as a producer's and worker's memory would.
	jobs   map[string]*bullJob
	nextID map[string]int64 // last id per queue (the `id` counter)
	// stalled are the jobs of crashed workers, moved back at recoverAt.
	stalled []stalledJob

	start, last time.Time
	nextPoll    time.Time
}

type bullJob struct {
	class    *Class
	queue    string
	id       string
	attempts int // attemptsMade (atm)
}

type bullProc struct {
	spec    *Process
	slots   []bullSlot
	quiet   bool
	waiting bool // not started yet
	gone    bool
}

type bullSlot struct {
	job      *bullJob
	finishAt time.Time // zero: never
}

type stalledJob struct {
	job       *bullJob
	recoverAt time.Time
}

// NewBullMQ prepares a simulator that writes to rdb under BullMQ's default
// prefix. Nothing is written before the first Step.
func NewBullMQ(rdb *redis.Client, sc Scenario, seed uint64) (*BullMQ, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	b := &BullMQ{
		rdb:     rdb,
		sc:      sc,
		rng:     rand.New(rand.NewPCG(seed, seed^0xb011)),
		classes: make(map[string]*Class, len(sc.Classes)),
		jobs:    make(map[string]*bullJob),
		nextID:  make(map[string]int64),
	}
	for i := range b.sc.Classes {
		b.classes[b.sc.Classes[i].Name] = &b.sc.Classes[i]
	}
	return b, nil
}

func (b *BullMQ) key(queue, suffix string) string { return bullmqPrefix + ":" + queue + ":" + suffix }

// queues are the scenario's queue names, sorted.
func (b *BullMQ) queues() []string {
	var qs []string
	for _, c := range b.sc.Classes {
		if !slices.Contains(qs, c.Queue) {
			qs = append(qs, c.Queue)
		}
	}
	slices.Sort(qs)
	return qs
}

// Step advances the simulation to now: workers start, crash or pause,
// running jobs finish, producers add jobs, due delayed jobs are promoted,
// stalled jobs are moved back, and idle slots fetch. The first Step
// constructs the queues and seeds the backlogs and long jobs.
func (b *BullMQ) Step(ctx context.Context, now time.Time) (Report, error) {
	var r Report
	if b.start.IsZero() {
		if err := b.begin(ctx, now, &r); err != nil {
			return r, err
		}
	}
	dt := min(max(now.Sub(b.last), 0), maxStep)
	b.last = now
	b.lifecycle(now)
	if err := b.finish(ctx, now, &r); err != nil {
		return r, fmt.Errorf("finish jobs: %w", err)
	}
	if err := b.enqueue(ctx, now, dt, &r); err != nil {
		return r, fmt.Errorf("add jobs: %w", err)
	}
	if !now.Before(b.nextPoll) {
		b.nextPoll = now.Add(b.sc.PollInterval)
		if err := b.promote(ctx, now, &r); err != nil {
			return r, fmt.Errorf("promote delayed jobs: %w", err)
		}
		if err := b.trim(ctx); err != nil {
			return r, fmt.Errorf("remove old finished jobs: %w", err)
		}
	}
	if err := b.recoverStalled(ctx, now, &r); err != nil {
		return r, fmt.Errorf("move stalled jobs back: %w", err)
	}
	if err := b.fetch(ctx, now, &r); err != nil {
		return r, fmt.Errorf("fetch: %w", err)
	}
	return r, nil
}

// Stop closes the live workers: their running jobs go back to wait
// (moveJobFromActiveToWait), as when a worker is closed without waiting.
func (b *BullMQ) Stop(ctx context.Context, _ time.Time) (Report, error) {
	var r Report
	pipe := b.rdb.Pipeline()
	for _, p := range b.procs {
		if p.gone || p.waiting {
			continue
		}
		for i := range p.slots {
			if j := p.slots[i].job; j != nil {
				b.toWait(ctx, pipe, j)
				p.slots[i].job = nil
				r.Requeued++
			}
		}
		p.gone = true
	}
	if pipe.Len() == 0 {
		return r, nil
	}
	_, err := pipe.Exec(ctx)
	return r, err
}

// begin constructs the queues (their meta hash) and seeds the backlogs and
// the long jobs.
func (b *BullMQ) begin(ctx context.Context, now time.Time, r *Report) error {
	b.start, b.last, b.nextPoll = now, now, now
	pipe := b.rdb.Pipeline()
	for _, q := range b.queues() {
		pipe.HSet(ctx, b.key(q, "meta"), "opts.maxLenEvents", "10000", "version", "bullmq:6.7.0")
	}
	for _, bl := range b.sc.Backlogs {
		c := b.classes[bl.Class]
		for i := range bl.Jobs { // oldest first: LPUSH leaves it at the tail
			b.add(ctx, pipe, c, now.Add(-bl.Oldest+time.Duration(i)*bl.Oldest/time.Duration(bl.Jobs)), 0)
		}
		r.Enqueued += bl.Jobs
	}
	for i := range b.sc.Processes {
		spec := &b.sc.Processes[i]
		p := &bullProc{spec: spec, slots: make([]bullSlot, spec.Concurrency), waiting: spec.StartAfter > 0}
		if lj := spec.LongJob; lj != nil {
			started := now.Add(-lj.RunningFor)
			j := b.add(ctx, pipe, b.classes[lj.Class], started.Add(-time.Second), 0)
			pipe.LRem(ctx, b.key(j.queue, "wait"), 1, j.id)
			pipe.LPush(ctx, b.key(j.queue, "active"), j.id)
			b.started(ctx, pipe, j, started)
			p.slots[0].job = j
			if lj.FinishAfter > 0 {
				p.slots[0].finishAt = now.Add(lj.FinishAfter)
			}
			r.Enqueued++
			r.Fetched++
		}
		b.procs = append(b.procs, p)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// lifecycle starts, crashes and pauses workers whose time has come.
func (b *BullMQ) lifecycle(now time.Time) {
	elapsed := now.Sub(b.start)
	for _, p := range b.procs {
		if p.waiting && elapsed >= p.spec.StartAfter {
			p.waiting = false
		}
		if p.gone || p.waiting {
			continue
		}
		if p.spec.CrashAfter > 0 && elapsed >= p.spec.CrashAfter {
			p.gone = true // its jobs stay active until the stalled check
			for i := range p.slots {
				if j := p.slots[i].job; j != nil {
					b.stalled = append(b.stalled, stalledJob{job: j, recoverAt: now.Add(bullmqStalledAfter)})
				}
			}
			continue
		}
		if p.spec.QuietAfter > 0 && elapsed >= p.spec.QuietAfter {
			p.quiet = true
		}
	}
}

// add writes a new job as addStandardJob and addDelayedJob do, and returns
// it; the pipeline is the caller's to run.
func (b *BullMQ) add(ctx context.Context, pipe redis.Pipeliner, c *Class, created time.Time, delay time.Duration) *bullJob {
	b.nextID[c.Queue]++
	j := &bullJob{class: c, queue: c.Queue, id: strconv.FormatInt(b.nextID[c.Queue], 10)}
	b.jobs[b.key(j.queue, j.id)] = j
	opts := `{"attempts":` + strconv.Itoa(attemptsOf(c)) + `,"backoff":{"type":"exponential","delay":1000}`
	if delay > 0 {
		opts += `,"delay":` + strconv.FormatInt(delay.Milliseconds(), 10)
	}
	opts += `}`
	ts := created.UnixMilli()
	pipe.Incr(ctx, b.key(j.queue, "id"))
	pipe.HSet(ctx, b.key(j.queue, j.id), "name", c.Name,
		"data", `{"account":"acct_`+randomHex(b.rng, 4)+`","n":`+strconv.Itoa(b.rng.IntN(1_000_000))+`}`,
		"opts", opts, "timestamp", ts, "delay", delay.Milliseconds(), "priority", 0)
	if delay > 0 {
		pipe.ZAdd(ctx, b.key(j.queue, "delayed"), redis.Z{Score: delayedScore(created.Add(delay), b.nextID[c.Queue]), Member: j.id})
	} else {
		pipe.LPush(ctx, b.key(j.queue, "wait"), j.id)
	}
	return j
}

// delayedScore is BullMQ's delayed-set score: the due time in ms times
// 4096, plus the job's order within that millisecond.
func delayedScore(due time.Time, n int64) float64 {
	return float64(due.UnixMilli()*0x1000 + n%0x1000)
}

// started marks a fetched job as prepareJobForProcessing does.
func (b *BullMQ) started(ctx context.Context, pipe redis.Pipeliner, j *bullJob, at time.Time) {
	key := b.key(j.queue, j.id)
	pipe.HSet(ctx, key, "processedOn", at.UnixMilli())
	pipe.HIncrBy(ctx, key, "ats", 1)
}

// toWait moves an active job back to the tail of wait, as
// moveJobFromActiveToWait and the stalled check do.
func (b *BullMQ) toWait(ctx context.Context, pipe redis.Pipeliner, j *bullJob) {
	pipe.LRem(ctx, b.key(j.queue, "active"), -1, j.id)
	pipe.RPush(ctx, b.key(j.queue, "wait"), j.id)
}

// finish ends the executions due by now as moveToFinished and
// moveToDelayed do.
func (b *BullMQ) finish(ctx context.Context, now time.Time, r *Report) error {
	pipe := b.rdb.Pipeline()
	var completed, failed map[string]int
	for _, p := range b.procs {
		if p.gone || p.waiting {
			continue
		}
		for i := range p.slots {
			s := &p.slots[i]
			if s.job == nil || s.finishAt.IsZero() || s.finishAt.After(now) {
				continue
			}
			j, key := s.job, b.key(s.job.queue, s.job.id)
			s.job = nil
			j.attempts++
			pipe.LRem(ctx, b.key(j.queue, "active"), -1, j.id)
			pipe.HIncrBy(ctx, key, "atm", 1)
			if j.class == nil || b.rng.Float64() >= j.class.FailRate {
				pipe.ZAdd(ctx, b.key(j.queue, "completed"), redis.Z{Score: float64(now.UnixMilli()), Member: j.id})
				pipe.HSet(ctx, key, "returnvalue", "null", "finishedOn", now.UnixMilli())
				delete(b.jobs, key)
				completed = tally(completed, j.queue)
				r.Succeeded++
				continue
			}
			r.Failed++
			e := j.class.Errors[b.rng.IntN(len(j.class.Errors))]
			stack := mustJSON([]string{e.Class + ": " + e.Message + "\n    at process (/app/worker.js:42:11)"})
			pipe.HSet(ctx, key, "failedReason", e.Message, "stacktrace", stack)
			if j.attempts < attemptsOf(j.class) {
				backoff := time.Duration(1<<min(j.attempts-1, 20)) * time.Second // exponential, delay 1000
				pipe.HSet(ctx, key, "delay", backoff.Milliseconds())
				pipe.ZAdd(ctx, b.key(j.queue, "delayed"), redis.Z{Score: delayedScore(now.Add(backoff), 0), Member: j.id})
				r.Retried++
				continue
			}
			pipe.ZAdd(ctx, b.key(j.queue, "failed"), redis.Z{Score: float64(now.UnixMilli()), Member: j.id})
			pipe.HSet(ctx, key, "finishedOn", now.UnixMilli())
			delete(b.jobs, key)
			failed = tally(failed, j.queue)
			r.Died++
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	if err := b.collectMetrics(ctx, "completed", completed, now); err != nil {
		return err
	}
	r.StatProcessed += int64(sum(completed) + sum(failed))
	r.StatFailed += int64(sum(failed))
	return b.collectMetrics(ctx, "failed", failed, now)
}

// tally counts one more k in m, allocating m on first use.
func tally(m map[string]int, k string) map[string]int {
	if m == nil {
		m = make(map[string]int)
	}
	m[k]++
	return m
}

// sum is the total of m's counts.
func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// attemptsOf is the `attempts` option standing for the class's Retry.
func attemptsOf(c *Class) int {
	switch c.Retry {
	case RetryNever:
		return 1
	case RetryDefault:
		return bullmqMaxAttempts
	}
	return int(c.Retry) + 1
}

// collectMetrics adds finished jobs to each queue's metrics:<set> hash and
// its per-minute data points, as BullMQ's collectMetrics does per job.
func (b *BullMQ) collectMetrics(ctx context.Context, set string, finished map[string]int, now time.Time) error {
	for q, n := range finished {
		meta, data := b.key(q, "metrics:"+set), b.key(q, "metrics:"+set+":data")
		vals, err := b.rdb.HMGet(ctx, meta, "count", "prevTS", "prevCount").Result()
		if err != nil {
			return err
		}
		pipe := b.rdb.Pipeline()
		pipe.HIncrBy(ctx, meta, "count", int64(n))
		prevTS, _ := vals[1].(string)
		if prevTS == "" {
			pipe.HSet(ctx, meta, "prevTS", now.UnixMilli(), "prevCount", 0)
		} else if ts, err := strconv.ParseInt(prevTS, 10, 64); err == nil {
			if points := min(now.UnixMilli()/60000-ts/60000, bullmqMetricsPoints); points > 0 {
				countBefore, _ := strconv.ParseInt(fmt.Sprint(vals[0]), 10, 64)
				prevCount, _ := strconv.ParseInt(fmt.Sprint(vals[2]), 10, 64)
				push := make([]any, points)
				push[0] = countBefore - prevCount
				for i := 1; i < len(push); i++ {
					push[i] = 0
				}
				pipe.LPush(ctx, data, push...)
				pipe.LTrim(ctx, data, 0, bullmqMetricsPoints-1)
				pipe.HSet(ctx, meta, "prevCount", countBefore, "prevTS", now.UnixMilli())
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// enqueue adds the jobs producers create during dt before now; a class's
// ScheduledShare is added with a delay.
func (b *BullMQ) enqueue(ctx context.Context, now time.Time, dt time.Duration, r *Report) error {
	if dt <= 0 {
		return nil
	}
	pipe := b.rdb.Pipeline()
	elapsed := now.Sub(b.start).Seconds()
	for i := range b.sc.Classes {
		c := &b.sc.Classes[i]
		for range poisson(b.rng, c.rateAt(elapsed)*dt.Seconds()) {
			if c.ScheduledShare > 0 && b.rng.Float64() < c.ScheduledShare {
				b.add(ctx, pipe, c, now, c.ScheduleMin+time.Duration(b.rng.Int64N(int64(c.ScheduleMax-c.ScheduleMin)+1)))
				r.Scheduled++
				continue
			}
			b.add(ctx, pipe, c, now, 0)
			r.Enqueued++
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// promote moves due delayed jobs to the head of wait, as a worker's fetch
// does (promoteDelayedJobs): a due retry or scheduled job waits behind
// nothing, though its timestamp is older.
func (b *BullMQ) promote(ctx context.Context, now time.Time, r *Report) error {
	due := strconv.FormatFloat(delayedScore(now, 0x0fff), 'f', 0, 64)
	for _, q := range b.queues() {
		ids, err := b.rdb.ZRangeByScore(ctx, b.key(q, "delayed"), &redis.ZRangeBy{Min: "-inf", Max: due, Count: pollBatch}).Result()
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			continue
		}
		pipe := b.rdb.Pipeline()
		for _, id := range ids {
			pipe.ZRem(ctx, b.key(q, "delayed"), id)
			pipe.LPush(ctx, b.key(q, "wait"), id)
			pipe.HSet(ctx, b.key(q, id), "delay", 0)
			r.Requeued++
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// trim keeps the newest finished jobs (removeOnComplete, removeOnFail),
// deleting the others' hashes.
func (b *BullMQ) trim(ctx context.Context) error {
	for _, q := range b.queues() {
		for set, keep := range map[string]int64{"completed": bullmqKeepCompleted, "failed": bullmqKeepFailed} {
			old, err := b.rdb.ZRange(ctx, b.key(q, set), 0, -keep-1).Result()
			if err != nil {
				return err
			}
			if len(old) == 0 {
				continue
			}
			pipe := b.rdb.Pipeline()
			members := make([]any, len(old))
			for i, id := range old {
				members[i] = id
				pipe.Del(ctx, b.key(q, id))
			}
			pipe.ZRem(ctx, b.key(q, set), members...)
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// recoverStalled moves the jobs of crashed workers back to wait once the
// stalled check would find them, counting the stall on the job (stc).
func (b *BullMQ) recoverStalled(ctx context.Context, now time.Time, r *Report) error {
	pipe := b.rdb.Pipeline()
	kept := b.stalled[:0]
	for _, s := range b.stalled {
		if now.Before(s.recoverAt) {
			kept = append(kept, s)
			continue
		}
		b.toWait(ctx, pipe, s.job)
		pipe.HIncrBy(ctx, b.key(s.job.queue, s.job.id), "stc", 1)
		r.Requeued++
	}
	b.stalled = kept
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// fetch gives idle slots of working processes jobs from the tail of their
// queues' wait lists, in queue order, as moveToActive does.
func (b *BullMQ) fetch(ctx context.Context, now time.Time, r *Report) error {
	for _, p := range b.procs {
		if p.gone || p.waiting || p.quiet {
			continue
		}
		pipe := b.rdb.Pipeline()
		for _, q := range p.spec.Queues {
			for i := range p.slots {
				s := &p.slots[i]
				if s.job != nil {
					continue
				}
				id, err := b.rdb.RPopLPush(ctx, b.key(q, "wait"), b.key(q, "active")).Result()
				if errors.Is(err, redis.Nil) {
					break
				}
				if err != nil {
					return fmt.Errorf("queue %s: %w", q, err)
				}
				j := b.jobs[b.key(q, id)]
				if j == nil { // not ours: run it as an unknown class
					j = &bullJob{queue: q, id: id}
					b.jobs[b.key(q, id)] = j
				}
				b.started(ctx, pipe, j, now)
				s.job, s.finishAt = j, now.Add(runTime(b.rng, j.class))
				r.Fetched++
			}
		}
		if pipe.Len() > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}
