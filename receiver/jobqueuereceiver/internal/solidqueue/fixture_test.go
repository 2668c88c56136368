// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// schemaSQL is Solid Queue 1.5.0's queue_schema.rb as PostgreSQL DDL.
//
//go:embed testdata/schema.sql
var schemaSQL string

// fixture writes rows into a Solid Queue database as Solid Queue 1.5.0's
// models write them (see each method), with the fixture's clock.
type fixture struct {
	tb     testing.TB
	srv    *pgtest.Server
	db     string
	schema string
	conn   *pgx.Conn
	now    time.Time
}

// newFixture creates database db (unless it exists) and Solid Queue's
// tables in schema.
func newFixture(tb testing.TB, srv *pgtest.Server, db, schema string) *fixture {
	tb.Helper()
	if db != "postgres" {
		srv.CreateDatabase(db)
	}
	srv.Exec(db, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{schema}.Sanitize(),
		"SET search_path TO "+pgx.Identifier{schema}.Sanitize(), schemaSQL)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL(db))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close(ctx) })
	return &fixture{tb: tb, srv: srv, db: db, schema: schema, conn: conn, now: time.Now().UTC().Truncate(time.Second)}
}

// client returns a pgclient.Client as the receiver builds it (read-only
// sessions, simple protocol, a 5 s statement timeout) logged in as role.
func (f *fixture) client(role string) *pgclient.Client {
	f.tb.Helper()
	cfg := pgclient.Config{Endpoint: f.srv.Addr(), Username: role, Database: f.db, Schema: f.schema}
	c, err := cfg.NewClient(context.Background(), 5*time.Second)
	require.NoError(f.tb, err)
	f.tb.Cleanup(c.Close)
	return c
}

func (f *fixture) table(name string) string { return pgclient.Table(f.schema, name) }

// ts formats t as Rails writes a datetime into a timestamp(6) column: UTC.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.999999") }

func (f *fixture) exec(sql string, args ...any) {
	f.tb.Helper()
	_, err := f.conn.Exec(context.Background(), sql, args...)
	require.NoError(f.tb, err, sql)
}

func (f *fixture) id(sql string, args ...any) int64 {
	f.tb.Helper()
	var id int64
	require.NoError(f.tb, f.conn.QueryRow(context.Background(), sql, args...).Scan(&id), sql)
	return id
}

// job describes an enqueue: ActiveJob's queue_name, class, priority,
// scheduled_at (nil: now, as Job.enqueue sets it), concurrency_key.
type job struct {
	queue, class   string
	priority       int
	scheduledAt    *time.Time
	concurrencyKey string
	// blocked: the job's concurrency semaphore is taken
	// (Semaphore.wait fails), so dispatch blocks it.
	blocked bool
}

// enqueue does what SolidQueue::Job.enqueue does at the fixture's clock:
// insert the job (arguments = ActiveJob's serialize), then
// prepare_for_execution: a job due now is dispatched (a ready execution,
// or a blocked one when its concurrency limit is reached, expiring after
// the class's concurrency_duration, 3 minutes by default), a job in the
// future is scheduled. Executions copy queue_name and priority (and
// scheduled_at, concurrency_key) from the job.
func (f *fixture) enqueue(j job) int64 {
	f.tb.Helper()
	at := f.now
	scheduledAt := at
	if j.scheduledAt != nil {
		scheduledAt = *j.scheduledAt
	}
	activeJobID := fmt.Sprintf("%08x-0000-4000-8000-%012x", at.UnixNano()&0xffffffff, time.Now().UnixNano()&0xffffffffffff)
	args, err := json.Marshal(map[string]any{
		"job_class": j.class, "job_id": activeJobID, "provider_job_id": nil, "queue_name": j.queue,
		"priority": nil, "arguments": []any{}, "executions": 0, "exception_executions": map[string]any{},
		"locale": "en", "timezone": "UTC", "enqueued_at": at.Format("2006-01-02T15:04:05.000000000Z"),
		"scheduled_at": scheduledAt.UTC().Format("2006-01-02T15:04:05.000000000Z"),
	})
	require.NoError(f.tb, err)
	var key any
	if j.concurrencyKey != "" {
		key = j.concurrencyKey
	}
	id := f.id(`INSERT INTO `+f.table(tJobs)+` (queue_name, class_name, arguments, priority, active_job_id, scheduled_at, concurrency_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`, j.queue, j.class, string(args), j.priority, activeJobID, ts(scheduledAt), key, ts(at))
	switch {
	case scheduledAt.After(at):
		f.exec(`INSERT INTO `+f.table(tScheduled)+` (job_id, queue_name, priority, scheduled_at, created_at) VALUES ($1, $2, $3, $4, $5)`,
			id, j.queue, j.priority, ts(scheduledAt), ts(at))
	case j.blocked:
		f.exec(`INSERT INTO `+f.table(tBlocked)+` (job_id, queue_name, priority, concurrency_key, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
			id, j.queue, j.priority, j.concurrencyKey, ts(at.Add(3*time.Minute)), ts(at))
	default:
		f.ready(id)
	}
	return id
}

// ready is ReadyExecution.create_or_find_by!(job_id:) at the fixture's
// clock (Job#dispatch, ScheduledExecution dispatch, a failed job's retry).
func (f *fixture) ready(id int64) {
	f.exec(`INSERT INTO `+f.table(tReady)+` (job_id, queue_name, priority, created_at)
SELECT id, queue_name, priority, $2 FROM `+f.table(tJobs)+` WHERE id = $1`, id, ts(f.now))
}

// claim is ReadyExecution.claim for one job: ClaimedExecution.claiming
// inserts the claim for the worker's process, the ready execution is
// deleted.
func (f *fixture) claim(id, processID int64) {
	f.exec(`INSERT INTO `+f.table(tClaimed)+` (job_id, process_id, created_at) VALUES ($1, $2, $3)`, id, processID, ts(f.now))
	f.exec(`DELETE FROM `+f.table(tReady)+` WHERE job_id = $1`, id)
}

// finish is ClaimedExecution#finished with preserve_finished_jobs (the
// default): the job is touched (finished_at, updated_at), the claim
// deleted.
func (f *fixture) finish(id int64) {
	f.exec(`UPDATE `+f.table(tJobs)+` SET finished_at = $2, updated_at = $2 WHERE id = $1`, id, ts(f.now))
	f.exec(`DELETE FROM `+f.table(tClaimed)+` WHERE job_id = $1`, id)
}

// fail is ClaimedExecution#failed_with: a failed execution whose error is
// FailedExecution's JSON {exception_class, message, backtrace}, the claim
// deleted.
func (f *fixture) fail(id int64, exceptionClass, message string) {
	errJSON, err := json.Marshal(map[string]any{
		"exception_class": exceptionClass, "message": message,
		"backtrace": []string{"app/jobs/" + strconv.FormatInt(id, 10) + ".rb:3:in 'perform'", "activejob/lib/active_job/execution.rb:68:in 'block in _perform_job'"},
	})
	require.NoError(f.tb, err)
	f.failRaw(id, string(errJSON))
}

// failRaw stores error text as is (for bad data).
func (f *fixture) failRaw(id int64, errText string) {
	f.exec(`INSERT INTO `+f.table(tFailed)+` (job_id, error, created_at) VALUES ($1, $2, $3)`, id, errText, ts(f.now))
	f.exec(`DELETE FROM `+f.table(tClaimed)+` WHERE job_id = $1`, id)
}

// pause is Queue#pause.
func (f *fixture) pause(queue string) {
	f.exec(`INSERT INTO `+f.table(tPauses)+` (queue_name, created_at) VALUES ($1, $2)`, queue, ts(f.now))
}

// process is Process.register: kind (Worker, Dispatcher, Scheduler,
// Supervisor(fork)), name (kind downcased + "-" + 20 hex), pid, hostname,
// supervisor, metadata as Registrable writes it (metadata.compact as
// JSON); last_heartbeat_at is the fixture's clock less heartbeatAgo.
func (f *fixture) process(kind, name string, pid int, hostname string, supervisor *int64, metadata string, heartbeatAgo time.Duration) int64 {
	f.tb.Helper()
	return f.id(`INSERT INTO `+f.table(tProcesses)+` (kind, last_heartbeat_at, supervisor_id, pid, hostname, metadata, created_at, name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`, kind, ts(f.now.Add(-heartbeatAgo)), supervisor, pid, hostname, metadata, ts(f.now.Add(-time.Hour)), name)
}

// populate writes a large database straight in SQL, in the shape Solid
// Queue leaves it (the models' rows, without going through them one by
// one): jobs in queues queue_0000..queue_<queues-1>, interleaved so that
// every queue has jobs in every state, spread over the table; of every 100
// jobs 5 are ready, 2 scheduled (an hour ahead), 1 failed, 1 blocked, the
// rest finished, except one in 10,000 claimed by one of 10 workers
// (started 10 minutes ago). Then VACUUM ANALYZE, as autovacuum would.
func (f *fixture) populate(jobs, queues int) {
	f.tb.Helper()
	now, hour := ts(f.now), ts(f.now.Add(time.Hour))
	state := `CASE WHEN i % 10000 = 9 THEN 'claimed' WHEN i % 100 < 5 THEN 'ready' WHEN i % 100 < 7 THEN 'scheduled'
  WHEN i % 100 = 7 THEN 'failed' WHEN i % 100 = 8 THEN 'blocked' ELSE 'finished' END`
	var workers [10]int64
	for w := range workers {
		workers[w] = f.process("Worker", fmt.Sprintf("worker-%020d", w), 1000+w, "host-"+strconv.Itoa(w%3), nil,
			`{"polling_interval":0.1,"queues":"*","thread_pool_size":10}`, 10*time.Second)
	}
	f.srv.Exec(f.db,
		"SET search_path TO "+pgx.Identifier{f.schema}.Sanitize(),
		`CREATE TEMP TABLE gen AS SELECT i, `+state+` AS state FROM generate_series(1, `+strconv.Itoa(jobs)+`) i`,
		`INSERT INTO solid_queue_jobs (id, queue_name, class_name, arguments, priority, active_job_id, scheduled_at, finished_at, created_at, updated_at)
SELECT i, 'queue_' || lpad(((i + i / 100) % `+strconv.Itoa(queues)+`)::text, 4, '0'), 'Job' || (i % 20), '{"job_class":"Job","arguments":[]}', i % 3, md5(i::text),
  CASE WHEN state = 'scheduled' THEN '`+hour+`'::timestamp ELSE '`+now+`'::timestamp - (i % 3600) * interval '1 second' END,
  CASE WHEN state = 'finished' THEN '`+now+`'::timestamp END,
  '`+now+`'::timestamp - (i % 3600) * interval '1 second', '`+now+`' FROM gen`,
		`SELECT setval('solid_queue_jobs_id_seq', `+strconv.Itoa(jobs)+`)`,
		`INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
SELECT id, queue_name, priority, created_at FROM solid_queue_jobs JOIN gen ON gen.i = id WHERE state = 'ready'`,
		`INSERT INTO solid_queue_scheduled_executions (job_id, queue_name, priority, scheduled_at, created_at)
SELECT id, queue_name, priority, scheduled_at, created_at FROM solid_queue_jobs JOIN gen ON gen.i = id WHERE state = 'scheduled'`,
		`INSERT INTO solid_queue_blocked_executions (job_id, queue_name, priority, concurrency_key, expires_at, created_at)
SELECT id, queue_name, priority, 'Job/' || (id % 50), '`+now+`'::timestamp + interval '3 minutes', created_at FROM solid_queue_jobs JOIN gen ON gen.i = id WHERE state = 'blocked'`,
		`INSERT INTO solid_queue_failed_executions (job_id, error, created_at)
SELECT id, '{"exception_class":"Net::ReadTimeout","message":"Net::ReadTimeout with #<TCPSocket:(closed)>","backtrace":["app/jobs/job.rb:3"]}', '`+now+`' FROM gen JOIN solid_queue_jobs ON gen.i = id WHERE state = 'failed'`,
		fmt.Sprintf(`INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at)
SELECT i, (ARRAY[%d,%d,%d,%d,%d,%d,%d,%d,%d,%d])[1 + i %% 10], '%s'::timestamp - interval '10 minutes' FROM gen WHERE state = 'claimed'`,
			workers[0], workers[1], workers[2], workers[3], workers[4], workers[5], workers[6], workers[7], workers[8], workers[9], now),
		`VACUUM ANALYZE`,
	)
}
