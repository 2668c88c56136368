// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// TestRiverDemo plays a few seconds of the River demo on a real PostgreSQL
// with the real River library and checks the incidents' starting state.
func TestRiverDemo(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, srv.CreateDatabase("demo"))
	require.NoError(t, err)
	defer pool.Close()

	sim, err := NewRiver(pool, 1)
	require.NoError(t, err)
	start := time.Now()
	var total Report
	for now := start; time.Since(start) < 3*time.Second; now = now.Add(time.Second) {
		r, err := sim.Step(ctx, now)
		require.NoError(t, err)
		total.Add(r)
		time.Sleep(time.Until(now.Add(time.Second)))
	}

	count := func(where string) (n int) {
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE "+where).Scan(&n))
		return n
	}
	assert.Greater(t, count("queue = 'reports' AND state = 'available'"), riverBacklogJobs-20,
		"two workers barely dent the reports backlog")
	var oldest time.Time
	require.NoError(t, pool.QueryRow(ctx, "SELECT min(scheduled_at) FROM river_job WHERE queue = 'reports' AND state = 'available'").Scan(&oldest))
	assert.InDelta(t, riverBacklogOldest.Seconds(), start.Sub(oldest).Seconds(), 2, "the backlog's oldest job waits since 4m45s before the start")

	var ranFor time.Duration
	require.Eventually(t, func() bool {
		var attempted time.Time
		err := pool.QueryRow(ctx, "SELECT attempted_at FROM river_job WHERE kind = 'data_migration' AND state = 'running'").Scan(&attempted)
		ranFor = time.Since(attempted)
		return err == nil && ranFor > riverMigrationRan
	}, 5*time.Second, 50*time.Millisecond, "the data migration runs, started 4m45s before the demo")

	assert.Positive(t, count("state = 'completed'"), "River's workers complete jobs")
	assert.Positive(t, total.Enqueued)
	assert.Equal(t, total.Enqueued, count("true"), "every insert reported is a row")

	_, err = sim.Stop(ctx, time.Now())
	require.NoError(t, err)
	assert.Zero(t, count("state = 'running'"), "stopping cancels what runs")
}
