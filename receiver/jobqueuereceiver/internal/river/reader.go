// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package river reads a River (Go, riverqueue/river v0.51.2, schema
// migration 008) installation's state from its PostgreSQL tables: queues,
// jobs per state and queue, running jobs' ages and the retry/dead breakdown.
// It never writes: every statement is a SELECT or an EXPLAIN, so a role with
// SELECT on river_job and river_queue (and USAGE on their schema) is enough.
//
// # One round trip
//
// A snapshot is one pgx.Batch, which pgclient's simple query protocol sends
// as one message (one round trip, one implicit read-only transaction),
// whatever the number of queues. These are its statements, in order, with
// their cost on River's own indexes:
//
//	-- the queue registry and pausing (River's QueueList)
//	SELECT left(name, 512), paused_at IS NOT NULL FROM river_queue ORDER BY name LIMIT 100001
//	-- waiting states: an index-only scan of river_job_prioritized_fetching_index
//	-- (state, queue, priority, scheduled_at, id) over those states' rows only
//	SELECT state::text, queue, count(*), min(scheduled_at) FROM river_job
//	 WHERE state IN ('available', 'pending', 'retryable', 'scheduled')
//	 GROUP BY state, queue LIMIT 400001
//	-- running jobs: the same index's state = 'running' range, plus the heap
//	-- rows of the running jobs for attempted_at (as many as busy workers)
//	SELECT queue, count(*), min(attempted_at), count(*) FILTER (WHERE attempted_at < $cutoff),
//	       count(*) - count(attempted_at)
//	  FROM river_job WHERE state = 'running' GROUP BY queue LIMIT 100001
//	-- finalized states, each read up to EstimateAbove+1 rows (a LIMIT under
//	-- the GROUP BY; the same index, or a sequential read that stops at the
//	-- LIMIT when the state is most of the table): cost bounded by
//	-- EstimateAbove, not by the table. Only the states being counted (below).
//	SELECT 'completed', queue, count(*) FROM (SELECT queue FROM river_job
//	 WHERE state = 'completed' LIMIT $estimate_above+1) GROUP BY queue
//	UNION ALL ... 'cancelled' ... UNION ALL ... 'discarded' ...
//	-- the planner's estimate of each finalized state (planning only, no
//	-- table read); sent only when EstimateAbove > 0
//	EXPLAIN (FORMAT JSON) SELECT 1 FROM river_job WHERE state = 'completed'  -- also cancelled, discarded
//	-- only with ByClassMaxEntries = N > 0: the newest N discarded jobs
//	-- (river_job_state_and_finalized_at_index, backwards) and the N latest
//	-- failed retryable ones (a top-N sort of the retryable rows)
//	SELECT 'discarded', kind, <last errors entry> ... ORDER BY finalized_at DESC LIMIT N
//	UNION ALL SELECT 'retryable', kind, ... ORDER BY attempted_at DESC LIMIT N
//
// # How the figures map
//
// Queues are River's registry (river_queue: a row per queue some client
// served in the last 24 h) plus every queue that has jobs in a state read
// per queue, filtered by the selection. Size is the count of available jobs
// and latency the age of their oldest scheduled_at (an available job waits
// since then; River's own fetch orders by it), clamped at 0. Paused is
// river_queue.paused_at IS NOT NULL (a queue without a registry row is not
// paused: QueuePause only updates existing rows). Running, its maximum age
// and the stalled count come from running jobs' attempted_at.
//
// Every River state is reported by its own name: available, pending,
// retryable, running and scheduled per queue, always exactly; completed,
// cancelled and discarded per queue while a state holds at most
// EstimateAbove jobs, and beyond that as one figure for the whole table
// (no queue attribute), the planner's estimate, marked Estimated. A state
// found beyond EstimateAbove is not counted again (that would read
// EstimateAbove rows every scrape only to learn "more") until the
// planner's estimate, refreshed by autovacuum's ANALYZE, comes back to
// EstimateAbove or below; it is then counted exactly from the next
// snapshot on. An EstimateAbove of 0 counts every state exactly, per
// queue, whatever it costs. The dead state is discarded (out of attempts); cancelled jobs
// (JobCancel, or cancelled from a client) are kept apart.
//
// River keeps no worker or process registry in its open-source tables
// (river_client was dropped in migration 007; producers are River Pro's):
// ProcessesUnknown is set and no process figure is invented. Nor does it
// keep execution totals.
//
// The breakdown's class is the job's kind. River records an error's text,
// not its type, so the error type is derived: "panic" when the last
// attempt's error carries a trace (River records one only for panics),
// otherwise the text before its first ": " (for Go's "doing x: %w" errors,
// the outermost context, usually a constant of the worker's code) on one
// line, bounded like every name; "" when the job has no error recorded.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one
// of missing_timestamp (a running job without attempted_at), invalid_value
// (an errors entry that is not River's {at, attempt, error, trace} object,
// an unreadable EXPLAIN), rows_truncated (more queues than the reader
// reads), name_too_long, invalid_utf8, too_many_problems. Every name
// reported (queues, kinds, error types) goes through snapshot.Name.
package river // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/river"

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options = pgread.Options

// Job states (jobqueue.job.state): River's river_job_state enum.
const (
	StateAvailable = "available"
	StatePending   = "pending"
	StateRetryable = "retryable"
	StateRunning   = "running"
	StateScheduled = "scheduled"
	StateCompleted = "completed"
	StateCancelled = "cancelled"
	StateDiscarded = "discarded"
)

// waitingStates are the unfinished states other than running, counted per
// queue from the fetch index alone.
var waitingStates = []string{StateAvailable, StatePending, StateRetryable, StateScheduled}

// finalizedStates are the states River keeps jobs in once done with them
// (until its cleaner deletes them), which may hold most of the table.
var finalizedStates = []string{StateCompleted, StateCancelled, StateDiscarded}

const (
	system = "river"

	jobTable   = "river_job"
	queueTable = "river_queue"

	// maxQueues bounds the queue names read, so that a table flooded with
	// queue names cannot exhaust memory; beyond it rows_truncated says so.
	maxQueues = 100_000

	// maxRegistryNameLen bounds, in characters, the queue names read from
	// river_queue.
	maxRegistryNameLen = 512

	// maxErrorLen bounds, in characters, the error text read per job for
	// the breakdown: River keeps whole error strings, which may be large.
	maxErrorLen = 256
)

// Problem kinds of this reader (snapshot.Problem.Kind).
const (
	kindMissingTimestamp = "missing_timestamp"
	kindInvalidValue     = "invalid_value"
	kindRowsTruncated    = "rows_truncated"
)

// Reader takes snapshots of one River database.
type Reader struct {
	q    pgclient.Querier
	opts Options
	sql  statements

	// mu guards estimating across snapshots.
	mu sync.Mutex
	// estimating are the finalized states the last snapshot found beyond
	// EstimateAbove (or whose estimate it reported): they are not counted
	// again, which would read EstimateAbove rows every scrape only to learn
	// "more", until the planner's estimate comes down to EstimateAbove.
	estimating map[string]bool
}

var _ snapshot.Reader = (*Reader)(nil)

// statements are the reader's SQL, built once for the schema.
type statements struct {
	queues, waiting, running, byClass string
	// finalized are, by state, the per-queue counts of the finalized
	// states (a snapshot joins those it counts in one statement), and
	// estimates the EXPLAIN statements, empty when EstimateAbove is 0.
	finalized, estimates map[string]string
}

// NewReader returns a reader that sends its statements through q.
func NewReader(q pgclient.Querier, opts Options) *Reader {
	if opts.Schema == "" {
		opts.Schema = pgclient.DefaultSchema
	}
	return &Reader{q: q, opts: opts, sql: buildStatements(opts), estimating: map[string]bool{}}
}

func buildStatements(opts Options) statements {
	jobs := pgclient.Table(opts.Schema, jobTable)
	var s statements
	// river_queue.name has no length check (River's clients write names
	// of at most 64 characters; river_job.queue is held under 128): a
	// longer one is not River's, and is cut in the database.
	s.queues = fmt.Sprintf(`SELECT left(name, %d), paused_at IS NOT NULL FROM %s ORDER BY name LIMIT %d`,
		maxRegistryNameLen, pgclient.Table(opts.Schema, queueTable), maxQueues+1)
	s.waiting = fmt.Sprintf(`SELECT state::text, queue, count(*), min(scheduled_at) FROM %s WHERE state IN (%s) GROUP BY state, queue LIMIT %d`,
		jobs, quoteList(waitingStates), len(waitingStates)*maxQueues+1)
	s.running = fmt.Sprintf(`SELECT queue, count(*), min(attempted_at), count(*) FILTER (WHERE attempted_at < $1), count(*) - count(attempted_at) FROM %s WHERE state = 'running' GROUP BY queue LIMIT %d`,
		jobs, maxQueues+1)
	s.finalized = make(map[string]string, len(finalizedStates))
	s.estimates = make(map[string]string, len(finalizedStates))
	for _, state := range finalizedStates {
		from := fmt.Sprintf(`%s WHERE state = '%s'`, jobs, state)
		if opts.EstimateAbove > 0 {
			// The LIMIT bounds the rows read; a sum beyond EstimateAbove
			// means "more", and the estimate is reported instead.
			from = fmt.Sprintf(`(SELECT queue FROM %s LIMIT %d) AS j`, from, opts.EstimateAbove+1)
			s.estimates[state] = fmt.Sprintf(`EXPLAIN (FORMAT JSON) SELECT 1 FROM %s WHERE state = '%s'`, jobs, state)
		}
		s.finalized[state] = fmt.Sprintf(`(SELECT '%s', queue, count(*) FROM %s GROUP BY queue LIMIT %d)`, state, from, maxQueues+1)
	}
	if n := opts.ByClassMaxEntries; n > 0 {
		// The last entry of errors is the last attempt's; its text is cut
		// in the database so that huge messages never travel.
		last := fmt.Sprintf(`jsonb_typeof(e), left(e->>'error', %d), coalesce(e->>'trace', '') <> ''`, maxErrorLen)
		s.byClass = fmt.Sprintf(`(SELECT 'discarded', kind, %[1]s FROM (SELECT kind, errors[array_upper(errors, 1)] AS e FROM %[2]s WHERE state = 'discarded' AND finalized_at IS NOT NULL ORDER BY finalized_at DESC LIMIT %[3]d) AS d)`+
			` UNION ALL (SELECT 'retryable', kind, %[1]s FROM (SELECT kind, errors[array_upper(errors, 1)] AS e FROM %[2]s WHERE state = 'retryable' ORDER BY attempted_at DESC NULLS LAST LIMIT %[3]d) AS r)`,
			last, jobs, n)
	}
	return s
}

func quoteList(states []string) string {
	q := make([]string, len(states))
	for i, s := range states {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ", ")
}

// Snapshot reads River's state in one round trip. It fails only when the
// database cannot be read (unreachable, timeout, a missing table or right);
// bad data is skipped and listed in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now), queues: map[string]*queueRead{}}
	for _, state := range finalizedStates {
		if !r.estimating[state] {
			sc.counted = append(sc.counted, state)
		}
	}
	if err := sc.read(ctx); err != nil {
		return nil, err
	}
	return sc.build(), nil
}

// scrape is the state of one Snapshot call.
type scrape struct {
	r        *Reader
	now      time.Time
	problems snapshot.Problems

	// queues are every queue name seen, by raw name.
	queues map[string]*queueRead
	// counted are the finalized states this snapshot counts.
	counted []string
	// finalized are the per-queue counts of the finalized states, kept
	// apart until it is known whether each state went beyond EstimateAbove.
	finalized []finalizedCount
	// estimates are the planner's row estimates of the finalized states.
	estimates map[string]int64
	byClass   snapshot.ClassCells
}

// queueRead is what the statements told of one queue.
type queueRead struct {
	paused bool
	// counts by state; oldestAvailable is min(scheduled_at) of available.
	counts          map[string]int64
	oldestAvailable time.Time
	oldestRunning   time.Time
	stalled         int64
}

func (sc *scrape) queue(name string) *queueRead {
	q := sc.queues[name]
	if q == nil {
		q = &queueRead{counts: map[string]int64{}}
		sc.queues[name] = q
	}
	return q
}

// read sends the batch and reads every result.
func (sc *scrape) read(ctx context.Context) error {
	s := &sc.r.sql
	b := &pgx.Batch{}
	b.Queue(s.queues)
	b.Queue(s.waiting)
	var cutoff *time.Time // NULL: no job is older than it
	if sc.r.opts.StalledAfter > 0 {
		c := sc.now.Add(-sc.r.opts.StalledAfter)
		cutoff = &c
	}
	b.Queue(s.running, cutoff)
	if len(sc.counted) > 0 {
		parts := make([]string, len(sc.counted))
		for i, state := range sc.counted {
			parts[i] = s.finalized[state]
		}
		b.Queue(strings.Join(parts, " UNION ALL "))
	}
	for _, state := range finalizedStates {
		if e, ok := s.estimates[state]; ok {
			b.Queue(e)
		}
	}
	if s.byClass != "" {
		b.Queue(s.byClass)
	}
	res := sc.r.q.SendBatch(ctx, b)
	err := sc.readResults(res)
	if closeErr := res.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("%s: read %s and %s: %w", system, jobTable, queueTable, err)
	}
	return nil
}

func (sc *scrape) readResults(res pgx.BatchResults) error {
	s := &sc.r.sql
	if err := sc.readQueues(res); err != nil {
		return err
	}
	if err := sc.readWaiting(res); err != nil {
		return err
	}
	if err := sc.readRunning(res); err != nil {
		return err
	}
	if len(sc.counted) > 0 {
		if err := sc.readFinalized(res); err != nil {
			return err
		}
	}
	if len(s.estimates) > 0 {
		sc.estimates = make(map[string]int64, len(s.estimates))
		for _, state := range finalizedStates {
			if err := sc.readEstimate(res, state); err != nil {
				return err
			}
		}
	}
	if s.byClass != "" {
		return sc.readByClass(res)
	}
	return nil
}

// each reads every row of the next result, calling scan on each, and
// records a truncation when the result has limit rows or more (each
// statement asks for one row more than it keeps).
func each(res pgx.BatchResults, sc *scrape, what string, limit int, scan func(pgx.Rows) error) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n++; n >= limit {
			sc.problems.Add(kindRowsTruncated, what, "more than "+strconv.Itoa(limit-1)+" rows; the rest not read")
			break
		}
		if err := scan(rows); err != nil {
			return err
		}
	}
	rows.Close()
	return rows.Err()
}

func (sc *scrape) readQueues(res pgx.BatchResults) error {
	return each(res, sc, queueTable, maxQueues+1, func(rows pgx.Rows) error {
		var name string
		var paused bool
		if err := rows.Scan(&name, &paused); err != nil {
			return err
		}
		sc.queue(name).paused = paused
		return nil
	})
}

func (sc *scrape) readWaiting(res pgx.BatchResults) error {
	return each(res, sc, jobTable, len(waitingStates)*maxQueues+1, func(rows pgx.Rows) error {
		var state, name string
		var n int64
		var oldest time.Time
		if err := rows.Scan(&state, &name, &n, &oldest); err != nil {
			return err
		}
		q := sc.queue(name)
		q.counts[state] = n
		if state == StateAvailable {
			q.oldestAvailable = oldest
		}
		return nil
	})
}

func (sc *scrape) readRunning(res pgx.BatchResults) error {
	return each(res, sc, jobTable, maxQueues+1, func(rows pgx.Rows) error {
		var name string
		var n, stalled, untimed int64
		var oldest *time.Time
		if err := rows.Scan(&name, &n, &oldest, &stalled, &untimed); err != nil {
			return err
		}
		q := sc.queue(name)
		q.counts[StateRunning] = n
		q.stalled = stalled
		if oldest != nil {
			q.oldestRunning = *oldest
		}
		if untimed > 0 {
			sc.problems.Add(kindMissingTimestamp, jobTable, strconv.FormatInt(untimed, 10)+" running jobs without attempted_at")
		}
		return nil
	})
}

// finalizedCount is one row of the finalized states' statement.
type finalizedCount struct {
	state, queue string
	n            int64
}

func (sc *scrape) readFinalized(res pgx.BatchResults) error {
	return each(res, sc, jobTable, len(finalizedStates)*maxQueues+1, func(rows pgx.Rows) error {
		var c finalizedCount
		if err := rows.Scan(&c.state, &c.queue, &c.n); err != nil {
			return err
		}
		sc.finalized = append(sc.finalized, c)
		return nil
	})
}

// countFinalized adds the finalized states counted exactly to their
// queues, decides which states the next snapshot counts, and returns the
// states not counted exactly: those this snapshot did not count, and those
// that went beyond EstimateAbove, whose per-queue rows cover only the
// first EstimateAbove+1 jobs read, so that they neither count nor reveal
// queues.
func (sc *scrape) countFinalized() (over map[string]bool) {
	limit := sc.r.opts.EstimateAbove
	over = make(map[string]bool, len(finalizedStates))
	if limit > 0 {
		sums := make(map[string]int64, len(finalizedStates))
		for _, c := range sc.finalized {
			sums[c.state] += c.n
		}
		for _, state := range finalizedStates {
			est, known := sc.estimates[state]
			if sc.r.estimating[state] {
				over[state] = true
				// Counted again once the planner sees it back within
				// limit, or when its estimate is unreadable.
				sc.r.estimating[state] = known && est > limit
				continue
			}
			over[state] = sums[state] > limit
			sc.r.estimating[state] = over[state] && known
		}
	}
	for _, c := range sc.finalized {
		if !over[c.state] {
			sc.queue(c.queue).counts[c.state] = c.n
		}
	}
	return over
}

// readEstimate reads the planner's estimate of a state's rows.
func (sc *scrape) readEstimate(res pgx.BatchResults, state string) error {
	var plan string
	if err := res.QueryRow().Scan(&plan); err != nil {
		return err
	}
	rows, ok := pgread.PlanRows(plan)
	if !ok {
		sc.problems.Add(kindInvalidValue, jobTable, "no Plan Rows in the EXPLAIN of state "+state)
		return nil
	}
	sc.estimates[state] = rows
	return nil
}

func (sc *scrape) readByClass(res pgx.BatchResults) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var state, kind string
		var typ, msg *string
		var panicked *bool
		if err := rows.Scan(&state, &kind, &typ, &msg, &panicked); err != nil {
			return err
		}
		sc.byClass.Add(state, sc.problems.Name(kind, jobTable, "kind"), sc.errorType(typ, msg, panicked))
	}
	return rows.Err()
}

// errorType derives the breakdown's error type from the last errors entry:
// its JSON type, its error text (cut to maxErrorLen) and whether it has a
// trace.
func (sc *scrape) errorType(typ, msg *string, panicked *bool) string {
	switch {
	case typ == nil: // no error recorded
		return ""
	case *typ != "object" || msg == nil:
		sc.problems.Add(kindInvalidValue, jobTable, "errors entry is not an object with an error text")
		return ""
	case panicked != nil && *panicked:
		return "panic"
	}
	t, _, _ := strings.Cut(*msg, ": ")
	t, _, _ = strings.Cut(t, "\n")
	return sc.problems.Name(strings.TrimSpace(t), jobTable, "error type")
}

// build turns what was read into the snapshot.
func (sc *scrape) build() *snapshot.Snapshot {
	snap := &snapshot.Snapshot{
		System: system, Time: sc.now, DeadState: StateDiscarded,
		// No process registry in open-source River.
		ProcessesUnknown: true,
	}
	over := sc.countFinalized()
	for _, state := range finalizedStates {
		// Without an estimate (recorded as a problem), a state beyond
		// EstimateAbove is not reported rather than reported short.
		if est, ok := sc.estimates[state]; ok && over[state] {
			snap.Jobs = append(snap.Jobs, snapshot.StateCount{State: state, Count: est, Estimated: true})
		}
	}
	names := make([]string, 0, len(sc.queues))
	for name := range sc.queues {
		names = append(names, name)
	}
	snap.QueuesDiscovered = len(names)
	kept, dropped := sc.r.opts.Selection.Apply(names)
	snap.QueuesDropped = dropped

	snap.Queues = make([]snapshot.Queue, 0, len(kept))
	for _, raw := range kept {
		q := sc.queues[raw]
		name := sc.problems.Name(raw, jobTable, "queue name")
		out := snapshot.Queue{
			Name: name, Size: q.counts[StateAvailable],
			Paused: q.paused, PausedKnown: true,
			Running: q.counts[StateRunning], Stalled: q.stalled,
		}
		if out.Size > 0 {
			out.Latency = snapshot.Age(sc.now, q.oldestAvailable)
		}
		if out.Running > 0 && !q.oldestRunning.IsZero() {
			out.RunningMaxAge = snapshot.Age(sc.now, q.oldestRunning)
		}
		snap.Queues = append(snap.Queues, out)
		for _, state := range waitingStates {
			snap.Jobs = append(snap.Jobs, snapshot.StateCount{State: state, Queue: name, Count: q.counts[state]})
		}
		snap.Jobs = append(snap.Jobs, snapshot.StateCount{State: StateRunning, Queue: name, Count: q.counts[StateRunning]})
		for _, state := range finalizedStates {
			if !over[state] {
				snap.Jobs = append(snap.Jobs, snapshot.StateCount{State: state, Queue: name, Count: q.counts[state]})
			}
		}
	}
	if sc.r.opts.ByClassMaxEntries > 0 {
		snap.ByClass = sc.byClass.List()
	}
	snap.Problems = sc.problems.List()
	return snap
}
