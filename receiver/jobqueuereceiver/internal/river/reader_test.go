// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package river

import (
	"context"
	"encoding/json"
	"regexp"
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

// planNode is the part of EXPLAIN (FORMAT JSON) a test looks at.
type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Index    string     `json:"Index Name"`
	Plans    []planNode `json:"Plans"`
}

func (n planNode) walk(visit func(planNode)) {
	visit(n)
	for _, c := range n.Plans {
		c.walk(visit)
	}
}

// explain returns the plan the server chooses for stmt.
func explain(t *testing.T, c *pgclient.Client, stmt string) planNode {
	t.Helper()
	rows, err := c.Query(context.Background(), "EXPLAIN (FORMAT JSON) "+stmt)
	require.NoError(t, err)
	out, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
	require.NoError(t, err)
	var plans []struct{ Plan planNode }
	require.NoError(t, json.Unmarshal([]byte(out), &plans))
	return plans[0].Plan
}

// TestIndexesOnAMillionJobs checks on 1,000,000 jobs in 1,000 queues (90%
// completed, the rest over every other state) that the statements of the
// per-queue figures (registry, sizes, latency and the other waiting
// states, running ages and stalled) read River's indexes, never the whole
// river_job table, and that a snapshot is one round trip.
func TestIndexesOnAMillionJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 rows")
	}
	srv, _ := migrated(t)
	populate(t, srv, 1000, 1_000_000)
	c := newClient(t, srv, "postgres", "public")
	opts := Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: 100}
	stmts := buildStatements(Options{Schema: "public", EstimateAbove: opts.EstimateAbove})
	perQueue := map[string]string{
		"waiting": stmts.waiting,
		// The cutoff as the reader binds it.
		"running": strings.Replace(stmts.running, "$1", "now() - interval '5 minutes'", 1),
	}
	for what, stmt := range perQueue {
		var indexes []string
		explain(t, c, stmt).walk(func(n planNode) {
			assert.False(t, n.NodeType == "Seq Scan" && n.Relation == jobTable, "%s: sequential scan of river_job", what)
			if n.Index != "" {
				indexes = append(indexes, n.Index)
			}
		})
		assert.Equal(t, []string{"river_job_prioritized_fetching_index"}, indexes, what)
	}

	c.Counter().Reset()
	s, err := NewReader(c, opts).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Counter().RoundTrips())
	assert.Len(t, s.Queues, 1000)
	assert.Equal(t, int64(40), snapshottest.Queue(t, s, "q0007").Size)
	global := map[string]snapshot.StateCount{}
	for _, j := range s.Jobs {
		if j.Queue == "" {
			global[j.State] = j
		}
	}
	require.Contains(t, global, StateCompleted, "900,000 completed jobs: beyond 500,000")
	assert.True(t, global[StateCompleted].Estimated)
	assert.InDelta(t, 900_000, global[StateCompleted].Count, 50_000, "the planner's estimate")
	assert.Len(t, global, 1, "the other finalized states are counted, per queue")
	assert.Equal(t, int64(20), snapshottest.Jobs(s, "q0007")[StateDiscarded])
}

// TestReadOnlyRole reads through a role that may only SELECT River's two
// tables, in sessions that default to read-only: the GRANT lines of the
// README.
func TestReadOnlyRole(t *testing.T) {
	srv, _ := migrated(t)
	srv.Exec(database,
		"INSERT INTO river_queue (name, paused_at) VALUES ('mail', now())",
		"INSERT INTO river_job (queue, kind, args, max_attempts) VALUES ('mail', 'send', '{}', 25)",
		"ANALYZE river_job",
		// The README's lines:
		"CREATE ROLE otelcol_jobs LOGIN",
		"GRANT USAGE ON SCHEMA public TO otelcol_jobs",
		"GRANT SELECT ON river_job, river_queue TO otelcol_jobs",
		"ALTER ROLE otelcol_jobs SET default_transaction_read_only = on")
	c := newClient(t, srv, "otelcol_jobs", "public")
	s, err := NewReader(c, Options{EstimateAbove: 1, ByClassMaxEntries: 10}).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Counter().RoundTrips())
	q := snapshottest.Queue(t, s, "mail")
	assert.Equal(t, int64(1), q.Size)
	assert.True(t, q.Paused)

	srv.Exec(database, "REVOKE SELECT ON river_queue FROM otelcol_jobs")
	_, err = NewReader(c, Options{}).Snapshot(context.Background())
	require.ErrorContains(t, err, "permission denied for table river_queue")
	cfg := pgclient.Config{Database: database, Schema: "public"}
	assert.ErrorContains(t, cfg.Explain(err), "the role needs SELECT")
}

// TestMissingTables: a schema without River's tables (wrong system or
// schema) fails the snapshot with the server's error, which the
// snapshotter's pgclient.Config.Explain completes.
func TestMissingTables(t *testing.T) {
	srv, _ := migrated(t)
	srv.Exec(database, "CREATE SCHEMA other")
	c := newClient(t, srv, "postgres", "other")
	s, err := NewReader(c, Options{Schema: "other"}).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, `river: read river_job and river_queue: ERROR: relation "other.river_queue" does not exist`)
	cfg := pgclient.Config{Database: database, Schema: "other"}
	assert.ErrorContains(t, cfg.Explain(err), `check system, database and schema`)

	// River's tables in a schema of their own (River's Config.Schema).
	srv.Exec(database, "CREATE SCHEMA jobs", "CREATE TABLE jobs.river_queue (LIKE public.river_queue)",
		"CREATE TABLE jobs.river_job (LIKE public.river_job INCLUDING ALL)",
		"INSERT INTO jobs.river_job (queue, kind, args, max_attempts) VALUES ('inbox', 'k', '{}', 1)")
	s, err = NewReader(newClient(t, srv, "postgres", "jobs"), Options{Schema: "jobs"}).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"inbox"}, snapshottest.QueueNames(s))
}

// TestBadDataAndNames: rows River would not write (a running job without
// attempted_at, errors entries that are not River's object) are skipped
// and listed as problems; long queue and kind names are bounded; the
// selection applies to queues from the registry and from jobs alike.
func TestBadDataAndNames(t *testing.T) {
	srv, _ := migrated(t)
	long := strings.Repeat("🚀", 127) // River allows 127 characters: 508 bytes
	srv.Exec(database,
		"INSERT INTO river_queue (name) VALUES ('a'), ('b'), ('"+long+"'), (repeat('x', 100000))",
		"INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt) VALUES ('running', 'a', 'k', '{}', 1, 1)",
		`INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, attempted_at, errors, finalized_at) VALUES
			('discarded', 'a', 'k', '{}', 1, 1, now(), ARRAY['"oops"'::jsonb], now()),
			('discarded', 'a', 'k', '{}', 1, 1, now(), ARRAY['{"at": "2026-01-01T00:00:00Z", "attempt": 1}'::jsonb], now()),
			('discarded', 'a', 'k', '{}', 1, 1, now(), NULL, now()),
			('retryable', 'b', '`+long+`', '{}', 5, 1, now(), ARRAY['{"error": "dial tcp: refused"}'::jsonb, '{"error": "multi\nline: x"}'::jsonb], NULL)`,
		"INSERT INTO river_job (queue, kind, args, max_attempts) VALUES ('"+long+"', 'k', '{}', 1), ('c', 'k', '{}', 1), ('skip-me', 'k', '{}', 1)")
	c := newClient(t, srv, "postgres", "public")
	s, err := NewReader(c, Options{ByClassMaxEntries: 10,
		Selection: snapshot.Selection{Exclude: []*regexp.Regexp{regexp.MustCompile("^skip")}}}).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 6, s.QueuesDiscovered)
	require.Len(t, s.Queues, 5)
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
	}
	a := snapshottest.Queue(t, s, "a")
	assert.Equal(t, int64(1), a.Running)
	assert.Zero(t, a.RunningMaxAge, "no attempted_at: no age invented")
	assert.Equal(t, map[string]int{kindMissingTimestamp: 1, kindInvalidValue: 2, snapshot.KindNameTooLong: 3}, snapshottest.ProblemKinds(s))
	require.Len(t, s.ByClass, 2)
	assert.Equal(t, snapshot.ClassCount{State: StateDiscarded, Class: "k", ErrorType: "", Count: 3}, s.ByClass[0])
	assert.Equal(t, "multi", s.ByClass[1].ErrorType, "the last attempt's error, one line")
	snapshottest.AssertName(t, s.ByClass[1].Class)
	rockets := s.Queues[4].Name // sorted by raw name: a, b, c, x..., 🚀...
	require.True(t, strings.HasPrefix(rockets, "🚀"))
	assert.Equal(t, int64(1), snapshottest.Jobs(s, rockets)[StateAvailable], "one queue of jobs and registry")
	assert.True(t, strings.HasPrefix(s.Queues[3].Name, "xxx"))
	assert.NotContains(t, snapshottest.QueueNames(s), "skip-me")
}

// TestEstimateSwitch follows a finalized state across EstimateAbove: counted
// per queue while within it; beyond it, the planner's estimate for the
// whole table, and no longer counted on the next snapshots (its statement
// leaves the batch); counted again once the planner's estimate is back
// within the limit.
func TestEstimateSwitch(t *testing.T) {
	srv, _ := migrated(t)
	finalized := func(state string, n int) string {
		return "INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, attempted_at, finalized_at) " +
			"SELECT '" + state + "', 'q' || (i % 2), 'k', '{}', 1, 1, now(), now() FROM generate_series(1, " + strconv.Itoa(n) + ") AS i"
	}
	completed := func(n int) string { return finalized(StateCompleted, n) }
	srv.Exec(database, completed(2), "ANALYZE river_job")
	c := newClient(t, srv, "postgres", "public")
	r := NewReader(c, Options{EstimateAbove: 3})
	take := func() (*snapshot.Snapshot, int64) {
		t.Helper()
		c.Counter().Reset()
		s, err := r.Snapshot(context.Background())
		require.NoError(t, err)
		require.Empty(t, s.Problems)
		return s, c.Counter().Commands()
	}
	global := func(s *snapshot.Snapshot) []snapshot.StateCount {
		var out []snapshot.StateCount
		for _, j := range s.Jobs {
			if j.Queue == "" {
				out = append(out, j)
			}
		}
		return out
	}

	s, all := take()
	assert.Empty(t, global(s))
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "q0")[StateCompleted])

	srv.Exec(database, completed(8), finalized(StateCancelled, 4), finalized(StateDiscarded, 4), "ANALYZE river_job")
	s, n := take()
	assert.Equal(t, all, n)
	assert.Equal(t, []snapshot.StateCount{
		{State: StateCompleted, Count: 10, Estimated: true},
		{State: StateCancelled, Count: 4, Estimated: true},
		{State: StateDiscarded, Count: 4, Estimated: true},
	}, global(s))
	assert.NotContains(t, snapshottest.Jobs(s, "q0"), StateCompleted)

	// Not counted any more (the statement of the finalized states leaves
	// the batch): the planner alone says they are still beyond.
	srv.Exec(database, completed(2), "ANALYZE river_job")
	s, n = take()
	assert.Equal(t, all-1, n)
	assert.Equal(t, snapshot.StateCount{State: StateCompleted, Count: 12, Estimated: true}, global(s)[0])

	// River's cleaner deletes finalized jobs; autovacuum analyzes.
	srv.Exec(database, "DELETE FROM river_job WHERE id > 3", "ANALYZE river_job")
	s, _ = take()
	assert.Equal(t, []snapshot.StateCount{
		{State: StateCompleted, Count: 3, Estimated: true},
		// The planner never estimates fewer than one row.
		{State: StateCancelled, Count: 1, Estimated: true},
		{State: StateDiscarded, Count: 1, Estimated: true},
	}, global(s), "the estimates that tell the states are back within the limit")
	s, n = take()
	assert.Equal(t, all, n)
	assert.Empty(t, global(s))
	assert.Equal(t, int64(2), snapshottest.Jobs(s, "q1")[StateCompleted], "counted again, per queue")
}
