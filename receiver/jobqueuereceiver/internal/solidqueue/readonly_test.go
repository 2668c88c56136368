// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// readTables are the tables the reader reads: the GRANT SELECT of the
// README's read-only role.
var readTables = []string{tJobs, tReady, tScheduled, tClaimed, tBlocked, tFailed, tPauses, tProcesses}

// grantReadOnly creates role with the README's grants in schema: USAGE on
// the schema, SELECT on the tables the reader reads (all but skip), and
// read-only transactions by default.
func grantReadOnly(srv *pgtest.Server, db, schema, role string, skip ...string) {
	var tables []string
	for _, t := range readTables {
		if !slices.Contains(skip, t) {
			tables = append(tables, pgclient.Table(schema, t))
		}
	}
	r := pgx.Identifier{role}.Sanitize()
	srv.Exec(db,
		"CREATE ROLE "+r+" LOGIN",
		"GRANT USAGE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+r,
		"GRANT SELECT ON "+strings.Join(tables, ", ")+" TO "+r,
		"ALTER ROLE "+r+" SET default_transaction_read_only = on",
	)
}

// TestReadOnlyRole reads, in a schema of its own, through a role that may
// only SELECT the eight tables and cannot write: the same snapshot as the
// superuser's. A role lacking one grant gets the receiver's hint.
func TestReadOnlyRole(t *testing.T) {
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "queue")
	writeScenario(f)
	grantReadOnly(srv, "app", "queue", "otelcol_jobs")
	opts := Options{StalledAfter: 5 * time.Minute, EstimateAbove: 2, ByClassMaxEntries: 10}
	want := take(t, f, "postgres", opts)
	got := take(t, f, "otelcol_jobs", opts)
	assert.Equal(t, want, got)
	assert.NotEmpty(t, got.Processes)
	assert.NotEmpty(t, got.ByClass)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URLAs("otelcol_jobs", "app"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DELETE FROM queue.solid_queue_pauses")
	assert.ErrorContains(t, err, "read-only transaction", "the role's sessions are read-only")
	_, err = conn.Exec(ctx, "BEGIN READ WRITE; DELETE FROM queue.solid_queue_pauses; COMMIT")
	assert.ErrorContains(t, err, "permission denied", "and it has no right to write anyway")

	grantReadOnly(srv, "app", "queue", "no_processes", tProcesses)
	c := f.client("no_processes")
	_, err = NewReader(c, Options{Schema: "queue"}).Snapshot(ctx)
	require.ErrorContains(t, err, "permission denied for table solid_queue_processes")
	cfg := pgclient.Config{Database: "app", Schema: "queue"}
	assert.ErrorContains(t, cfg.Explain(err), "the role needs SELECT")
}
