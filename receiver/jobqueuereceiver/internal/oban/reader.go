// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package oban reads an Oban (Elixir) installation's state from its
// PostgreSQL table: queues, jobs per state and queue, executing jobs' ages
// and the retryable/discarded breakdown. It follows open-source Oban
// v2.23.0 (oban-bg/oban, migrations v01 to v14; testdata/schema.sql is the
// resulting DDL); the columns and states it reads exist since migration
// v09, and v14's suspended state is reported where the enum has it (the
// tests cover v14 and the enum before it). It never
// writes: every statement is a SELECT or an EXPLAIN on oban_jobs, so a
// role with SELECT on oban_jobs (and USAGE on its schema, Oban's prefix)
// is enough. No real Oban ran in its tests (Elixir is not installable
// here): rows are written with the statements Oban's Engines.Basic sends.
//
// # One round trip
//
// A snapshot is one pgx.Batch, which pgclient's simple query protocol sends
// as one message (one round trip, one implicit read-only transaction),
// whatever the number of queues. These are its statements, in order, with
// their cost on Oban's own indexes (T is oban_jobs, E oban_job_state):
//
//	-- the states of this installation's enum (planning only)
//	SELECT s::text FROM unnest(enum_range(NULL::E)) AS s
//	-- non-terminal states (available, suspended, scheduled, executing,
//	-- retryable: the enum's order puts them all before completed), an
//	-- index-only scan of oban_jobs_state_queue_priority_scheduled_at_id_index
//	-- over those rows only
//	SELECT state::text, queue, count(*), min(scheduled_at) FILTER (WHERE state = 'available')
//	  FROM T WHERE state < 'completed' GROUP BY state, queue LIMIT 100001
//	-- executing jobs: an index scan of state = 'executing' plus their heap
//	-- rows for attempted_at (as many as the queues' concurrency limits)
//	SELECT queue, min(attempted_at), count(*) FILTER (WHERE attempted_at < $stalled_before),
//	       count(*) FILTER (WHERE attempted_at IS NULL)
//	  FROM T WHERE state = 'executing' GROUP BY queue LIMIT 100001
//	-- the queues of the terminal states whose counts may miss some (see
//	-- below): a loose index scan, one index probe per (state, queue)
//	WITH RECURSIVE q(state, queue) AS (
//	  SELECT s, (SELECT min(queue) FROM T WHERE state = s) FROM unnest($states::E[]) AS s
//	  UNION ALL SELECT q.state, (SELECT min(queue) FROM T WHERE state = q.state AND queue > q.queue)
//	  FROM q WHERE q.queue IS NOT NULL)
//	SELECT queue FROM q WHERE queue IS NOT NULL LIMIT 100001
//	-- per terminal state (completed, discarded, cancelled) being counted: at
//	-- most EstimateAbove+1 rows read (the same index, or, for a state that
//	-- is most of the table, a sequential read that stops at the LIMIT)
//	SELECT queue, count(*) FROM (SELECT queue FROM T WHERE state = 'completed'
//	  LIMIT $estimate_above+1) AS j GROUP BY queue
//	-- and its planner's estimate (planning only, no table read), when
//	-- EstimateAbove > 0; Oban Met's oban_count_estimate asks the same
//	EXPLAIN (FORMAT JSON) SELECT 1 FROM T WHERE state = 'completed'
//	-- only with ByClassMaxEntries = N > 0: the newest N discarded jobs
//	-- (oban_jobs_state_discarded_at_index, backwards) and the N latest
//	-- failed retryable ones (a top-N sort of the retryable rows)
//	SELECT id, worker, cardinality(errors), jsonb_typeof(<last error>), left(<last error>->>'error', 512)
//	  FROM T WHERE state = 'discarded' ORDER BY discarded_at DESC LIMIT N  -- retryable: attempted_at DESC
//
// The terminal states are counted as Oban Met (the library behind Oban
// Web's counts) does: exactly while a state holds at most EstimateAbove
// jobs, per queue; beyond, one planner's estimate for the whole table
// (Met estimates per queue, with a function it creates: a read-only role
// cannot), marked Estimated. As in Met, the previous snapshot decides: a
// state found beyond EstimateAbove is only estimated (no row read, its
// queues listed by the loose index scan) until its estimate comes back to
// EstimateAbove or below; then it is counted again. A state not known yet
// (the first snapshot) is counted and its queues listed. With an
// EstimateAbove of 0 every state is counted exactly, per queue, whatever it
// costs, and no queue list is needed. The non-terminal states are always
// exact and per queue.
//
// # How the figures map
//
// Oban keeps no queue registry in the database (queues are the
// application's configuration; open-source producers live in memory): the
// queues are those with at least one job, filtered by the selection. Size
// is the count of available jobs and latency the age of their oldest
// scheduled_at (an available job waits since then: Oban inserts it with
// scheduled_at now, and its stager makes due scheduled and retryable jobs
// available without changing it), clamped at 0. Running is the count of
// executing jobs, their maximum age and the stalled count from
// attempted_at. Every state of oban_job_state is reported under its own
// name; the dead state is discarded (out of attempts, or discarded by the
// worker or by Lifeline); cancelled jobs are kept apart.
//
// What open-source Oban does not keep in its tables is not invented:
// pausing is a producer's in-memory state (Oban Pro keeps producers in
// oban_producers), so Paused is unknown; oban_peers holds only the leader's
// lease, not the nodes running jobs, so ProcessesUnknown is set; there are
// no execution totals.
//
// The breakdown's class is the job's worker. Oban records each failed
// attempt as {at, attempt, error} in errors, error being
// Exception.format's text ("** (RuntimeError) boom\n  stacktrace"): the
// error type is the exception's module (ErrorType), "" for a job without
// an error (Lifeline's discards).
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one
// of missing_timestamp (an executing job without attempted_at),
// invalid_error (a last errors entry that is not an object with an error
// string), invalid_estimate, unknown_state (an enum value after cancelled,
// which no statement reads), rows_truncated (more than 100,000 groups),
// name_too_long, invalid_utf8, too_many_problems. Every name reported goes
// through snapshot.Name.
package oban // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/oban"

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options = pgread.Options

// Job states (jobqueue.job.state): Oban's own oban_job_state values.
const (
	StateAvailable = "available"
	StateSuspended = "suspended"
	StateScheduled = "scheduled"
	StateExecuting = "executing"
	StateRetryable = "retryable"
	StateCompleted = "completed"
	StateDiscarded = "discarded"
	StateCancelled = "cancelled"
)

// terminalStates are the states a job never leaves by itself, which grow
// without bound unless Oban's Pruner deletes them: counted exactly up to
// EstimateAbove only. Every Oban schema since migration v09 has them.
var terminalStates = [...]string{StateCompleted, StateDiscarded, StateCancelled}

const (
	system = "oban"

	// maxGroups bounds the rows of each grouped statement (one per queue,
	// or per state and queue), so that a table flooded with distinct queue
	// names cannot exhaust memory; beyond it, a rows_truncated problem
	// says so.
	maxGroups = 100_000
	// errorHead is how much of an error's text is read: its first line
	// names the exception.
	errorHead = 512
)

// Problem kinds of this reader (snapshot.Problem.Kind).
const (
	kindTruncated        = "rows_truncated"
	kindMissingTimestamp = "missing_timestamp"
	kindInvalidError     = "invalid_error"
	kindInvalidEstimate  = "invalid_estimate"
	kindUnknownState     = "unknown_state"
)

// Reader takes snapshots of an Oban installation's tables.
type Reader struct {
	q    pgclient.Querier
	opts Options
	// stmts are the batch's statements, fixed at construction.
	stmts statements
	// seen holds, per terminal state, what the previous snapshot found
	// (unknown, within or beyond EstimateAbove).
	seen [len(terminalStates)]atomic.Int32
}

// What a snapshot learnt of a terminal state's size, for the next one.
const (
	// unknown: counted up to EstimateAbove+1 rows, its queues listed.
	unknown int32 = iota
	// within EstimateAbove: counted; the counts list its queues.
	within
	// beyond EstimateAbove: estimated only, its queues listed.
	beyond
)

// NewReader returns a reader of the oban_jobs table in opts.Schema.
func NewReader(q pgclient.Querier, opts Options) *Reader {
	return &Reader{q: q, opts: opts, stmts: newStatements(opts)}
}

// statements are the SQL texts of one snapshot's batch.
type statements struct {
	// states lists the oban_job_state values of this installation (v14
	// added suspended).
	states string
	// waiting counts the jobs of every non-terminal state per queue, with
	// the oldest available job's scheduled_at.
	waiting string
	// running reads the executing jobs per queue.
	running string
	// terminalQueues lists the queues holding jobs in the terminal states
	// given as its argument.
	terminalQueues string
	// terminal counts one terminal state per queue (up to EstimateAbove+1
	// rows when estimating), estimate asks the planner for its row count
	// (empty when counting exactly always).
	terminal, estimate [len(terminalStates)]string
	// discardedClasses and retryableClasses read the newest discarded and
	// retryable jobs for the breakdown (empty when it is off).
	discardedClasses, retryableClasses string
}

func newStatements(opts Options) statements {
	jobs := pgclient.Table(opts.Schema, "oban_jobs")
	enum := pgclient.Table(opts.Schema, "oban_job_state")
	var s statements
	s.states = "SELECT s::text FROM unnest(enum_range(NULL::" + enum + ")) AS s"
	// oban_job_state is ordered available, (suspended,) scheduled,
	// executing, retryable, completed, discarded, cancelled in every
	// version (v14 added suspended BEFORE 'scheduled', v09 cancelled at
	// the end): "< 'completed'" is every non-terminal state, suspended
	// included where it exists, as one range of the leading column of
	// oban_jobs_state_queue_priority_scheduled_at_id_index, which holds
	// every column read here.
	s.waiting = "SELECT state::text, queue, count(*), min(scheduled_at) FILTER (WHERE state = 'available') FROM " + jobs +
		" WHERE state < 'completed' GROUP BY state, queue LIMIT " + strconv.Itoa(maxGroups+1)
	// attempted_at is not indexed: the executing rows are fetched from the
	// heap, as few as the queues' concurrency limits allow.
	s.running = "SELECT queue, min(attempted_at), count(*) FILTER (WHERE attempted_at < $1::timestamp)," +
		" count(*) FILTER (WHERE attempted_at IS NULL) FROM " + jobs +
		" WHERE state = 'executing' GROUP BY queue LIMIT " + strconv.Itoa(maxGroups+1)
	// A loose index scan: per terminal state, the next queue name after
	// the last one found, one index probe per (state, queue), instead of
	// reading every completed job.
	s.terminalQueues = "WITH RECURSIVE q(state, queue) AS (" +
		"SELECT s, (SELECT min(queue) FROM " + jobs + " WHERE state = s)" +
		" FROM unnest($1::" + enum + "[]) AS s" +
		" UNION ALL SELECT q.state, (SELECT min(queue) FROM " + jobs + " WHERE state = q.state AND queue > q.queue)" +
		" FROM q WHERE q.queue IS NOT NULL)" +
		" SELECT queue FROM q WHERE queue IS NOT NULL LIMIT " + strconv.Itoa(maxGroups+1)
	for i, state := range terminalStates {
		if opts.EstimateAbove > 0 {
			// At most EstimateAbove+1 rows are read: more means the state
			// is beyond the bound and the estimate is used.
			s.terminal[i] = "SELECT queue, count(*) FROM (SELECT queue FROM " + jobs + " WHERE state = '" + state +
				"' LIMIT " + strconv.FormatInt(opts.EstimateAbove+1, 10) + ") AS j GROUP BY queue"
			// Oban Met's oban_count_estimate asks the same, per queue.
			s.estimate[i] = "EXPLAIN (FORMAT JSON) SELECT 1 FROM " + jobs + " WHERE state = '" + state + "'"
		} else {
			s.terminal[i] = "SELECT queue, count(*) FROM " + jobs + " WHERE state = '" + state +
				"' GROUP BY queue LIMIT " + strconv.Itoa(maxGroups+1)
		}
	}
	if n := opts.ByClassMaxEntries; n > 0 {
		last := "errors[cardinality(errors)]"
		cols := "SELECT id, worker, cardinality(errors), jsonb_typeof(" + last + "), left(" + last + "->>'error', " +
			strconv.Itoa(errorHead) + ") FROM " + jobs
		// oban_jobs_state_discarded_at_index, read backwards.
		s.discardedClasses = cols + " WHERE state = 'discarded' ORDER BY discarded_at DESC LIMIT " + strconv.Itoa(n)
		s.retryableClasses = cols + " WHERE state = 'retryable' ORDER BY attempted_at DESC LIMIT " + strconv.Itoa(n)
	}
	return s
}

// batch returns the statements in batch order, with their arguments,
// given what the previous snapshot found of each terminal state. Unless
// every state is counted exactly (EstimateAbove 0): a state within
// EstimateAbove is counted per queue, which also lists its queues; one
// beyond is only estimated, its queues listed by terminalQueues; one not
// known yet is both counted (up to EstimateAbove+1 rows) and listed. A
// state counted within that grew beyond is estimated at once, its queues
// listed from the next snapshot on.
func (s *statements) batch(stalledBefore any, seen [len(terminalStates)]int32) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(s.states)
	b.Queue(s.waiting)
	b.Queue(s.running, stalledBefore)
	if s.listsTerminalQueues(seen) {
		var listed []string
		for i, state := range terminalStates {
			if s.lists(i, seen) {
				listed = append(listed, state)
			}
		}
		b.Queue(s.terminalQueues, listed)
	}
	for i := range terminalStates {
		if seen[i] != beyond {
			b.Queue(s.terminal[i])
		}
		if s.estimate[i] != "" {
			b.Queue(s.estimate[i])
		}
	}
	if s.discardedClasses != "" {
		b.Queue(s.discardedClasses)
		b.Queue(s.retryableClasses)
	}
	return b
}

// lists says whether terminal state i's queues are listed by
// terminalQueues: those of a state not counted completely may be missing
// from its counts.
func (s *statements) lists(i int, seen [len(terminalStates)]int32) bool {
	return s.estimate[i] != "" && seen[i] != within
}

func (s *statements) listsTerminalQueues(seen [len(terminalStates)]int32) bool {
	for i := range terminalStates {
		if s.lists(i, seen) {
			return true
		}
	}
	return false
}

// scrape is one snapshot in the making.
type scrape struct {
	r        *Reader
	now      time.Time
	snap     *snapshot.Snapshot
	problems snapshot.Problems

	states []string
	// names bounds each raw queue name once; queues are keyed by the
	// bounded name.
	names  map[string]string
	queues map[string]*queueFigures
	// seen is what the previous snapshot found of each terminal state,
	// which decided the statements sent.
	seen [len(terminalStates)]int32
	// exact holds the terminal states counted per queue; the others are
	// in estimated (or unknown, when the estimate could not be read).
	exact     map[string]bool
	estimated []snapshot.StateCount
}

// queueFigures are one queue's figures before selection.
type queueFigures struct {
	counts  map[string]int64
	oldest  time.Time // oldest available job's scheduled_at; zero when none
	running snapshot.Queue
}

// Snapshot reads Oban's tables in one round trip.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	sc := &scrape{
		r: r, now: snapshot.Now(r.opts.Now),
		names: map[string]string{}, queues: map[string]*queueFigures{}, exact: map[string]bool{},
	}
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, DeadState: StateDiscarded, ProcessesUnknown: true}
	var stalledBefore any // NULL: no job is stalled
	if r.opts.StalledAfter > 0 {
		// oban_jobs' timestamps are UTC without a time zone.
		stalledBefore = sc.now.Add(-r.opts.StalledAfter).UTC().Format("2006-01-02 15:04:05.999999")
	}
	for i := range sc.seen {
		sc.seen[i] = r.seen[i].Load()
	}
	res := r.q.SendBatch(ctx, r.stmts.batch(stalledBefore, sc.seen))
	err := sc.read(res)
	if cerr := res.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("reading Oban's %s: %w", pgclient.Table(r.opts.Schema, "oban_jobs"), err)
	}
	sc.finish()
	return sc.snap, nil
}

// read consumes the batch's results in order.
func (sc *scrape) read(res pgx.BatchResults) error {
	s := &sc.r.stmts
	if err := sc.readStates(res); err != nil {
		return err
	}
	if err := sc.readWaiting(res); err != nil {
		return err
	}
	if err := sc.readRunning(res); err != nil {
		return err
	}
	if s.listsTerminalQueues(sc.seen) {
		if err := sc.readTerminalQueues(res); err != nil {
			return err
		}
	}
	for i := range terminalStates {
		if err := sc.readTerminal(res, i); err != nil {
			return err
		}
	}
	if s.discardedClasses != "" {
		var cells snapshot.ClassCells
		if err := sc.readClasses(res, &cells, StateDiscarded); err != nil {
			return err
		}
		if err := sc.readClasses(res, &cells, StateRetryable); err != nil {
			return err
		}
		sc.snap.ByClass = cells.List()
	}
	return nil
}

// readStates reads the enum's states, in its order: those before
// completed are counted by the waiting statement, then the terminal ones
// by their own. A state a later Oban might add after them is read by no
// statement: it is reported as a problem, not as 0.
func (sc *scrape) readStates(res pgx.BatchResults) error {
	rows, _ := res.Query()
	states, err := pgx.CollectRows(rows, pgx.RowTo[string])
	terminal := false
	for _, state := range states {
		terminal = terminal || state == StateCompleted
		if terminal && !isTerminal(state) {
			sc.problems.Add(kindUnknownState, "oban_job_state", "state "+state+" is not read")
			continue
		}
		sc.states = append(sc.states, state)
	}
	return err
}

// queue returns the figures of the queue called raw, bounding its name.
// Two raw names that bound to one (they differ only in invalid UTF-8) add
// up in one queue.
func (sc *scrape) queue(raw string) *queueFigures {
	name, ok := sc.names[raw]
	if !ok {
		name = sc.problems.Name(raw, "oban_jobs.queue", "queue name")
		sc.names[raw] = name
	}
	q, ok := sc.queues[name]
	if !ok {
		q = &queueFigures{counts: map[string]int64{}}
		sc.queues[name] = q
	}
	return q
}

func (sc *scrape) readWaiting(res pgx.BatchResults) error {
	rows, _ := res.Query()
	n := 0
	var state, queue string
	var count int64
	var oldest pgtype.Timestamp
	_, err := pgx.ForEachRow(rows, []any{&state, &queue, &count, &oldest}, func() error {
		if n++; n > maxGroups {
			return nil
		}
		q := sc.queue(queue)
		q.counts[state] += count
		if oldest.Valid && (q.oldest.IsZero() || oldest.Time.Before(q.oldest)) {
			q.oldest = oldest.Time
		}
		return nil
	})
	sc.truncated(n, "non-terminal jobs per state and queue")
	return err
}

func (sc *scrape) readRunning(res pgx.BatchResults) error {
	rows, _ := res.Query()
	n := 0
	var queue string
	var started pgtype.Timestamp
	var stalled, missing int64
	_, err := pgx.ForEachRow(rows, []any{&queue, &started, &stalled, &missing}, func() error {
		if n++; n > maxGroups {
			return nil
		}
		q := sc.queue(queue)
		if started.Valid {
			q.running.RunningMaxAge = max(q.running.RunningMaxAge, snapshot.Age(sc.now, started.Time))
		}
		q.running.Stalled += stalled
		if missing > 0 {
			sc.problems.Add(kindMissingTimestamp, "oban_jobs.attempted_at",
				strconv.FormatInt(missing, 10)+" executing jobs of queue "+sc.names[queue]+" have no attempted_at")
		}
		return nil
	})
	sc.truncated(n, "executing jobs per queue")
	return err
}

func (sc *scrape) readTerminalQueues(res pgx.BatchResults) error {
	rows, _ := res.Query()
	n := 0
	var queue string
	_, err := pgx.ForEachRow(rows, []any{&queue}, func() error {
		if n++; n <= maxGroups {
			sc.queue(queue)
		}
		return nil
	})
	sc.truncated(n, "queues of completed, discarded and cancelled jobs")
	return err
}

// readTerminal reads terminal state i's per-queue counts and the
// planner's estimate (in that order, each when sent). The counts are used
// when complete (within EstimateAbove), else the estimate; the next
// snapshot only estimates while the state stays beyond EstimateAbove.
func (sc *scrape) readTerminal(res pgx.BatchResults, i int) error {
	state := terminalStates[i]
	limit := sc.r.opts.EstimateAbove
	counted := sc.seen[i] != beyond
	type row struct {
		queue string
		count int64
	}
	var perQueue []row
	var total int64
	if counted {
		rows, _ := res.Query()
		var r row
		_, err := pgx.ForEachRow(rows, []any{&r.queue, &r.count}, func() error {
			if len(perQueue) <= maxGroups {
				perQueue = append(perQueue, r)
			}
			total += r.count
			return nil
		})
		if err != nil {
			return err
		}
		sc.truncated(len(perQueue), state+" jobs per queue")
		perQueue = perQueue[:min(len(perQueue), maxGroups)]
	}
	var plan string
	if limit > 0 {
		if err := res.QueryRow().Scan(&plan); err != nil {
			return err
		}
	}
	if counted && (limit == 0 || total <= limit) {
		sc.r.seen[i].Store(within)
		sc.exact[state] = true
		for _, r := range perQueue {
			sc.queue(r.queue).counts[state] += r.count
		}
		return nil
	}
	estimate, ok := pgread.PlanRows(plan)
	if !ok {
		sc.problems.Add(kindInvalidEstimate, "EXPLAIN oban_jobs state="+state, `no "Plan Rows" in the plan`)
		return nil
	}
	// Never below what was counted: the statistics may be older than
	// the rows.
	estimate = max(estimate, total)
	if estimate > limit {
		sc.r.seen[i].Store(beyond)
	} else {
		// Back within: counted next time, its queues listed too.
		sc.r.seen[i].Store(unknown)
	}
	sc.estimated = append(sc.estimated, snapshot.StateCount{State: state, Count: estimate, Estimated: true})
	return nil
}

// readClasses adds one state's newest jobs to the breakdown.
func (sc *scrape) readClasses(res pgx.BatchResults, cells *snapshot.ClassCells, state string) error {
	rows, _ := res.Query()
	var id int64
	var worker string
	var nErrors pgtype.Int4
	var kind, text pgtype.Text
	_, err := pgx.ForEachRow(rows, []any{&id, &worker, &nErrors, &kind, &text}, func() error {
		key := "oban_jobs id=" + strconv.FormatInt(id, 10)
		var errorType string
		switch {
		case !nErrors.Valid || nErrors.Int32 == 0:
			// Nothing recorded: Lifeline discards a job executing for too
			// long without an error.
		case kind.String != "object" || !text.Valid:
			sc.problems.Add(kindInvalidError, key, "last entry of errors is not an object with an error string")
		default:
			errorType = ErrorType(text.String)
		}
		cells.Add(state, sc.problems.Name(worker, key, "worker"), sc.problems.Name(errorType, key, "error type"))
		return nil
	})
	return err
}

// ErrorType is the exception name in an error Oban recorded
// (Exception.format: "** (RuntimeError) message", "** (exit) :killed",
// "** (EXIT from #PID<0.1.0>) ..."), "" when it names none. The pid of an
// exit signal is left out, so that each linked process's death is not a
// type of its own.
func ErrorType(text string) string {
	rest, ok := strings.CutPrefix(text, "** (")
	if !ok {
		return ""
	}
	end := strings.IndexAny(rest, ")\n")
	if end <= 0 || rest[end] != ')' {
		return ""
	}
	name := rest[:end]
	if strings.HasPrefix(name, "EXIT from ") {
		return "EXIT"
	}
	return name
}

// truncated records that a statement returned more than maxGroups rows
// (its LIMIT is maxGroups+1).
func (sc *scrape) truncated(n int, what string) {
	if n > maxGroups {
		sc.problems.Add(kindTruncated, "oban_jobs", "more than "+strconv.Itoa(maxGroups)+" rows of "+what+"; the rest is not reported")
	}
}

// finish selects the queues and lays out the snapshot.
func (sc *scrape) finish() {
	names := make([]string, 0, len(sc.queues))
	for name := range sc.queues {
		names = append(names, name)
	}
	kept, dropped := sc.r.opts.Selection.Apply(names)
	sc.snap.QueuesDiscovered = len(names)
	sc.snap.QueuesDropped = dropped
	sc.snap.Queues = make([]snapshot.Queue, 0, len(kept))
	for _, name := range kept {
		q := sc.queues[name]
		out := q.running
		out.Name = name
		out.Size = q.counts[StateAvailable]
		out.Running = q.counts[StateExecuting]
		if out.Size > 0 && !q.oldest.IsZero() {
			out.Latency = snapshot.Age(sc.now, q.oldest)
		}
		sc.snap.Queues = append(sc.snap.Queues, out)
		for _, state := range sc.states {
			if isTerminal(state) && !sc.exact[state] {
				continue // estimated for all queues, or unknown
			}
			sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: state, Queue: name, Count: q.counts[state]})
		}
	}
	sc.snap.Jobs = append(sc.snap.Jobs, sc.estimated...)
	sc.snap.Problems = sc.problems.List()
}

func isTerminal(state string) bool { return slices.Contains(terminalStates[:], state) }
