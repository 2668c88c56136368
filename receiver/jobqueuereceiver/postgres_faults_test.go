// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPostgresFaults runs the receiver (system: river) through what a
// PostgreSQL does to a long-running scraper: absent at start, restarted
// under it, and too slow (a lock held by a migration). Each fault fails its
// scrape with an error naming it, the receiver keeps running, and the
// figures resume; a restart costs no scrape at all (the statement is sent
// again on a new session).
func TestPostgresFaults(t *testing.T) {
	srv := riverDatabase(t)
	srv.Exec("jobs", "INSERT INTO river_job (state, queue, kind, args, max_attempts) VALUES ('available', 'default', 'send', '{}', 25)")
	cfg := riverConfig(srv, "postgres")
	cfg.Timeout = 500 * time.Millisecond
	size := func(t *testing.T, r *testReceiver) float64 {
		t.Helper()
		md, err := r.scrape(t)
		require.NoError(t, err)
		return points(t, md, "jobqueue.queue.size", "messaging.destination.name")["default"]
	}

	srv.Stop()
	r := startReceiver(t, cfg)
	_, err := r.last(t)
	require.ErrorContains(t, err, "connect", "PostgreSQL down at start: the first scrape says so")

	srv.Restart()
	assert.Equal(t, 1.0, size(t, r), "the figures come back with the server")

	srv.Restart()
	assert.Equal(t, 1.0, size(t, r), "a restart between scrapes loses no scrape: the dropped session is replaced at once")

	// A migration holding an ACCESS EXCLUSIVE lock blocks every read of
	// river_job: the scrape gives up within the timeout, cancelled on the
	// server too (statement_timeout), and says why.
	ctx := context.Background()
	locker, err := pgx.Connect(ctx, srv.URL("jobs"))
	require.NoError(t, err)
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE river_job IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	_, err = r.scrape(t)
	require.Error(t, err)
	assert.Regexp(t, "timeout|statement_timeout", err.Error())
	require.NoError(t, tx.Rollback(ctx))
	assert.Equal(t, 1.0, size(t, r), "the figures resume once the lock is gone")

	var waiting int
	require.NoError(t, locker.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'otelcol-jobs' AND state = 'active' AND wait_event_type = 'Lock'").Scan(&waiting))
	assert.Zero(t, waiting, "no statement of the receiver is left waiting on the server")
}

// TestPostgresWrongSystem: pointing system: oban at River's database fails
// each scrape with the missing table named and what to check.
func TestPostgresWrongSystem(t *testing.T) {
	srv := riverDatabase(t)
	cfg := riverConfig(srv, "postgres")
	cfg.System = SystemOban
	r := startReceiver(t, cfg)
	_, err := r.last(t)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "oban_jobs")
	assert.Contains(t, err.Error(), "check system, database and schema")
}
