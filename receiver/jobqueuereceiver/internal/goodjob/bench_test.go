// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goodjob

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// BenchmarkSnapshot reads 1,000 queues and 1,000,000 jobs (populate): the
// reader, one batch; then GoodJob's own dashboard queries for the same
// figures: JobsFilter#queues (GROUP BY queue_name over every job), then
// per queue JobsFilter#states filtered by queue_name (scheduled, retried,
// queued, running, discarded counts, succeeded as all minus unfinished or
// errored: 7 statements) and the first job of the queued filter (its
// scheduled_at: latency), GoodJob::Process.active and
// GoodJob::Setting.paused, as ActiveRecord sends them: prepared
// statements, one round trip each.
func BenchmarkSnapshot(b *testing.B) {
	f := newFixture(b)
	f.populate(1_000_000, 1000)
	ctx := context.Background()

	b.Run("reader", func(b *testing.B) {
		c := f.client("postgres")
		r := NewReader(c, Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, Now: func() time.Time { return f.now }})
		_, err := r.Snapshot(ctx)
		require.NoError(b, err)
		c.Counter().Reset()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(c.Counter().RoundTrips())/float64(b.N), "roundtrips/op")
		b.ReportMetric(float64(c.Counter().Commands())/float64(b.N), "cmds/op")
	})

	b.Run("good_job_dashboard_queries", func(b *testing.B) {
		conn, err := pgx.Connect(ctx, f.srv.URL(database))
		require.NoError(b, err)
		defer conn.Close(ctx)
		var statements int
		b.ReportAllocs()
		for b.Loop() {
			statements += goodJobDashboard(b, conn, f.now)
		}
		b.ReportMetric(float64(statements)/float64(b.N), "roundtrips/op")
		b.ReportMetric(float64(statements)/float64(b.N), "cmds/op")
	})
}

// goodJobDashboard computes the snapshot's figures with GoodJob's own
// queries and returns how many statements it sent.
func goodJobDashboard(tb testing.TB, conn *pgx.Conn, now time.Time) int {
	ctx := context.Background()
	statements := 0
	query := func(sql string, args ...any) pgx.Rows {
		statements++
		rows, err := conn.Query(ctx, sql, args...)
		require.NoError(tb, err)
		return rows
	}
	count := func(sql string, args ...any) int64 {
		rows := query(sql, args...)
		n, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[int64])
		require.NoError(tb, err)
		return n
	}
	rows := query(`SELECT COUNT(*) AS count_all, "good_jobs"."queue_name" AS good_jobs_queue_name FROM "good_jobs" GROUP BY "good_jobs"."queue_name"`)
	type queueCount struct {
		N    int64
		Name *string
	}
	queues, err := pgx.CollectRows(rows, pgx.RowToStructByPos[queueCount])
	require.NoError(tb, err)
	for _, q := range queues {
		name := q.Name
		for _, state := range []string{StateScheduled, StateRetried, StateQueued} {
			count(`SELECT COUNT(*) FROM "good_jobs" WHERE "good_jobs"."queue_name" = $2 AND `+goodJobScopes[state], now, name)
		}
		for _, state := range []string{StateRunning, StateDiscarded} {
			count(`SELECT COUNT(*) FROM "good_jobs" WHERE "good_jobs"."queue_name" = $1 AND `+goodJobScopes[state], name)
		}
		count(`SELECT COUNT(*) FROM "good_jobs" WHERE "good_jobs"."queue_name" = $1`, name)
		count(`SELECT COUNT(*) FROM "good_jobs" WHERE "good_jobs"."queue_name" = $1 AND (finished_at IS NULL OR error IS NOT NULL)`, name)
		rows := query(`SELECT "good_jobs"."scheduled_at" FROM "good_jobs" WHERE "good_jobs"."queue_name" = $2 AND `+
			goodJobScopes[StateQueued]+` ORDER BY scheduled_at ASC, id ASC LIMIT 1`, now, name)
		rows.Close()
		require.NoError(tb, rows.Err())
	}
	key := `('x' || substr(md5('good_job_processes' || '-' || "good_job_processes"."id"::text), 1, 16))::bit(64)::bigint`
	count(`SELECT COUNT(*) FROM "good_job_processes"
		LEFT JOIN pg_locks ON pg_locks.locktype = 'advisory' AND pg_locks.objsubid = 1
		AND pg_locks.classid = substring((`+key+`)::bit(64) from 1 for 32)::bit(32)::int
		AND pg_locks.objid = substring((`+key+`)::bit(64) from 33 for 32)::bit(32)::int
		WHERE ("good_job_processes"."lock_type" = 0 AND "pg_locks"."locktype" IS NOT NULL)
		OR ("good_job_processes"."lock_type" IS NULL AND "good_job_processes"."updated_at" > $1)`, now.Add(-5*time.Minute))
	rows = query(`SELECT "good_job_settings".* FROM "good_job_settings" WHERE "good_job_settings"."key" = $1 LIMIT 1`, "pauses")
	rows.Close()
	require.NoError(tb, rows.Err())
	return statements
}
