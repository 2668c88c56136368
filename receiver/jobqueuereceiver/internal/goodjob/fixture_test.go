// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goodjob

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

//go:embed testdata/schema.sql
var schemaSQL string

// testNow is the clock of the tests; every time written is relative to it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)

const database = "app"

// fixture writes rows the way GoodJob v4.19.2 does (GoodJob::Job.enqueue,
// Job#perform, GoodJob::Process.find_or_create_record / #refresh,
// GoodJob::Setting.pause), for a database where the gem cannot run.
type fixture struct {
	tb   testing.TB
	srv  *pgtest.Server
	conn *pgx.Conn
	now  time.Time
}

// newFixture starts a PostgreSQL with GoodJob's schema in database app.
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	srv := pgtest.Start(tb)
	srv.CreateDatabase(database)
	srv.Exec(database, schemaSQL)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL(database))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close(ctx) })
	return &fixture{tb: tb, srv: srv, conn: conn, now: testNow}
}

// newUUID returns a random (version 4) UUID, as gen_random_uuid and
// SecureRandom.uuid make them.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// ago returns the time d before the fixture's now.
func (f *fixture) ago(d time.Duration) time.Time { return f.now.Add(-d) }

func (f *fixture) exec(sql string, args ...any) {
	f.tb.Helper()
	_, err := f.conn.Exec(context.Background(), sql, args...)
	require.NoError(f.tb, err, sql)
}

// client is a pgclient.Client of the fixture's database, configured as the
// receiver's (5 s timeout), as role.
func (f *fixture) client(role string) *pgclient.Client {
	f.tb.Helper()
	c, err := (&pgclient.Config{Endpoint: f.srv.Addr(), Username: role, Database: database, Schema: "public"}).
		NewClient(context.Background(), 5*time.Second)
	require.NoError(f.tb, err)
	f.tb.Cleanup(c.Close)
	return c
}

// serializedParams is ActiveJob::Base#serialize (Rails 7.1+) of a job with
// no arguments, executions as ActiveJob counts them (0 before the first
// perform, n after n performs).
func serializedParams(id, class, queue string, executions int, enqueuedAt, scheduledAt time.Time) string {
	b, _ := json.Marshal(map[string]any{
		"job_class": class, "job_id": id, "provider_job_id": nil, "queue_name": queue, "priority": nil,
		"arguments": []any{}, "executions": executions, "exception_executions": map[string]any{},
		"locale": "en", "timezone": "UTC",
		"enqueued_at":  enqueuedAt.UTC().Format("2006-01-02T15:04:05.000000000Z"),
		"scheduled_at": scheduledAt.UTC().Format("2006-01-02T15:04:05.000000000Z"),
	})
	return string(b)
}

// job is one good_jobs row in the making.
type job struct {
	f          *fixture
	id, class  string
	queue      string
	executions int
}

// enqueue inserts a job as GoodJob::Job.enqueue does (enqueue_args):
// id = active_job_id, job_class, queue_name, priority 0, serialized_params,
// created_at at enqueue, scheduled_at always set (the wait's end, else
// enqueue time).
func (f *fixture) enqueue(queue, class string, enqueuedAt, scheduledAt time.Time) *job {
	j := &job{f: f, id: newUUID(), class: class, queue: queue}
	f.exec(`INSERT INTO good_jobs (id, active_job_id, job_class, queue_name, priority, serialized_params,
		scheduled_at, created_at, updated_at) VALUES ($1, $1, $2, $3, 0, $4, $5, $6, $6)`,
		j.id, class, queue, serializedParams(j.id, class, queue, 0, enqueuedAt, scheduledAt), scheduledAt, enqueuedAt)
	return j
}

// perform starts the job as Job#perform does: a good_job_executions row
// (created_at = start, the job's scheduled_at, process_id), and on the job
// performed_at, executions_count + 1, locked_by_id/locked_at, lock_type 0
// (advisory). ActiveJob counts the execution in memory (executions + 1);
// it reaches serialized_params only if the job is enqueued again (retry).
func (j *job) perform(process string, at time.Time) *job {
	j.executions++
	j.f.exec(`INSERT INTO good_job_executions (active_job_id, job_class, queue_name, serialized_params, scheduled_at,
		process_id, created_at, updated_at)
		SELECT id, job_class, queue_name, serialized_params, scheduled_at, $2, $3, $3 FROM good_jobs WHERE id = $1`,
		j.id, process, at)
	j.f.exec(`UPDATE good_jobs SET performed_at = $2, executions_count = coalesce(executions_count, 0) + 1,
		locked_by_id = $3, locked_at = $2, lock_type = 0, updated_at = $2 WHERE id = $1`, j.id, at, process)
	return j
}

// succeed finishes the job without error: finished_at, the lock columns
// cleared, the execution's finished_at and duration.
func (j *job) succeed(at time.Time) {
	j.finish(at, nil, nil, false)
}

// retry is a failure that retry_on handles: ActiveJob enqueues the job
// again (serialized executions now counts the performs, scheduled_at the
// retry's time, performed_at and finished_at cleared), then the perform
// ends with error "<class>: <message>", error_event retried (3).
func (j *job) retry(at, retryAt time.Time, errClass, message string) *job {
	j.f.exec(`UPDATE good_jobs SET serialized_params = $2, scheduled_at = $3 WHERE id = $1`,
		j.id, serializedParams(j.id, j.class, j.queue, j.executions, at, retryAt), retryAt)
	msg := errClass + ": " + message
	event := int16(3)
	j.finish(at, &msg, &event, true)
	return j
}

// discard is a failure GoodJob gives up on: finished with the error,
// error_event discarded (5) or retry_stopped (4).
func (j *job) discard(at time.Time, errClass, message string, event int16) {
	msg := errClass + ": " + message
	j.finish(at, &msg, &event, false)
}

func (j *job) finish(at time.Time, errMsg *string, event *int16, reenqueued bool) {
	j.f.exec(`UPDATE good_job_executions SET finished_at = $2, duration = $2 - created_at, error = $3, error_event = $4,
		updated_at = $2 WHERE active_job_id = $1 AND finished_at IS NULL`, j.id, at, errMsg, event)
	if reenqueued {
		j.f.exec(`UPDATE good_jobs SET locked_by_id = NULL, locked_at = NULL, lock_type = NULL, error = $2, error_event = $3,
			performed_at = NULL, finished_at = NULL, updated_at = $4 WHERE id = $1`, j.id, errMsg, event, at)
		return
	}
	j.f.exec(`UPDATE good_jobs SET locked_by_id = NULL, locked_at = NULL, lock_type = NULL, error = $2, error_event = $3,
		finished_at = $4, updated_at = $4 WHERE id = $1`, j.id, errMsg, event, at)
}

// stateJSON is GoodJob::Process.process_state for a CLI process.
func stateJSON(hostname string, pid, memoryKiB int, schedulers []map[string]any, succeeded, errored int) string {
	b, _ := json.Marshal(map[string]any{
		"hostname": hostname, "pid": pid, "memory": memoryKiB, "proctitle": "/app/bin/good_job",
		"preserve_job_records": true, "retry_on_unhandled_error": false, "schedulers": schedulers,
		"cron_enabled": false, "total_succeeded_executions_count": succeeded, "total_errored_executions_count": errored,
		"database_connection_pool": map[string]any{"size": 10, "active": 2},
	})
	return string(b)
}

// schedulerStats is GoodJob::Scheduler#stats.
func schedulerStats(queues string, maxThreads, active int) map[string]any {
	return map[string]any{
		"name": queues, "queues": queues, "max_threads": maxThreads, "active_threads": active,
		"available_threads": maxThreads - active, "max_cache": 10000, "active_cache": 0, "available_cache": 10000,
		"empty_executions_count": 0, "errored_executions_count": 0, "succeeded_executions_count": 0,
		"total_executions_count": 0, "execution_at": nil, "check_queue_at": nil,
	}
}

// process inserts a good_job_processes row as find_or_create_record does,
// last refreshed at updatedAt; advisory sets lock_type 0 (the advisory
// lock itself is taken by lockProcess, by a session that must stay open).
func (f *fixture) process(state string, updatedAt time.Time, advisory bool) string {
	id := newUUID()
	var lockType *int16
	if advisory {
		zero := int16(0)
		lockType = &zero
	}
	f.exec(`INSERT INTO good_job_processes (id, state, lock_type, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`,
		id, state, lockType, updatedAt)
	return id
}

// lockProcess takes the session advisory lock a GoodJob process holds on
// its record (AdvisoryLockable#advisory_lock!, md5 key of
// 'good_job_processes-<id>'), on a session kept open until the test ends.
func (f *fixture) lockProcess(id string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.srv.URL(database))
	require.NoError(f.tb, err)
	f.tb.Cleanup(func() { _ = conn.Close(ctx) })
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock(('x' || substr(md5('good_job_processes' || '-' || $1::text), 1, 16))::bit(64)::bigint)`, id)
	require.NoError(f.tb, err)
}

// pause writes GoodJob::Setting.pause(queue:) for each queue.
func (f *fixture) pause(queues ...string) {
	b, _ := json.Marshal(map[string]any{"queues": queues, "job_classes": []string{}, "labels": []string{}})
	f.exec(`INSERT INTO good_job_settings (key, value, created_at, updated_at) VALUES ('pauses', $1, $2, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b), f.now)
}
