// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/solidqueue"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options = pgread.Options

// Job states (jobqueue.job.state): the execution table holding a job, in
// Solid Queue's own words (Job#status, Mission Control's statuses), plus
// finished jobs (finished_at set, kept while preserve_finished_jobs).
const (
	StateReady     = "ready"
	StateScheduled = "scheduled"
	StateClaimed   = "claimed"
	StateBlocked   = "blocked"
	StateFailed    = "failed"
	StateFinished  = "finished"
)

// Problem kinds of this reader (snapshot.Problem.Kind).
const (
	kindInvalidJSON   = "invalid_json"
	kindInvalidValue  = "invalid_value"
	kindRowsTruncated = "rows_truncated"
)

const (
	system = "solid_queue"

	// maxQueueNames and maxProcesses bound the rows read, so that a table
	// flooded with garbage cannot exhaust memory; beyond them
	// rows_truncated says so.
	maxQueueNames = 10_000
	maxProcesses  = 10_000
	// metadataPrefix and errorPrefix bound the bytes read of
	// solid_queue_processes.metadata and solid_queue_failed_executions.error
	// (whose backtrace can be long). Rails writes exception_class first, so
	// the prefix holds it.
	metadataPrefix = 8192
	errorPrefix    = 2048

	// processAliveThreshold is SolidQueue.process_alive_threshold's
	// default: a process whose heartbeat is older is pruned by the
	// supervisor, its claimed jobs failed.
	processAliveThreshold = 5 * time.Minute
)

// Tables, without schema.
const (
	tJobs      = "solid_queue_jobs"
	tReady     = "solid_queue_ready_executions"
	tScheduled = "solid_queue_scheduled_executions"
	tClaimed   = "solid_queue_claimed_executions"
	tBlocked   = "solid_queue_blocked_executions"
	tFailed    = "solid_queue_failed_executions"
	tPauses    = "solid_queue_pauses"
	tProcesses = "solid_queue_processes"
)

// Reader takes snapshots of one Solid Queue database.
type Reader struct {
	q    pgclient.Querier
	opts Options

	queuesSQL, runningSQL, processesSQL, byClassSQL string
	bounded                                         []*boundedState
}

var _ snapshot.Reader = (*Reader)(nil)

// boundedState is a state counted per queue up to EstimateAbove rows and
// estimated beyond: its own table has no index by queue (or, for failed
// and finished, it grows without bound).
type boundedState struct {
	state string
	// beyond is set while the state is past EstimateAbove: the last count
	// found more rows and the planner still estimates more. Snapshots then
	// send only explainSQL, so that a huge table (finished jobs) does not
	// cost a capped count of EstimateAbove+1 rows at every scrape; once the
	// estimate falls within the bound, the next snapshot counts again.
	beyond atomic.Bool
	// countSQL returns (is_total, queue, count) rows: with EstimateAbove,
	// first the total capped at EstimateAbove+1, then the count per queue
	// only when the total is within EstimateAbove.
	countSQL string
	// explainSQL is EXPLAIN (FORMAT JSON) of all the state's rows ("" when
	// EstimateAbove is 0): its "Plan Rows" is the estimate.
	explainSQL string
}

// NewReader returns a reader that sends its statements through q.
func NewReader(q pgclient.Querier, opts Options) *Reader {
	if opts.Schema == "" {
		opts.Schema = pgclient.DefaultSchema
	}
	t := func(name string) string { return pgclient.Table(opts.Schema, name) }
	r := &Reader{q: q, opts: opts}

	// Queues: Solid Queue has no registry; SolidQueue::Queue.all is the
	// distinct queue_name of solid_queue_jobs, read as its
	// distinct_values_of does on PostgreSQL (a loose index scan over
	// index_solid_queue_jobs_for_filtering, one probe per queue), plus
	// paused queues. Size and latency (count and min(created_at), as
	// Queue#size and Queue#latency) come from one lateral pass per queue
	// over its ready executions, found by index_solid_queue_poll_by_queue:
	// no index covers created_at, so each ready row is visited once (an
	// index (queue_name, created_at), if the application adds one, is
	// used by the planner for the minimum).
	r.queuesSQL = fmt.Sprintf(`WITH RECURSIVE t(name) AS (
  (SELECT queue_name FROM %[1]s ORDER BY queue_name LIMIT 1)
  UNION ALL
  SELECT (SELECT j.queue_name FROM %[1]s j WHERE j.queue_name > t.name ORDER BY j.queue_name LIMIT 1)
  FROM t WHERE t.name IS NOT NULL
), names(name) AS (
  (SELECT name FROM t WHERE name IS NOT NULL LIMIT %[4]d)
  UNION
  (SELECT queue_name FROM %[3]s LIMIT %[4]d)
)
SELECT n.name, r.size, r.oldest, EXISTS (SELECT 1 FROM %[3]s p WHERE p.queue_name = n.name)
FROM names n
CROSS JOIN LATERAL (SELECT count(*) AS size, min(r.created_at) AS oldest FROM %[2]s r WHERE r.queue_name = n.name) r`, t(tJobs), t(tReady), t(tPauses), maxQueueNames+1)

	// Running: claimed executions are one per busy thread. Their queue is
	// their job's, found by primary key (a SubPlan, never a scan of
	// solid_queue_jobs). $1 is the stalled cut-off; datetime columns hold
	// UTC, as Rails writes them.
	r.runningSQL = fmt.Sprintf(`SELECT name, count(*), min(created_at),
  count(*) FILTER (WHERE created_at < ($1::timestamptz AT TIME ZONE 'UTC'))
FROM (SELECT (SELECT j.queue_name FROM %[1]s j WHERE j.id = c.job_id) AS name, c.created_at FROM %[2]s c) x
GROUP BY name`, t(tJobs), t(tClaimed))

	jobQueue := fmt.Sprintf("(SELECT j.queue_name FROM %s j WHERE j.id = e.job_id)", t(tJobs))
	for _, s := range []struct{ state, table, queue, where string }{
		{StateScheduled, t(tScheduled), "e.queue_name", "true"},
		{StateBlocked, t(tBlocked), "e.queue_name", "true"},
		{StateFailed, t(tFailed), jobQueue, "true"},
		{StateFinished, t(tJobs), "e.queue_name", "e.finished_at IS NOT NULL"},
	} {
		r.bounded = append(r.bounded, newBoundedState(s.state, s.table, s.queue, s.where, opts.EstimateAbove))
	}

	// Processes, busy = their claimed executions
	// (index_solid_queue_claimed_executions_on_process_id_and_job_id).
	r.processesSQL = fmt.Sprintf(`SELECT p.id, p.kind, p.name, coalesce(p.hostname, ''), p.pid, p.last_heartbeat_at,
  left(coalesce(p.metadata, ''), %[3]d),
  (SELECT count(*) FROM %[2]s c WHERE c.process_id = p.id)
FROM %[1]s p ORDER BY p.id LIMIT %[4]d`, t(tProcesses), t(tClaimed), metadataPrefix, maxProcesses+1)

	if opts.ByClassMaxEntries > 0 {
		r.byClassSQL = fmt.Sprintf(`SELECT f.id, (SELECT j.class_name FROM %[1]s j WHERE j.id = f.job_id), left(f.error, %[3]d)
FROM %[2]s f ORDER BY f.id DESC LIMIT %[4]d`, t(tJobs), t(tFailed), errorPrefix, opts.ByClassMaxEntries)
	}
	return r
}

func newBoundedState(state, table, queue, where string, above int64) *boundedState {
	if above <= 0 {
		return &boundedState{state: state, countSQL: fmt.Sprintf(
			`SELECT false, q, count(*) FROM (SELECT %[3]s AS q FROM %[1]s e WHERE %[2]s) x GROUP BY q`, table, where, queue)}
	}
	// The per-queue branch runs only when the capped total is within the
	// bound (a One-Time Filter): beyond it, nothing past EstimateAbove+1
	// rows is read.
	return &boundedState{
		state: state,
		countSQL: fmt.Sprintf(`WITH total AS (SELECT count(*) AS n FROM (SELECT 1 FROM %[1]s e WHERE %[2]s LIMIT %[4]d) x)
SELECT true, NULL::text, n FROM total
UNION ALL
SELECT false, q, count(*) FROM (SELECT %[3]s AS q FROM %[1]s e WHERE %[2]s AND (SELECT n FROM total) <= %[5]d) x GROUP BY q`,
			table, where, queue, above+1, above),
		explainSQL: fmt.Sprintf(`EXPLAIN (FORMAT JSON) SELECT 1 FROM %s e WHERE %s`, table, where),
	}
}

// statement is one statement of the batch.
type statement struct {
	sql  string
	args []any
}

// statements are the batch one snapshot sends, in the order Snapshot reads
// the results; counted[i] says whether the count of r.bounded[i] is sent
// (else only its estimate).
func (r *Reader) statements(now time.Time) (out []statement, counted []bool) {
	cutoff := now.Add(-r.opts.StalledAfter).UTC().Format(time.RFC3339Nano)
	out = []statement{{sql: r.queuesSQL}, {sql: r.runningSQL, args: []any{cutoff}}}
	counted = make([]bool, len(r.bounded))
	for i, b := range r.bounded {
		if counted[i] = !b.beyond.Load(); counted[i] {
			out = append(out, statement{sql: b.countSQL})
		}
		if b.explainSQL != "" {
			out = append(out, statement{sql: b.explainSQL})
		}
	}
	out = append(out, statement{sql: r.processesSQL})
	if r.byClassSQL != "" {
		out = append(out, statement{sql: r.byClassSQL})
	}
	return out, counted
}

// Snapshot reads Solid Queue's state in one round trip (one batch). It
// fails only when the database cannot be read (unreachable, timeout, a
// missing table or right); bad data is skipped and listed in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	now := snapshot.Now(r.opts.Now)
	b := &pgx.Batch{}
	statements, counted := r.statements(now)
	for _, s := range statements {
		b.Queue(s.sql, s.args...)
	}
	res := r.q.SendBatch(ctx, b)
	sc := &scrape{r: r, now: now, res: res, counted: counted}
	sc.snap = &snapshot.Snapshot{System: system, Time: now, DeadState: StateFailed}
	err := sc.read()
	if closeErr := res.Close(); err == nil && closeErr != nil {
		err = fmt.Errorf("%s: read: %w", system, closeErr)
	}
	if err != nil {
		return nil, err
	}
	sc.snap.Problems = sc.problems.List()
	return sc.snap, nil
}

// scrape is the state of one Snapshot call.
type scrape struct {
	r        *Reader
	now      time.Time
	res      pgx.BatchResults
	counted  []bool
	snap     *snapshot.Snapshot
	problems snapshot.Problems

	// queues are the selected queues, in report order; index maps a raw
	// name to its position.
	queues []queueRow
	index  map[string]int
}

type queueRow struct {
	raw    string
	size   int64
	oldest *time.Time
	paused bool
}

// read reads the batch's results in the order of Reader.statements.
func (sc *scrape) read() error {
	if err := sc.readQueues(); err != nil {
		return err
	}
	if err := sc.readRunning(); err != nil {
		return err
	}
	for i, b := range sc.r.bounded {
		if err := sc.readBounded(b, sc.counted[i]); err != nil {
			return err
		}
	}
	if err := sc.readProcesses(); err != nil {
		return err
	}
	if sc.r.byClassSQL != "" {
		return sc.readByClass()
	}
	return nil
}

// each runs fn on every row of the next result, naming stage in errors.
func (sc *scrape) each(stage string, fn func(pgx.Rows) error) error {
	rows, err := sc.res.Query()
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", system, stage, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return fmt.Errorf("%s: read %s: %w", system, stage, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: read %s: %w", system, stage, err)
	}
	return nil
}

func (sc *scrape) readQueues() error {
	byName := map[string]queueRow{}
	err := sc.each("queues", func(rows pgx.Rows) error {
		var q queueRow
		if err := rows.Scan(&q.raw, &q.size, &q.oldest, &q.paused); err != nil {
			return err
		}
		byName[q.raw] = q
		return nil
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	if len(names) > maxQueueNames {
		// Keep the first names in order: the loose index scan reads them
		// in order, so the report is stable from one scrape to the next.
		sort.Strings(names)
		names = names[:maxQueueNames]
		sc.problems.Add(kindRowsTruncated, tJobs, "more than "+strconv.Itoa(maxQueueNames)+" queue names; the rest are not read")
	}
	sc.snap.QueuesDiscovered = len(names)
	kept, dropped := sc.r.opts.Selection.Apply(names)
	sc.snap.QueuesDropped = dropped
	sc.queues = make([]queueRow, len(kept))
	sc.index = make(map[string]int, len(kept))
	sc.snap.Queues = make([]snapshot.Queue, len(kept))
	for i, raw := range kept {
		q := byName[raw]
		sc.queues[i] = q
		sc.index[raw] = i
		out := snapshot.Queue{
			Name:        sc.problems.Name(raw, tJobs, "queue name"),
			Size:        q.size,
			Paused:      q.paused,
			PausedKnown: true,
		}
		if q.oldest != nil {
			out.Latency = snapshot.Age(sc.now, *q.oldest)
		}
		sc.snap.Queues[i] = out
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: StateReady, Queue: out.Name, Count: q.size})
	}
	return nil
}

func (sc *scrape) readRunning() error {
	running := make([]int64, len(sc.queues))
	err := sc.each("claimed executions", func(rows pgx.Rows) error {
		var (
			name           *string
			count, stalled int64
			oldest         time.Time
		)
		if err := rows.Scan(&name, &count, &oldest, &stalled); err != nil {
			return err
		}
		if name == nil { // no job row: cannot happen with the foreign key
			return nil
		}
		i, ok := sc.index[*name]
		if !ok {
			return nil
		}
		q := &sc.snap.Queues[i]
		q.Running = count
		q.RunningMaxAge = snapshot.Age(sc.now, oldest)
		if sc.r.opts.StalledAfter > 0 {
			q.Stalled = stalled
		}
		running[i] = count
		return nil
	})
	if err != nil {
		return err
	}
	for i, q := range sc.snap.Queues {
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: StateClaimed, Queue: q.Name, Count: running[i]})
	}
	return nil
}

func (sc *scrape) readBounded(b *boundedState, counted bool) error {
	total := int64(-1) // no total row: always exact
	perQueue := make([]int64, len(sc.queues))
	if counted {
		err := sc.each(b.state+" counts", func(rows pgx.Rows) error {
			var (
				isTotal bool
				name    *string
				n       int64
			)
			if err := rows.Scan(&isTotal, &name, &n); err != nil {
				return err
			}
			if isTotal {
				total = n
				return nil
			}
			if name == nil {
				return nil
			}
			if i, ok := sc.index[*name]; ok {
				perQueue[i] = n
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	above := sc.r.opts.EstimateAbove
	if above <= 0 {
		sc.perQueue(b.state, perQueue)
		return nil
	}
	var (
		estimate int64
		readable bool
	)
	err := sc.each(b.state+" estimate", func(rows pgx.Rows) error {
		var plan string
		if err := rows.Scan(&plan); err != nil {
			return err
		}
		estimate, readable = pgread.PlanRows(plan)
		return nil
	})
	if err != nil {
		return err
	}
	if !readable {
		sc.problems.Add(kindInvalidValue, b.state, "EXPLAIN without Plan Rows")
	}
	switch {
	case counted && total <= above:
		b.beyond.Store(false)
		sc.perQueue(b.state, perQueue)
		return nil
	case counted:
		// At least above+1 rows were seen: a stale, lower estimate is
		// not reported.
		estimate = max(estimate, above+1)
		b.beyond.Store(true)
	case !readable:
		// Not counted, and no estimate: nothing to report rather than a
		// made-up figure; count next time.
		b.beyond.Store(false)
		return nil
	default:
		// Not counted: the last count was beyond the bound. Count again
		// next time once the planner no longer thinks so.
		b.beyond.Store(estimate > above)
	}
	sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: b.state, Count: estimate, Estimated: true})
	return nil
}

// perQueue appends a state's exact count for every reported queue.
func (sc *scrape) perQueue(state string, counts []int64) {
	for i, q := range sc.snap.Queues {
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: state, Queue: q.Name, Count: counts[i]})
	}
}

// processMetadata is what Solid Queue's processes write into
// solid_queue_processes.metadata (store :metadata, coder: JSON). Workers
// write queues (joined by commas) and thread_pool_size.
type processMetadata struct {
	Queues         *string  `json:"queues"`
	ThreadPoolSize *float64 `json:"thread_pool_size"`
}

func (sc *scrape) readProcesses() error {
	n := 0
	err := sc.each("processes", func(rows pgx.Rows) error {
		var (
			id, pid, busy                  int64
			kind, name, hostname, metadata string
			heartbeat                      time.Time
		)
		if err := rows.Scan(&id, &kind, &name, &hostname, &pid, &heartbeat, &metadata, &busy); err != nil {
			return err
		}
		if n++; n > maxProcesses {
			sc.problems.Add(kindRowsTruncated, tProcesses, "more than "+strconv.Itoa(maxProcesses)+" processes; the rest are not read")
			return nil
		}
		key := tProcesses + "/" + strconv.FormatInt(id, 10)
		age := snapshot.Age(sc.now, heartbeat)
		if age > processAliveThreshold {
			// The supervisor prunes it (and fails its claimed jobs) at
			// its next maintenance pass.
			sc.snap.ProcessesStale++
			return nil
		}
		p := snapshot.Process{
			ID:           sc.problems.Name(name, key, "process name"),
			Hostname:     sc.problems.Name(hostname, key, "hostname"),
			PID:          pid,
			Busy:         busy,
			HeartbeatAge: age,
		}
		sc.metadata(&p, kind, metadata, key)
		sc.snap.Processes = append(sc.snap.Processes, p)
		return nil
	})
	if err != nil {
		return err
	}
	sort.Slice(sc.snap.Processes, func(i, j int) bool { return sc.snap.Processes[i].ID < sc.snap.Processes[j].ID })
	return nil
}

// metadata fills a worker's capacity and queues from its metadata; other
// kinds (Dispatcher, Scheduler, Supervisor(fork)) run no jobs.
func (sc *scrape) metadata(p *snapshot.Process, kind, metadata, key string) {
	if kind != "Worker" {
		return
	}
	var m processMetadata
	if err := json.Unmarshal([]byte(metadata), &m); err != nil {
		sc.problems.Add(kindInvalidJSON, key, "metadata: "+err.Error())
		return
	}
	if m.ThreadPoolSize == nil || *m.ThreadPoolSize < 0 {
		sc.problems.Add(kindInvalidValue, key, "metadata without a thread_pool_size")
	} else {
		p.Concurrency = int64(*m.ThreadPoolSize)
	}
	if m.Queues != nil {
		for q := range strings.SplitSeq(*m.Queues, ",") {
			p.Queues = append(p.Queues, sc.problems.Name(q, key, "queue name"))
		}
	}
}

func (sc *scrape) readByClass() error {
	var cells snapshot.ClassCells
	err := sc.each("failed executions by class", func(rows pgx.Rows) error {
		var (
			id             int64
			class, errText *string
		)
		if err := rows.Scan(&id, &class, &errText); err != nil {
			return err
		}
		key := tFailed + "/" + strconv.FormatInt(id, 10)
		if class == nil {
			return nil
		}
		errorType, err := exceptionClass(errText)
		if err != nil {
			sc.problems.Add(kindInvalidJSON, key, "error: "+err.Error())
			return nil
		}
		cells.Add(StateFailed, sc.problems.Name(*class, key, "class name"), sc.problems.Name(errorType, key, "exception class"))
		return nil
	})
	if err != nil {
		return err
	}
	sc.snap.ByClass = cells.List()
	if sc.snap.ByClass == nil {
		sc.snap.ByClass = []snapshot.ClassCount{}
	}
	return nil
}

// errNoExceptionClass: the error holds no exception_class.
var errNoExceptionClass = errors.New("no exception_class")

// exceptionClass reads exception_class from the start of a failed
// execution's error, JSON {"exception_class", "message", "backtrace"} cut
// at errorPrefix bytes: it decodes token by token and stops at the class,
// so a cut later in the message or backtrace does not matter.
func exceptionClass(raw *string) (string, error) {
	if raw == nil {
		return "", errNoExceptionClass
	}
	dec := json.NewDecoder(strings.NewReader(*raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		if key != "exception_class" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return "", errNoExceptionClass
				}
				return "", err
			}
			continue
		}
		var class string
		if err := dec.Decode(&class); err != nil {
			return "", err
		}
		return class, nil
	}
	return "", errNoExceptionClass
}
