// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package oban

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// TestSnapshotRoundTrips: one round trip whatever the number of queues;
// the statements are fixed, not one per queue: 4, plus a count and an
// estimate per terminal state, plus 2 with the breakdown; the first
// snapshot also lists the terminal states' queues, which the next ones
// know from the counts (all within estimate_above here).
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name         string
		queues, jobs int
		byClass      int
		wantFirst    int64
	}{
		{"1 queue", 1, 1000, 0, 10},
		{"1000 queues", 1000, 100_000, 0, 10},
		{"1000 queues by class", 1000, 100_000, 1000, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "public")
			f.populate(tc.queues, tc.jobs)
			c := f.client("postgres")
			r := NewReader(c, f.options(Options{StalledAfter: time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: tc.byClass}))
			for i, want := range []int64{tc.wantFirst, tc.wantFirst - 1, tc.wantFirst - 1} {
				c.Counter().Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Empty(t, s.Problems)
				assert.Equal(t, int64(1), c.Counter().RoundTrips(), "snapshot %d", i)
				assert.Equal(t, want, c.Counter().Commands(), "snapshot %d", i)
			}
		})
	}
}

func TestSnapshotEmpty(t *testing.T) {
	f := newFixture(t, "public")
	s, err := NewReader(f.client("postgres"), f.options(Options{EstimateAbove: 10, ByClassMaxEntries: 10})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Empty(t, s.Queues)
	assert.Empty(t, s.Jobs)
	assert.Empty(t, s.ByClass)
	assert.Empty(t, s.Problems)
}

// readOnlyGrants are the README's lines for a scraping role.
func readOnlyGrants(schema, role string) []string {
	s, r := pgx.Identifier{schema}.Sanitize(), pgx.Identifier{role}.Sanitize()
	return []string{
		"CREATE ROLE " + r + " LOGIN",
		"GRANT USAGE ON SCHEMA " + s + " TO " + r,
		"GRANT SELECT ON " + s + ".oban_jobs TO " + r,
		"ALTER ROLE " + r + " SET default_transaction_read_only = on",
	}
}

// TestSnapshotReadOnlyRole reads as a role that may only SELECT on
// oban_jobs, in another schema than public (Oban's prefix), and checks
// nothing changed; a role without the grant gets the server's refusal,
// explained.
func TestSnapshotReadOnlyRole(t *testing.T) {
	f := newFixture(t, "jobs")
	writeScenario(f)
	f.srv.Exec(database, readOnlyGrants("jobs", "otelcol")...)
	f.srv.Exec(database, "CREATE ROLE nobody LOGIN", "GRANT USAGE ON SCHEMA jobs TO nobody")
	before := f.obanCounts()
	var xact int64
	require.NoError(t, f.conn.QueryRow(context.Background(), "SELECT pg_current_xact_id()::text::bigint").Scan(&xact))

	opts := f.options(Options{StalledAfter: 5 * time.Minute, EstimateAbove: 1, ByClassMaxEntries: 10})
	s, err := NewReader(f.client("otelcol"), opts).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Len(t, s.Queues, 3)
	assert.Len(t, s.ByClass, 3)
	assert.Empty(t, s.Problems)
	assert.Equal(t, before, f.obanCounts())
	var xactAfter int64
	require.NoError(t, f.conn.QueryRow(context.Background(), "SELECT pg_current_xact_id()::text::bigint").Scan(&xactAfter))
	assert.Equal(t, xact+1, xactAfter, "no transaction id was assigned in between: nothing was written")

	cfg := pgclient.Config{Endpoint: f.srv.Addr(), Username: "nobody", Database: database, Schema: "jobs"}
	s, err = NewReader(f.client("nobody"), opts).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, `reading Oban's "jobs"."oban_jobs": ERROR: permission denied for table oban_jobs (SQLSTATE 42501)`)
	assert.ErrorContains(t, cfg.Explain(err), "the role needs SELECT on the job system's tables")
}

// TestSnapshotMissingTable: the wrong schema (or no Oban there) is one
// clear error naming the table.
func TestSnapshotMissingTable(t *testing.T) {
	f := newFixture(t, "public")
	opts := f.options(Options{})
	opts.Schema = "oban"
	s, err := NewReader(f.client("postgres"), opts).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, `reading Oban's "oban"."oban_jobs": ERROR: schema "oban" does not exist (SQLSTATE 3F000)`)
	cfg := pgclient.Config{Database: database, Schema: "oban"}
	assert.ErrorContains(t, cfg.Explain(err), `check system, database and schema`)

	// A schema without Oban (another system's tables, say).
	f.exec("CREATE SCHEMA oban")
	s, err = NewReader(f.client("postgres"), opts).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, `type "oban.oban_job_state" does not exist (SQLSTATE 42704)`)

	// The enum without the table (a half-dropped schema).
	f.exec("DROP TABLE oban_jobs")
	s, err = NewReader(f.client("postgres"), f.options(Options{})).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, `relation "public.oban_jobs" does not exist (SQLSTATE 42P01)`)
}

// TestSnapshotBadData: rows Oban would not write are skipped or reported,
// never fatal; names are bounded.
func TestSnapshotBadData(t *testing.T) {
	f := newFixture(t, "public")
	writeScenario(f)
	// A table without Oban's length checks (or written around them).
	f.exec("ALTER TABLE oban_jobs DROP CONSTRAINT queue_length, DROP CONSTRAINT worker_length")
	long := strings.Repeat("q", 1000)
	f.insert(long, strings.Repeat("W", 2000), jobOpts{})
	// An executing job without attempted_at, a discarded one whose last
	// error is not an object, another whose error has no string.
	id := f.insert("default", "App.Workers.Odd", jobOpts{})
	f.exec("UPDATE oban_jobs SET state = 'executing' WHERE id = $1", id)
	for _, entry := range []string{`"just a string"`, `{"at": "2026-11-27T10:00:00Z", "attempt": 1, "error": null}`} {
		id = f.insert("default", "App.Workers.Odd", jobOpts{})
		f.exec("UPDATE oban_jobs SET state = 'discarded', discarded_at = $2, errors = errors || ARRAY[$3::jsonb] WHERE id = $1",
			id, ts(testNow), entry)
	}

	s, err := NewReader(f.client("postgres"), f.options(Options{ByClassMaxEntries: 100})).Snapshot(context.Background())
	require.NoError(t, err)
	require.Len(t, s.Queues, 4)
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
	}
	for _, c := range s.ByClass {
		snapshottest.AssertName(t, c.Class)
	}
	assert.Equal(t, int64(3), snapshottest.Queue(t, s, "default").Running)
	assert.Equal(t, map[string]int{snapshot.KindNameTooLong: 1, kindMissingTimestamp: 1, kindInvalidError: 2}, snapshottest.ProblemKinds(s), "%+v", s.Problems)
	assert.True(t, snapshottest.HasProblem(s, kindMissingTimestamp, "oban_jobs.attempted_at"))
	assert.Contains(t, s.ByClass, snapshot.ClassCount{State: StateDiscarded, Class: "App.Workers.Odd", Count: 2})
}

// TestSnapshotManyQueues: a flood of queue names is read up to maxGroups
// per statement, and said so.
func TestSnapshotManyQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,001 queues")
	}
	f := newFixture(t, "public")
	f.exec("INSERT INTO oban_jobs (queue, worker, args) SELECT 'q' || i, 'W', '{}' FROM generate_series(0, " + strconv.Itoa(maxGroups) + ") AS i")
	s, err := NewReader(f.client("postgres"), f.options(Options{Selection: snapshot.Selection{Max: 10}})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, maxGroups, s.QueuesDiscovered)
	assert.Len(t, s.Queues, 10)
	assert.True(t, snapshottest.HasProblem(s, kindTruncated, "oban_jobs"))
}
