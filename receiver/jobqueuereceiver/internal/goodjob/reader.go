// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package goodjob reads a GoodJob (Ruby, ActiveJob backend on PostgreSQL)
// installation's state from its tables: good_jobs, good_job_processes and
// good_job_settings. It follows GoodJob v4.19.2 (commit 81db22b7): its
// install migration (testdata/schema.sql), the GoodJob::Job scopes that
// define the states its dashboard shows, GoodJob::Process.active and
// GoodJob::Setting.paused. No real GoodJob ran in its tests (the gem cannot
// be installed here): they write rows as GoodJob writes them and compare
// every figure with GoodJob's scopes run as SQL.
//
// # Statements and their cost
//
// A snapshot is one pgx batch, one round trip whatever the number of
// queues, of these read-only statements (see sql.go for their text):
//
//  1. queues: a loose index scan of index_good_jobs_on_queue_name discovers
//     the queues that have jobs (one index probe per queue, at most 100,000
//     queues); one pass over the unfinished jobs, through one of GoodJob's
//     partial indexes WHERE finished_at IS NULL (the planner's pick, e.g.
//     index_good_jobs_on_scheduled_at), grouped by queue, counts the
//     non-terminal states, the oldest queued job's scheduled_at, the
//     running jobs' oldest performed_at and the stalled ones. Cost: the
//     queues, plus the unfinished jobs (what GoodJob's own dequeue query
//     walks); never the finished history.
//  2. pauses: the good_job_settings row 'pauses' (unique index on key).
//  3. processes: good_job_processes (a handful of rows) with pg_locks, at
//     most 10,000 rows.
//  4. succeeded and discarded (one statement each): with estimate_above N >
//     0, a count of at most N+1 matching rows; only when it is at most N, a
//     GROUP BY queue_name of that state (discarded through
//     index_good_jobs_on_discarded; succeeded through
//     index_good_jobs_jobs_on_finished_at_only, or a sequential scan when
//     most jobs succeeded, which stops after N+1 rows). N = 0 always
//     groups, exactly. A state found over N is not counted again by the
//     next snapshots (statement 5 alone) until the planner's estimate is
//     back at N or below: a steady scrape of a large history reads none of
//     it.
//  5. with N > 0, EXPLAIN (FORMAT JSON) of each terminal state: the
//     planner's row estimate (no table read), used as one global figure
//     (Estimated) while the state holds more than N rows.
//  6. with ByClassMaxEntries > 0: the class and error class of the newest N
//     discarded jobs and of the N retried jobs due last.
//
// # How the figures map
//
// States are GoodJob's own (JobsFilter#states): queued (not performed, not
// finished, scheduled_at <= now), scheduled and retried (not finished,
// scheduled_at > now, serialized executions < 2 and > 1), running
// (performed, not finished), succeeded and discarded (finished without /
// with an error); discarded is the DeadState. Queue size is queued,
// latency the age of the oldest queued job's scheduled_at. A queue is
// paused when GoodJob::Setting.paused lists it (workers honour it only with
// enable_pauses; pausing by job class or label is not a queue's state).
// Processes are the rows of good_job_processes that GoodJob counts as
// active; the others are ProcessesStale. A process's heartbeat age is its
// updated_at (refreshed every 30 s), memory its state's memory (KiB, PSS on
// Linux; 0 means unmeasured), busy/capacity its schedulers' active_threads
// and max_threads, Queues its schedulers' queue strings as configured
// ("*", "-low", "high,default"), Tag the basename of its proctitle. Totals
// are the active processes' total_succeeded_executions_count and
// total_errored_executions_count summed: GoodJob keeps no other counter,
// so they restart with a process. GoodJob has no quiet state.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one
// of invalid_json (a process state or pause setting of the wrong shape),
// invalid_value (a future job whose serialized executions is not an
// integer, which GoodJob counts in no state), missing_timestamp (an
// unperformed job without scheduled_at), registry_truncated, name_too_long,
// invalid_utf8, too_many_problems. Every name reported goes through
// snapshot.Name.
package goodjob // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/goodjob"

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options = pgread.Options

// Job states (jobqueue.job.state): GoodJob's own names.
const (
	StateQueued    = "queued"
	StateScheduled = "scheduled"
	StateRetried   = "retried"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateDiscarded = "discarded"
)

// Problem kinds besides the snapshot package's.
const (
	kindInvalidJSON       = "invalid_json"
	kindInvalidValue      = "invalid_value"
	kindMissingTimestamp  = "missing_timestamp"
	kindRegistryTruncated = "registry_truncated"
)

const (
	system = "good_job"

	// maxQueues bounds the queues discovered, so that a table flooded
	// with distinct queue names cannot exhaust memory.
	maxQueues = 100_000
	// maxProcesses bounds the process rows read.
	maxProcesses = 10_000
)

// Reader takes snapshots of one GoodJob database schema.
type Reader struct {
	q     pgclient.Querier
	opts  Options
	stmts statements

	// mu serialises snapshots: each reads and updates over.
	mu sync.Mutex
	// over says, per terminal state (succeeded, discarded), that the last
	// snapshot found more than EstimateAbove jobs in it: the next one
	// sends only the planner's estimate, not the capped count (a read of
	// EstimateAbove rows), until the estimate comes back to EstimateAbove
	// or below.
	over [2]bool
}

// NewReader returns a reader of GoodJob's tables in opts.Schema (public
// when empty) through q.
func NewReader(q pgclient.Querier, opts Options) *Reader {
	if opts.Schema == "" {
		opts.Schema = pgclient.DefaultSchema
	}
	return &Reader{q: q, opts: opts, stmts: newStatements(opts.Schema, opts.EstimateAbove > 0)}
}

// sqlTime is t as the statements compare it: a UTC timestamp without time
// zone, as Rails writes GoodJob's datetime columns.
func sqlTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999") }

// Snapshot reads GoodJob's state in one round trip.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := snapshot.Now(r.opts.Now)
	sc := &scrape{now: now, opts: &r.opts, over: &r.over}
	res := r.q.SendBatch(ctx, r.batch(now))
	err := sc.read(res)
	if closeErr := res.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("good_job: %w", closeErr)
	}
	if err != nil {
		return nil, err
	}
	return sc.snapshot(), nil
}

// batch is every statement of a snapshot taken at now, in the order
// scrape.read consumes their results.
func (r *Reader) batch(now time.Time) *pgx.Batch {
	var stalledBefore any // NULL: no running job is stalled
	if r.opts.StalledAfter > 0 {
		stalledBefore = sqlTime(now.Add(-r.opts.StalledAfter))
	}
	b := &pgx.Batch{}
	b.Queue(r.stmts.queues, sqlTime(now), stalledBefore, maxQueues+1)
	b.Queue(r.stmts.pauses)
	b.Queue(r.stmts.processes, sqlTime(now), maxProcesses+1)
	if r.opts.EstimateAbove > 0 {
		if !r.over[0] {
			b.Queue(r.stmts.succeeded, r.opts.EstimateAbove)
		}
		if !r.over[1] {
			b.Queue(r.stmts.discarded, r.opts.EstimateAbove)
		}
		b.Queue(r.stmts.succeededEstimate)
		b.Queue(r.stmts.discardedEstimate)
	} else {
		b.Queue(r.stmts.succeeded)
		b.Queue(r.stmts.discarded)
	}
	if r.opts.ByClassMaxEntries > 0 {
		b.Queue(r.stmts.byClass, r.opts.ByClassMaxEntries, sqlTime(now))
	}
	return b
}

// scrape is one snapshot being read.
type scrape struct {
	now      time.Time
	opts     *Options
	over     *[2]bool // the Reader's, read and updated
	problems snapshot.Problems

	queues  map[string]*queueFigures
	paused  map[string]bool
	procs   []snapshot.Process
	stale   int
	totals  snapshot.Totals
	hasLive bool

	terminal [2]terminalCount // succeeded, discarded
	byClass  snapshot.ClassCells
}

type queueFigures struct {
	queue              snapshot.Queue
	scheduled, retried int64
}

// terminalCount is a terminal state's figures: per queue while exact,
// else the global estimate.
type terminalCount struct {
	state     string
	perQueue  map[string]int64
	estimated bool
	total     int64
}

// read consumes the batch's results in the order Snapshot queued them.
func (sc *scrape) read(res pgx.BatchResults) error {
	if err := sc.readQueues(res); err != nil {
		return fmt.Errorf("good_job: reading good_jobs per queue: %w", err)
	}
	if err := sc.readPauses(res); err != nil {
		return fmt.Errorf("good_job: reading good_job_settings: %w", err)
	}
	if err := sc.readProcesses(res); err != nil {
		return fmt.Errorf("good_job: reading good_job_processes: %w", err)
	}
	sc.terminal = [2]terminalCount{{state: StateSucceeded}, {state: StateDiscarded}}
	capped := sc.opts.EstimateAbove > 0
	var counted [2]bool
	for i := range sc.terminal {
		if capped && sc.over[i] {
			continue // not counted: see Reader.over
		}
		over, err := sc.readTerminal(res, &sc.terminal[i])
		if err != nil {
			return fmt.Errorf("good_job: counting %s jobs: %w", sc.terminal[i].state, err)
		}
		counted[i] = true
		sc.over[i] = over
	}
	if capped {
		for i := range sc.terminal {
			t := &sc.terminal[i]
			est, err := readEstimate(res)
			if err != nil {
				return fmt.Errorf("good_job: estimating %s jobs: %w", t.state, err)
			}
			switch {
			case counted[i] && sc.over[i]:
				// The planner's guess may fall below the floor the capped
				// count just proved.
				t.estimated, t.total = true, max(est, sc.opts.EstimateAbove+1)
			case !counted[i]:
				t.estimated, t.total = true, est
				// Back at or below the threshold: count exactly again.
				sc.over[i] = est > sc.opts.EstimateAbove
			}
		}
	}
	if sc.opts.ByClassMaxEntries > 0 {
		if err := sc.readByClass(res); err != nil {
			return fmt.Errorf("good_job: reading the retried/discarded breakdown: %w", err)
		}
	}
	return nil
}

func (sc *scrape) readQueues(res pgx.BatchResults) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	sc.queues = make(map[string]*queueFigures)
	n := 0
	for rows.Next() {
		var (
			name                                         string
			queued, scheduled, retried, running, stalled int64
			noExecutions, noScheduledAt                  int64
			oldestQueued, oldestRunning                  *time.Time
		)
		if err := rows.Scan(&name, &queued, &oldestQueued, &scheduled, &retried, &running, &oldestRunning, &stalled,
			&noExecutions, &noScheduledAt); err != nil {
			return err
		}
		if n++; n > maxQueues {
			sc.problems.Add(kindRegistryTruncated, "good_jobs.queue_name",
				"more than "+strconv.Itoa(maxQueues)+" queues: the first ones by name are read")
			break
		}
		key := "good_jobs.queue_name=" + name
		name = sc.problems.Name(name, key, "queue name")
		f := sc.queueFigures(name)
		f.queue.Size += queued
		f.scheduled += scheduled
		f.retried += retried
		f.queue.Running += running
		f.queue.Stalled += stalled
		if oldestQueued != nil {
			f.queue.Latency = max(f.queue.Latency, snapshot.Age(sc.now, *oldestQueued))
		}
		if oldestRunning != nil {
			f.queue.RunningMaxAge = max(f.queue.RunningMaxAge, snapshot.Age(sc.now, *oldestRunning))
		}
		if noExecutions > 0 {
			sc.problems.Add(kindInvalidValue, key, strconv.FormatInt(noExecutions, 10)+
				" future jobs whose serialized_params executions is not an integer: counted neither scheduled nor retried")
		}
		if noScheduledAt > 0 {
			sc.problems.Add(kindMissingTimestamp, key, strconv.FormatInt(noScheduledAt, 10)+
				" unperformed jobs without scheduled_at: counted in no state")
		}
	}
	return rows.Err()
}

// queueFigures returns the figures of the queue called name (bounded),
// adding it when new. Two raw names bounded alike share one entry.
func (sc *scrape) queueFigures(name string) *queueFigures {
	f, ok := sc.queues[name]
	if !ok {
		f = &queueFigures{queue: snapshot.Queue{Name: name, PausedKnown: true}}
		sc.queues[name] = f
	}
	return f
}

func (sc *scrape) readPauses(res pgx.BatchResults) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	sc.paused = map[string]bool{}
	for rows.Next() {
		var value *string
		if err := rows.Scan(&value); err != nil {
			return err
		}
		if value == nil {
			continue
		}
		var pauses struct {
			Queues []string `json:"queues"`
		}
		if err := json.Unmarshal([]byte(*value), &pauses); err != nil {
			sc.problems.Add(kindInvalidJSON, "good_job_settings.pauses", "value: "+err.Error())
			continue
		}
		for _, q := range pauses.Queues {
			name := sc.problems.Name(q, "good_job_settings.pauses", "paused queue name")
			sc.paused[name] = true
			sc.queueFigures(name) // a paused queue without jobs is still a queue
		}
	}
	return rows.Err()
}

// readTerminal reads a terminal state's counts and says whether the state
// holds more rows than EstimateAbove (its counts are then not read).
func (sc *scrape) readTerminal(res pgx.BatchResults, t *terminalCount) (over bool, err error) {
	rows, err := res.Query()
	if err != nil {
		return false, err
	}
	defer rows.Close()
	t.perQueue = map[string]int64{}
	for rows.Next() {
		var (
			total bool
			queue *string
			n     int64
		)
		if err := rows.Scan(&total, &queue, &n); err != nil {
			return false, err
		}
		switch {
		case total:
			over = n > sc.opts.EstimateAbove
		case queue != nil: // jobs without a queue belong to no reported queue
			name, _, _ := snapshot.Name(*queue) // reported by readQueues already
			t.perQueue[name] += n
		}
	}
	return over, rows.Err()
}

// readEstimate reads the planner's estimate of a statement's rows.
func readEstimate(res pgx.BatchResults) (int64, error) {
	var plan string
	if err := res.QueryRow().Scan(&plan); err != nil {
		return 0, err
	}
	rows, ok := pgread.PlanRows(plan)
	if !ok {
		return 0, fmt.Errorf("unexpected EXPLAIN output %.80q", plan)
	}
	return rows, nil
}

func (sc *scrape) readByClass(res pgx.BatchResults) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var state string
		var class, errorType *string
		if err := rows.Scan(&state, &class, &errorType); err != nil {
			return err
		}
		key := "good_jobs." + state
		sc.byClass.Add(state, sc.problems.Name(deref(class), key, "job_class"), sc.problems.Name(deref(errorType), key, "error class"))
	}
	return rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// snapshot assembles what was read, keeping the selected queues.
func (sc *scrape) snapshot() *snapshot.Snapshot {
	s := &snapshot.Snapshot{
		System:         system,
		Time:           sc.now,
		DeadState:      StateDiscarded,
		Processes:      sc.procs,
		ProcessesStale: sc.stale,
	}
	names := make([]string, 0, len(sc.queues))
	for name := range sc.queues {
		names = append(names, name)
	}
	s.QueuesDiscovered = len(names)
	kept, dropped := sc.opts.Selection.Apply(names)
	s.QueuesDropped = dropped
	s.Queues = make([]snapshot.Queue, 0, len(kept))
	for _, name := range kept {
		f := sc.queues[name]
		f.queue.Paused = sc.paused[name]
		s.Queues = append(s.Queues, f.queue)
		s.Jobs = append(s.Jobs,
			snapshot.StateCount{State: StateQueued, Queue: name, Count: f.queue.Size},
			snapshot.StateCount{State: StateScheduled, Queue: name, Count: f.scheduled},
			snapshot.StateCount{State: StateRetried, Queue: name, Count: f.retried},
			snapshot.StateCount{State: StateRunning, Queue: name, Count: f.queue.Running},
		)
		for _, t := range sc.terminal {
			if !t.estimated {
				s.Jobs = append(s.Jobs, snapshot.StateCount{State: t.state, Queue: name, Count: t.perQueue[name]})
			}
		}
	}
	for _, t := range sc.terminal {
		if t.estimated {
			s.Jobs = append(s.Jobs, snapshot.StateCount{State: t.state, Count: t.total, Estimated: true})
		}
	}
	if sc.hasLive {
		s.Totals = []snapshot.Totals{sc.totals}
	}
	if sc.opts.ByClassMaxEntries > 0 {
		s.ByClass = sc.byClass.List()
	}
	sort.Slice(s.Processes, func(i, j int) bool { return s.Processes[i].ID < s.Processes[j].ID })
	s.Problems = sc.problems.List()
	return s
}
