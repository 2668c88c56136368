// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// processTTL is how long a process entry outlives its last heartbeat.
	processTTL = 60 * time.Second
	// statsTTL keeps the per-day counters five years (Sidekiq's STATS_TTL).
	statsTTL = 5 * 365 * 24 * time.Hour
	// deadTimeout and deadMaxJobs bound the dead set (Sidekiq's defaults).
	deadTimeout = 180 * 24 * time.Hour
	deadMaxJobs = 10_000
	// pollBatch bounds how many due jobs one poll moves per set.
	pollBatch = 100
	// maxStep caps the time one Step simulates, so a paused simulator
	// (laptop asleep) does not enqueue a flood when it wakes up.
	maxStep = time.Minute
)

// Report counts what Steps did, in Sidekiq's terms; another system's
// simulator fills the fields its library has a counterpart for (its doc says
// which). Summed over a run it is the simulator's own ground truth, which
// tests compare with what the library reads back.
type Report struct {
	Enqueued  int // pushed onto queues by clients (backlogs included)
	Scheduled int // added to the schedule set (perform_in)
	Fetched   int // taken off queues by workers
	Requeued  int // put back onto queues: due retries and scheduled jobs, jobs running at Stop

	Succeeded int // executions that finished without error
	Failed    int // executions that raised
	Retried   int // failures added to the retry set
	Died      int // failures moved to the dead set
	Discarded int // failures of retry: false jobs, dropped

	// StatProcessed and StatFailed are what heartbeats added to
	// stat:processed and stat:failed. They lag executions by up to a
	// heartbeat, and a crash loses the unflushed rest, as in Sidekiq.
	StatProcessed int64
	StatFailed    int64
}

// Add adds o's counts to r.
func (r *Report) Add(o Report) {
	r.Enqueued += o.Enqueued
	r.Scheduled += o.Scheduled
	r.Fetched += o.Fetched
	r.Requeued += o.Requeued
	r.Succeeded += o.Succeeded
	r.Failed += o.Failed
	r.Retried += o.Retried
	r.Died += o.Died
	r.Discarded += o.Discarded
	r.StatProcessed += o.StatProcessed
	r.StatFailed += o.StatFailed
}

// Sidekiq plays a Scenario as a Sidekiq 6.4 deployment against one Redis
// database, writing the keys Sidekiq 6.4 itself writes, with the same
// commands: clients push jobs, processes fetch and run them, failures go
// through the retry and dead sets, a poller moves due jobs back, heartbeats
// keep the process registry alive. Redis holds the jobs; the simulator keeps
// only what Sidekiq keeps in process memory (running jobs, unflushed
// counters). It is not safe for concurrent use.
type Sidekiq struct {
	rdb     *redis.Client
	sc      Scenario
	rng     *rand.Rand
	classes map[string]*Class
	procs   []*process

	start, last time.Time
	nextPoll    time.Time
	nextCleanup time.Time
}

// process is what a Sidekiq process keeps in memory.
type process struct {
	spec      *Process
	identity  string
	info      string // the `info` JSON, fixed for the process's life
	threads   []thread
	nextBeat  time.Time
	quiet     bool
	waiting   bool  // not started yet (Process.StartAfter)
	gone      bool  // crashed or stopped: takes no further part
	processed int64 // executions since the last heartbeat
	failed    int64
}

// thread is one worker slot; job is nil when idle.
type thread struct {
	tid      string
	job      *job
	runAt    time.Time
	finishAt time.Time // zero: never (a long job)
}

// NewSidekiq prepares a simulator that writes to rdb. Nothing is written
// before the first Step.
func NewSidekiq(rdb *redis.Client, sc Scenario, seed uint64) (*Sidekiq, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	s := &Sidekiq{
		rdb:     rdb,
		sc:      sc,
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		classes: make(map[string]*Class, len(sc.Classes)),
	}
	for i := range s.sc.Classes {
		s.classes[s.sc.Classes[i].Name] = &s.sc.Classes[i]
	}
	return s, nil
}

// Step advances the simulation to now: processes crash or go quiet, running
// jobs finish, clients enqueue, the poller moves due jobs, idle threads
// fetch, and processes heartbeat when due. The first Step also seeds the
// backlogs, long jobs and process entries.
func (s *Sidekiq) Step(ctx context.Context, now time.Time) (Report, error) {
	var r Report
	if s.start.IsZero() {
		if err := s.begin(ctx, now, &r); err != nil {
			return r, err
		}
	}
	dt := min(max(now.Sub(s.last), 0), maxStep)
	s.last = now
	s.lifecycle(now)
	if err := s.finish(ctx, now, &r); err != nil {
		return r, fmt.Errorf("finish jobs: %w", err)
	}
	if err := s.enqueue(ctx, now, dt, &r); err != nil {
		return r, fmt.Errorf("enqueue: %w", err)
	}
	if !now.Before(s.nextPoll) {
		s.nextPoll = now.Add(s.sc.PollInterval)
		if err := s.poll(ctx, now, &r); err != nil {
			return r, fmt.Errorf("poll retry/schedule: %w", err)
		}
	}
	if s.sc.CleanupInterval > 0 && !now.Before(s.nextCleanup) {
		s.nextCleanup = now.Add(s.sc.CleanupInterval)
		if err := s.cleanup(ctx); err != nil {
			return r, fmt.Errorf("clean up the process registry: %w", err)
		}
	}
	if err := s.fetch(ctx, now, &r); err != nil {
		return r, fmt.Errorf("fetch: %w", err)
	}
	for _, p := range s.procs {
		if p.gone || p.waiting || now.Before(p.nextBeat) {
			continue
		}
		p.nextBeat = now.Add(s.sc.Heartbeat)
		if err := s.heartbeat(ctx, p, now, &r); err != nil {
			return r, fmt.Errorf("heartbeat %s: %w", p.identity, err)
		}
	}
	return r, nil
}

// Stop shuts the live processes down as Sidekiq does: running jobs go back
// to the tail of their queues, counters are flushed and the processes
// leave the registry. Crashed processes stay as they died.
func (s *Sidekiq) Stop(ctx context.Context, now time.Time) (Report, error) {
	var r Report
	for _, p := range s.procs {
		if p.gone || p.waiting {
			continue
		}
		pipe := s.rdb.Pipeline()
		for i := range p.threads {
			t := &p.threads[i]
			if t.job == nil {
				continue
			}
			pipe.RPush(ctx, "queue:"+t.job.Queue, t.job.encode()) // BasicFetch#bulk_requeue
			t.job = nil
			r.Requeued++
		}
		s.flushStats(ctx, pipe, p, now, &r)
		pipe.SRem(ctx, "processes", p.identity)
		pipe.Unlink(ctx, p.identity+":workers")
		if _, err := pipe.Exec(ctx); err != nil {
			return r, fmt.Errorf("stop %s: %w", p.identity, err)
		}
		p.gone = true
	}
	return r, nil
}

// begin creates the processes and seeds what exists before the start.
func (s *Sidekiq) begin(ctx context.Context, now time.Time, r *Report) error {
	s.start, s.last, s.nextPoll = now, now, now
	// The first clean-up comes one interval in: the registry starts clean.
	s.nextCleanup = now.Add(s.sc.CleanupInterval)
	for i := range s.sc.Processes {
		spec := &s.sc.Processes[i]
		pid := 1000 + s.rng.IntN(60000)
		p := &process{
			spec:     spec,
			identity: fmt.Sprintf("%s:%d:%s", spec.Hostname, pid, randomHex(s.rng, 6)),
			threads:  make([]thread, spec.Concurrency),
			nextBeat: now,
			waiting:  spec.StartAfter > 0,
		}
		for t := range p.threads {
			p.threads[t].tid = strconv.FormatUint(s.rng.Uint64N(1<<44), 36)
		}
		startedAt := now.Add(-time.Duration(10+s.rng.IntN(50)) * time.Minute)
		if spec.StartAfter > 0 {
			startedAt = now.Add(spec.StartAfter)
		}
		p.info = mustJSON(map[string]any{
			"hostname":    spec.Hostname,
			"started_at":  epoch(startedAt),
			"pid":         pid,
			"tag":         "app",
			"concurrency": spec.Concurrency,
			"queues":      spec.Queues,
			"labels":      []string{},
			"identity":    p.identity,
		})
		if lj := spec.LongJob; lj != nil {
			runAt := now.Add(-lj.RunningFor)
			j := s.newJob(s.classes[lj.Class], runAt.Add(-2*time.Second))
			j.EnqueuedAt = epoch(runAt.Add(-time.Second))
			p.threads[0] = thread{tid: p.threads[0].tid, job: j, runAt: runAt}
			if lj.FinishAfter > 0 {
				p.threads[0].finishAt = now.Add(lj.FinishAfter)
			}
			r.Enqueued++ // and fetched, before the start
			r.Fetched++
		}
		s.procs = append(s.procs, p)
	}
	pipe := s.rdb.Pipeline()
	for _, b := range s.sc.Backlogs {
		c := s.classes[b.Class]
		payloads := make([]any, b.Jobs)
		for i := range payloads { // oldest first: LPUSH leaves it at the tail
			at := now.Add(-b.Oldest + time.Duration(i)*b.Oldest/time.Duration(b.Jobs))
			j := s.newJob(c, at)
			j.EnqueuedAt = epoch(at)
			payloads[i] = j.encode()
		}
		pipe.SAdd(ctx, "queues", c.Queue)
		pipe.LPush(ctx, "queue:"+c.Queue, payloads...)
		r.Enqueued += b.Jobs
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("seed backlogs: %w", err)
	}
	return nil
}

// lifecycle starts, crashes and quiets processes whose time has come.
func (s *Sidekiq) lifecycle(now time.Time) {
	elapsed := now.Sub(s.start)
	for _, p := range s.procs {
		if p.waiting && elapsed >= p.spec.StartAfter {
			p.waiting, p.nextBeat = false, now
		}
		if p.gone || p.waiting {
			continue
		}
		if p.spec.CrashAfter > 0 && elapsed >= p.spec.CrashAfter {
			p.gone = true // kill -9: running jobs and unflushed counts are lost
			continue
		}
		if p.spec.QuietAfter > 0 && elapsed >= p.spec.QuietAfter {
			p.quiet = true
		}
	}
}

// finish ends the executions due by now and handles failures like
// Sidekiq::JobRetry#attempt_retry.
func (s *Sidekiq) finish(ctx context.Context, now time.Time, r *Report) error {
	pipe := s.rdb.Pipeline()
	var dead []any
	for _, p := range s.procs {
		if p.gone || p.waiting {
			continue
		}
		for i := range p.threads {
			t := &p.threads[i]
			if t.job == nil || t.finishAt.IsZero() || t.finishAt.After(now) {
				continue
			}
			j := t.job
			t.job = nil
			p.processed++
			c := s.classes[j.Class]
			if c == nil || s.rng.Float64() >= c.FailRate {
				r.Succeeded++
				continue
			}
			p.failed++
			r.Failed++
			if j.Retry == RetryNever {
				r.Discarded++
				continue
			}
			e := c.Errors[s.rng.IntN(len(c.Errors))]
			j.ErrorClass, j.ErrorMessage = e.Class, e.Message
			count := 0
			if j.RetryCount == nil {
				j.FailedAt = epoch(now)
			} else {
				j.RetriedAt = epoch(now)
				count = *j.RetryCount + 1
			}
			j.RetryCount = &count
			if count < j.Retry.maxRetries() {
				delay := time.Duration(count*count*count*count+15+s.rng.IntN(10)*(count+1)) * time.Second
				pipe.ZAdd(ctx, "retry", redis.Z{Score: epoch(now.Add(delay)), Member: j.encode()})
				r.Retried++
				continue
			}
			dead = append(dead, j.encode())
			r.Died++
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	if len(dead) == 0 {
		return nil
	}
	// DeadSet#kill, once for all of this step's deaths.
	_, err := s.rdb.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		for _, d := range dead {
			tx.ZAdd(ctx, "dead", redis.Z{Score: epoch(now), Member: d})
		}
		tx.ZRemRangeByScore(ctx, "dead", "-inf", formatScore(epoch(now.Add(-deadTimeout))))
		tx.ZRemRangeByRank(ctx, "dead", 0, -deadMaxJobs)
		return nil
	})
	return err
}

// enqueue pushes the jobs clients create during dt before now, as
// Sidekiq::Client#push does: SADD queues + LPUSH, or ZADD schedule.
func (s *Sidekiq) enqueue(ctx context.Context, now time.Time, dt time.Duration, r *Report) error {
	if dt <= 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	elapsed := now.Sub(s.start).Seconds()
	for i := range s.sc.Classes {
		c := &s.sc.Classes[i]
		n := poisson(s.rng, c.rateAt(elapsed)*dt.Seconds())
		if n == 0 {
			continue
		}
		var push []any
		for range n {
			j := s.newJob(c, now)
			if c.ScheduledShare > 0 && s.rng.Float64() < c.ScheduledShare {
				at := now.Add(c.ScheduleMin + time.Duration(s.rng.Int64N(int64(c.ScheduleMax-c.ScheduleMin)+1)))
				pipe.ZAdd(ctx, "schedule", redis.Z{Score: epoch(at), Member: j.encode()})
				r.Scheduled++
				continue
			}
			j.EnqueuedAt = epoch(now)
			push = append(push, j.encode())
		}
		if len(push) > 0 {
			pipe.SAdd(ctx, "queues", c.Queue)
			pipe.LPush(ctx, "queue:"+c.Queue, push...)
			r.Enqueued += len(push)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// poll moves due jobs from the retry and schedule sets back onto their
// queues (Sidekiq::Scheduled::Enq): remove, then push with a new enqueued_at.
func (s *Sidekiq) poll(ctx context.Context, now time.Time, r *Report) error {
	due := formatScore(epoch(now))
	var found []string
	var from []string
	for _, set := range []string{"retry", "schedule"} {
		members, err := s.rdb.ZRangeByScore(ctx, set, &redis.ZRangeBy{Min: "-inf", Max: due, Count: pollBatch}).Result()
		if err != nil {
			return err
		}
		for _, m := range members {
			found = append(found, m)
			from = append(from, set)
		}
	}
	if len(found) == 0 {
		return nil
	}
	removed := make([]*redis.IntCmd, len(found))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, m := range found {
			removed[i] = pipe.ZRem(ctx, from[i], m)
		}
		return nil
	}); err != nil {
		return err
	}
	pipe := s.rdb.Pipeline()
	for i, m := range found {
		if removed[i].Val() != 1 {
			continue // someone else moved it
		}
		j, err := decodeJob(m)
		if err != nil {
			return fmt.Errorf("%s set: %w", from[i], err)
		}
		j.EnqueuedAt = epoch(now)
		pipe.SAdd(ctx, "queues", j.Queue)
		pipe.LPush(ctx, "queue:"+j.Queue, j.encode())
		r.Requeued++
	}
	_, err := pipe.Exec(ctx)
	return err
}

// fetch gives idle threads of working processes jobs from the tail of
// their queues, in strict queue order.
func (s *Sidekiq) fetch(ctx context.Context, now time.Time, r *Report) error {
	for _, p := range s.procs {
		if p.gone || p.waiting || p.quiet {
			continue
		}
		idle := p.idle()
		for _, q := range p.spec.Queues {
			if len(idle) == 0 {
				break
			}
			payloads, err := s.rdb.RPopCount(ctx, "queue:"+q, len(idle)).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("queue %s: %w", q, err)
			}
			for _, payload := range payloads {
				j, err := decodeJob(payload)
				if err != nil {
					return fmt.Errorf("queue %s: %w", q, err)
				}
				t := &p.threads[idle[0]]
				idle = idle[1:]
				t.job, t.runAt, t.finishAt = j, now, now.Add(runTime(s.rng, s.classes[j.Class]))
				r.Fetched++
			}
		}
	}
	return nil
}

// cleanup is Sidekiq::ProcessSet.cleanup: registered identities whose
// heartbeat entry is gone (expired: the process died without deregistering)
// leave the `processes` set.
func (s *Sidekiq) cleanup(ctx context.Context) error {
	ids, err := s.rdb.SMembers(ctx, "processes").Result()
	if err != nil || len(ids) == 0 {
		return err
	}
	infos := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, id := range ids {
			infos[i] = pipe.HGet(ctx, id, "info")
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	var prune []any
	for i, id := range ids {
		if errors.Is(infos[i].Err(), redis.Nil) {
			prune = append(prune, id)
		}
	}
	if len(prune) == 0 {
		return nil
	}
	return s.rdb.SRem(ctx, "processes", prune...).Err()
}

// heartbeat is Sidekiq::Launcher#❤: flush counters and the workers hash
// in one transaction, then refresh the process entry in another. Signals
// sent through the Sidekiq API (<identity>-signals) are left alone.
func (s *Sidekiq) heartbeat(ctx context.Context, p *process, now time.Time, r *Report) error {
	workersKey := p.identity + ":workers"
	if _, err := s.rdb.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		s.flushStats(ctx, tx, p, now, r)
		tx.Unlink(ctx, workersKey)
		var fields []any
		for _, t := range p.threads {
			if t.job != nil {
				work := mustJSON(map[string]any{"queue": t.job.Queue, "payload": t.job.encode(), "run_at": t.runAt.Unix()})
				fields = append(fields, t.tid, work)
			}
		}
		if len(fields) > 0 {
			tx.HSet(ctx, workersKey, fields...)
		}
		tx.Expire(ctx, workersKey, processTTL)
		return nil
	}); err != nil {
		return err
	}
	busy := len(p.threads) - len(p.idle())
	rss := p.spec.RSS + s.rng.Int64N(p.spec.RSS/20+1) // a little jitter
	_, err := s.rdb.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		tx.SAdd(ctx, "processes", p.identity)
		tx.HSet(ctx, p.identity,
			"info", p.info,
			"busy", busy,
			"beat", formatScore(epoch(now)),
			"rtt_us", 150+s.rng.IntN(600),
			"quiet", strconv.FormatBool(p.quiet),
			"rss", rss)
		tx.Expire(ctx, p.identity, processTTL)
		return nil
	})
	return err
}

// flushStats adds the process's unflushed counters to the totals and the
// per-UTC-day counters, like the first half of Sidekiq's heartbeat.
func (s *Sidekiq) flushStats(ctx context.Context, pipe redis.Pipeliner, p *process, now time.Time, r *Report) {
	day := now.UTC().Format("2006-01-02")
	pipe.IncrBy(ctx, "stat:processed", p.processed)
	pipe.IncrBy(ctx, "stat:processed:"+day, p.processed)
	pipe.Expire(ctx, "stat:processed:"+day, statsTTL)
	pipe.IncrBy(ctx, "stat:failed", p.failed)
	pipe.IncrBy(ctx, "stat:failed:"+day, p.failed)
	pipe.Expire(ctx, "stat:failed:"+day, statsTTL)
	r.StatProcessed += p.processed
	r.StatFailed += p.failed
	p.processed, p.failed = 0, 0
}

func (p *process) idle() []int {
	var idle []int
	for i, t := range p.threads {
		if t.job == nil {
			idle = append(idle, i)
		}
	}
	return idle
}

// newJob is a fresh payload as Sidekiq::Client#normalize_item builds it.
func (s *Sidekiq) newJob(c *Class, created time.Time) *job {
	return &job{
		Retry:     c.Retry,
		Queue:     c.Queue,
		Class:     c.Name,
		Args:      []any{s.rng.IntN(1_000_000), "acct_" + randomHex(s.rng, 4)},
		JID:       randomHex(s.rng, 12),
		CreatedAt: epoch(created),
	}
}

// formatScore writes a float score the way Ruby's Float#to_s would read back.
func formatScore(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
