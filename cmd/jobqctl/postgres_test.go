// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// TestSnapshotRiver: a River database migrated by River itself, read as a
// read-only role, as a table with its cost in statements and round trips;
// a count beyond --estimate-above is marked as the planner's estimate.
func TestSnapshotRiver(t *testing.T) {
	srv := pgtest.Start(t)
	srv.CreateRiverDatabase("app")
	srv.Exec("app",
		`INSERT INTO river_job (state, queue, kind, args, max_attempts, scheduled_at) VALUES
			('available', 'default', 'send', '{}', 25, now() - interval '90 seconds'),
			('available', 'default', 'send', '{}', 25, now())`,
		`INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, attempted_at, finalized_at)
			SELECT 'completed', 'default', 'send', '{}', 25, 1, now(), now() FROM generate_series(1, 50)`,
		"ANALYZE river_job",
		"CREATE ROLE otelcol_jobs LOGIN",
		"ALTER ROLE otelcol_jobs SET default_transaction_read_only = on",
		"GRANT USAGE ON SCHEMA public TO otelcol_jobs",
		"GRANT SELECT ON river_job, river_queue TO otelcol_jobs")

	code, out, errOut := runCmd([]string{"snapshot", "--system", "river", "--endpoint", srv.Addr(),
		"--database", "app", "--username", "otelcol_jobs", "--estimate-above", "10"}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "river at "+srv.Addr()+"/app schema \"public\"")
	assert.Equal(t, []string{"PostgreSQL", "cost:", "1", "round", "trips,"}, row(t, out, "PostgreSQL cost:")[:5])
	q := row(t, out, "default ")
	assert.Equal(t, "2", q[1], "size")
	completed := row(t, out, "completed ")
	assert.True(t, strings.HasPrefix(completed[len(completed)-1], "~"), "50 completed jobs > --estimate-above 10: the planner's estimate, marked: %v", completed)
	assert.Contains(t, out, "~ the planner's estimate")
	assert.Contains(t, out, "no processes: river registers no workers in PostgreSQL")

	code, _, errOut = runCmd([]string{"snapshot", "--system", "river", "--endpoint", srv.Addr(), "--username", "otelcol_jobs"}, nil)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "database: must be set for river")

	code, _, errOut = runCmd([]string{"snapshot", "--system", "oban", "--endpoint", srv.Addr(), "--database", "app", "--username", "otelcol_jobs"}, nil)
	assert.Equal(t, exitRedis, code)
	assert.Contains(t, errOut, "check system, database and schema")
}
