// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package oban

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
)

// BenchmarkSnapshot reads 1,000 queues and 1,000,000 jobs (populate's
// proportions: 900,000 completed) from a real PostgreSQL: the reader in
// steady state (completed known to be beyond estimate_above: estimated),
// the reader with estimate_above 0 (every state counted per queue), the
// reader's first snapshot (completed counted up to 500,001 rows), and
// Oban Met's own Reporter (oban_met 1.3, what Oban Web displays) on the
// same data: its per-second check (a transaction: exact counts per state
// and queue of the states under 50,000 jobs, oban_count_estimate per
// queue of the others) and its queue cache (SELECT DISTINCT queue, every
// 60 checks). Met reports no latency, running age nor stalled jobs.
func BenchmarkSnapshot(b *testing.B) {
	f := newFixture(b, "public")
	f.populate(1000, 1_000_000)
	f.exec("VACUUM ANALYZE " + f.table()) // as autovacuum would have, for both sides
	opts := f.options(Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000})
	ctx := context.Background()

	b.Run("reader", func(b *testing.B) {
		c := f.client("postgres")
		r := NewReader(c, opts)
		benchSnapshots(b, func() error { _, err := r.Snapshot(ctx); return err }, c.Counter())
	})

	b.Run("reader_exact", func(b *testing.B) {
		c := f.client("postgres")
		exact := opts
		exact.EstimateAbove = 0
		r := NewReader(c, exact)
		benchSnapshots(b, func() error { _, err := r.Snapshot(ctx); return err }, c.Counter())
	})

	b.Run("reader_first_snapshot", func(b *testing.B) {
		c := f.client("postgres")
		benchSnapshots(b, func() error { _, err := NewReader(c, opts).Snapshot(ctx); return err }, c.Counter())
	})

	conn, counter := metConn(b, f)
	// Met creates its estimate function when it starts (auto_migrate).
	f.exec(`CREATE OR REPLACE FUNCTION public.oban_count_estimate(state text, queue text)
		RETURNS integer AS $func$
		DECLARE plan jsonb;
		BEGIN
			EXECUTE 'EXPLAIN (FORMAT JSON) SELECT id FROM public.oban_jobs WHERE state = $1::public.oban_job_state AND queue = $2'
				INTO plan USING state, queue;
			RETURN plan->0->'Plan'->'Plan Rows';
		END;
		$func$ LANGUAGE plpgsql`)
	var queues []string
	rows, err := conn.Query(ctx, `SELECT DISTINCT o0."queue" FROM "public"."oban_jobs" AS o0`)
	require.NoError(b, err)
	queues, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(b, err)
	queuesJSON, _ := json.Marshal(queues)
	// Met's split after its first check: only completed is at 50,000 or more.
	counted := []string{"available", "cancelled", "discarded", "executing", "retryable", "scheduled", "suspended"}
	guessed, _ := json.Marshal([]string{"completed"})

	b.Run("oban_met_check", func(b *testing.B) {
		benchSnapshots(b, func() error {
			tx, err := conn.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback(ctx) }()
			rows, _ := tx.Query(ctx, `SELECT o0."state", o0."queue", count(o0."id") FROM "public"."oban_jobs" AS o0`+
				` WHERE (o0."state" = ANY($1::text[]::public.oban_job_state[])) GROUP BY o0."state", o0."queue"`, counted)
			if err := drain(rows); err != nil {
				return err
			}
			rows, _ = tx.Query(ctx, `SELECT f1."value", f0."value", public.oban_count_estimate(f1."value", f0."value")`+
				` FROM (SELECT value FROM json_array_elements_text($1) AS t(value)) AS f0`+
				` CROSS JOIN (SELECT value FROM json_array_elements_text($2) AS t(value)) AS f1`, string(queuesJSON), string(guessed))
			if err := drain(rows); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}, counter)
	})

	b.Run("oban_met_queue_cache", func(b *testing.B) {
		benchSnapshots(b, func() error {
			rows, _ := conn.Query(ctx, `SELECT DISTINCT o0."queue" FROM "public"."oban_jobs" AS o0`)
			_, err := pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		}, counter)
	})
}

// metConn is one session as Postgrex holds it: the extended protocol with
// cached prepared statements (one round trip per statement once
// prepared), its statements counted.
func metConn(b *testing.B, f *fixture) (*pgx.Conn, *pgclient.Counter) {
	b.Helper()
	cfg, err := pgx.ParseConfig(f.srv.URL(database))
	require.NoError(b, err)
	counter := &pgclient.Counter{}
	cfg.Tracer = counter
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	require.NoError(b, err)
	b.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn, counter
}

// benchSnapshots times take, after one warm-up call, and reports the
// round trips and statements per call counter saw.
func benchSnapshots(b *testing.B, take func() error, counter *pgclient.Counter) {
	b.Helper()
	require.NoError(b, take())
	counter.Reset()
	b.ReportAllocs()
	for b.Loop() {
		if err := take(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(counter.RoundTrips())/float64(b.N), "roundtrips/op")
	b.ReportMetric(float64(counter.Commands())/float64(b.N), "stmts/op")
}

// drain reads every row, decoding each value as Postgrex would.
func drain(rows pgx.Rows) error {
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			rows.Close()
			return err
		}
	}
	return rows.Err()
}
