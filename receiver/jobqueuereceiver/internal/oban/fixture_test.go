// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package oban

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNow is the clock of the tests; the fixture writes times relative to it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)

const database = "app"

// fixture is a PostgreSQL database with Oban's schema (testdata/schema.sql,
// migration v14) whose rows it writes with the statements Oban 2.23's
// Engines.Basic and Oban.Job send, at the fixture's clock instead of
// utc_now().
type fixture struct {
	tb     testing.TB
	srv    *pgtest.Server
	conn   *pgx.Conn
	schema string
	now    time.Time
}

// newFixture starts a server and creates Oban's tables in schema.
func newFixture(tb testing.TB, schema string) *fixture {
	tb.Helper()
	return newFixtureDDL(tb, schema, schemaSQL(tb, schema))
}

// newFixtureDDL starts a server and runs ddl, Oban's tables in schema.
func newFixtureDDL(tb testing.TB, schema, ddl string) *fixture {
	tb.Helper()
	srv := pgtest.Start(tb)
	srv.CreateDatabase(database)
	srv.Exec(database, ddl)
	f := &fixture{tb: tb, srv: srv, schema: schema, now: testNow}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL(database))
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = conn.Close(ctx) })
	f.conn = conn
	return f
}

// schemaSQL is testdata/schema.sql for another schema than public.
func schemaSQL(tb testing.TB, schema string) string {
	tb.Helper()
	ddl, err := os.ReadFile("testdata/schema.sql")
	require.NoError(tb, err)
	out := string(ddl)
	if schema != "public" {
		out = "CREATE SCHEMA " + pgx.Identifier{schema}.Sanitize() + ";\n" +
			strings.ReplaceAll(out, "public.", pgx.Identifier{schema}.Sanitize()+".")
	}
	return out
}

// table is the quoted oban_jobs of the fixture's schema.
func (f *fixture) table() string { return pgclient.Table(f.schema, "oban_jobs") }

// exec runs one statement with arguments.
func (f *fixture) exec(sql string, args ...any) {
	f.tb.Helper()
	_, err := f.conn.Exec(context.Background(), sql, args...)
	require.NoError(f.tb, err, sql)
}

// ts is t as Oban stores it: UTC, without a time zone.
func ts(t time.Time) time.Time { return t.UTC() }

func (f *fixture) ago(d time.Duration) time.Time { return f.now.Add(-d) }

// jobOpts are the options of Oban.Job.new a test sets.
type jobOpts struct {
	scheduledAt time.Time // zero: not set (inserted available, scheduled_at = now)
	priority    int
	maxAttempts int // 0: Oban's default, 20
	state       string
}

// insert writes a job as Engines.Basic.insert_job does: Repo.insert of the
// changeset of Oban.Job.new, whose nil fields are left to the column
// defaults (inserted_at, and scheduled_at when none is given). A
// scheduled_at makes the job scheduled (Job.normalize_state). It returns
// the job's id.
func (f *fixture) insert(queue, worker string, o jobOpts) int64 {
	f.tb.Helper()
	state := "available"
	if !o.scheduledAt.IsZero() {
		state = "scheduled"
	}
	if o.state != "" {
		state = o.state
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 20
	}
	scheduledAt := ts(f.now)
	if !o.scheduledAt.IsZero() {
		scheduledAt = ts(o.scheduledAt)
	}
	var id int64
	err := f.conn.QueryRow(context.Background(), "INSERT INTO "+f.table()+
		" (state, queue, worker, args, meta, tags, errors, attempt, max_attempts, priority, inserted_at, scheduled_at)"+
		" VALUES ($1, $2, $3, $4, '{}', '{}', '{}', 0, $5, $6, $7, $8) RETURNING id",
		state, queue, worker, `{"id":1}`, o.maxAttempts, o.priority, ts(f.now), scheduledAt).Scan(&id)
	require.NoError(f.tb, err)
	return id
}

// complete is Engines.Basic.complete_job.
func (f *fixture) complete(id int64, at time.Time) {
	f.exec("UPDATE "+f.table()+" SET state = 'completed', completed_at = $2 WHERE id = $1", id, ts(at))
}

// errorEntry is Job.format_attempt's map, as Ecto stores it in errors.
func errorEntry(attempt int, at time.Time, text string) string {
	b, _ := json.Marshal(map[string]any{"attempt": attempt, "at": at.UTC().Format(time.RFC3339Nano), "error": text})
	return string(b)
}

// fail is Engines.Basic.error_job: retryable after backoff, with the error
// appended.
func (f *fixture) fail(id int64, at time.Time, backoff time.Duration, text string) {
	f.exec("UPDATE "+f.table()+" SET state = 'retryable', scheduled_at = $2, errors = errors || ARRAY[$3::jsonb]"+
		" WHERE id = $1", id, ts(at.Add(backoff)), f.entry(id, at, text))
}

// discard is Engines.Basic.discard_job.
func (f *fixture) discard(id int64, at time.Time, text string) {
	f.exec("UPDATE "+f.table()+" SET state = 'discarded', discarded_at = $2, errors = errors || ARRAY[$3::jsonb]"+
		" WHERE id = $1", id, ts(at), f.entry(id, at, text))
}

// cancel is Engines.Basic.cancel_job without an error.
func (f *fixture) cancel(id int64, at time.Time) {
	f.exec("UPDATE "+f.table()+" SET state = 'cancelled', cancelled_at = $2"+
		" WHERE id = $1 AND state NOT IN ('cancelled', 'completed', 'discarded')", id, ts(at))
}

// stage is Engines.Basic.stage_jobs: due scheduled and retryable jobs
// become available, keeping their scheduled_at.
func (f *fixture) stage(at time.Time) {
	f.exec("UPDATE "+f.table()+" SET state = 'available' WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= $1", ts(at))
}

// entry is the error entry of job id's current attempt.
func (f *fixture) entry(id int64, at time.Time, text string) string {
	var attempt int
	require.NoError(f.tb, f.conn.QueryRow(context.Background(), "SELECT attempt FROM "+f.table()+" WHERE id = $1", id).Scan(&attempt))
	return errorEntry(attempt, at, text)
}

// start fetches one available job of queue as Engines.Basic.fetch_jobs
// does (the CTE, then the update), at time at, on a producer of node
// worker@host-1, and returns its id.
func (f *fixture) start(queue string, at time.Time) int64 {
	f.tb.Helper()
	var id int64
	err := f.conn.QueryRow(context.Background(), "WITH subset AS (SELECT id FROM "+f.table()+
		" WHERE state = 'available' AND queue = $1 ORDER BY priority, scheduled_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"+
		" UPDATE "+f.table()+" j SET state = 'executing', attempted_at = $2, attempted_by = ARRAY[$3, $4], attempt = j.attempt + 1"+
		" FROM subset WHERE j.id = subset.id AND j.attempt < j.max_attempts RETURNING j.id",
		queue, ts(at), "worker@host-1", "8a7f1e2c-0b5c-4c6e-9d3f-1f2e3d4c5b6a").Scan(&id)
	require.NoError(f.tb, err)
	return id
}

// client is a pgclient.Client configured like the receiver's, as role.
func (f *fixture) client(role string) *pgclient.Client {
	f.tb.Helper()
	cfg := pgclient.Config{Endpoint: f.srv.Addr(), Username: role, Database: database, Schema: f.schema}
	c, err := cfg.NewClient(context.Background(), 5*time.Second)
	require.NoError(f.tb, err)
	f.tb.Cleanup(c.Close)
	return c
}

// options are Options at the fixture's clock and schema.
func (f *fixture) options(o Options) Options {
	o.Schema = f.schema
	o.Now = func() time.Time { return f.now }
	return o
}

// obanCounts is Oban Met's Reporter count query (oban_met 1.3,
// lib/oban/met/reporter.ex, count_query): jobs per state and queue,
// "state/queue" -> count.
func (f *fixture) obanCounts() map[string]int64 {
	f.tb.Helper()
	rows, err := f.conn.Query(context.Background(),
		"SELECT o0.state::text, o0.queue, count(o0.id) FROM "+f.table()+" AS o0 GROUP BY o0.state, o0.queue")
	require.NoError(f.tb, err)
	out := map[string]int64{}
	var state, queue string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&state, &queue, &n}, func() error {
		out[state+"/"+queue] = n
		return nil
	})
	require.NoError(f.tb, err)
	return out
}

// populate writes jobs jobs spread evenly over queues queues (q0000,
// q0001, ...) in one INSERT ... SELECT, in the proportions of a busy Oban
// without a short-lived Pruner, per 1,000 jobs: 900 completed, 40
// discarded, 20 cancelled, 20 available, 10 scheduled, 5 retryable, 3
// executing, 2 suspended; each row with the columns Oban sets in that state
// (attempted_at and attempted_by once fetched, errors once failed, the
// state's own timestamp). Then ANALYZE, as autovacuum would.
func (f *fixture) populate(queues, jobs int) {
	f.tb.Helper()
	f.exec(`INSERT INTO `+f.table()+` (state, queue, worker, args, errors, attempt, inserted_at, scheduled_at,
		attempted_at, attempted_by, completed_at, discarded_at, cancelled_at, priority)
	SELECT st::`+pgclient.Table(f.schema, "oban_job_state")+`, 'q' || lpad(((i + i / 1000) % $2)::text, 4, '0'), 'App.Workers.W' || (i % 17),
		jsonb_build_object('id', i),
		CASE WHEN st IN ('retryable', 'discarded') THEN ARRAY[jsonb_build_object('attempt', 1, 'at', $1::timestamp,
			'error', '** (RuntimeError) boom')] ELSE '{}' END,
		CASE WHEN st IN ('available', 'scheduled', 'suspended') THEN 0 ELSE 1 END,
		$1::timestamp - interval '1 hour',
		CASE WHEN st IN ('scheduled', 'retryable') THEN $1::timestamp + interval '1 hour'
			ELSE $1::timestamp - (i % 3600) * interval '1 second' END,
		CASE WHEN st IN ('available', 'scheduled', 'suspended') THEN NULL ELSE $1::timestamp - (i % 600) * interval '1 second' END,
		CASE WHEN st IN ('available', 'scheduled', 'suspended') THEN NULL ELSE ARRAY['worker@host-1', '8a7f1e2c'] END,
		CASE WHEN st = 'completed' THEN $1::timestamp END,
		CASE WHEN st = 'discarded' THEN $1::timestamp END,
		CASE WHEN st = 'cancelled' THEN $1::timestamp END,
		i % 4
	FROM (SELECT i, CASE WHEN i % 1000 < 900 THEN 'completed' WHEN i % 1000 < 940 THEN 'discarded'
		WHEN i % 1000 < 960 THEN 'cancelled' WHEN i % 1000 < 980 THEN 'available' WHEN i % 1000 < 990 THEN 'scheduled'
		WHEN i % 1000 < 995 THEN 'retryable' WHEN i % 1000 < 998 THEN 'executing' ELSE 'suspended' END AS st
		FROM generate_series(0, $3 - 1) AS i) AS g`, ts(f.now), queues, jobs)
	f.exec("ANALYZE " + f.table())
}
