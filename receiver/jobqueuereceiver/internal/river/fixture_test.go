// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package river

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// database is the database River's tables are migrated into.
const database = "river"

// migrated starts a PostgreSQL, creates a database with River's schema as
// River v0.51.2's own migrator writes it (every migration of the main
// line), and returns the server and a superuser pool on that database.
func migrated(tb testing.TB) (*pgtest.Server, *pgxpool.Pool) {
	tb.Helper()
	srv := pgtest.Start(tb)
	pool, err := pgxpool.New(context.Background(), srv.CreateRiverDatabase(database))
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return srv, pool
}

// newClient returns a client configured like the receiver's (a 5 s
// timeout), as role, closed when the test ends.
func newClient(tb testing.TB, srv *pgtest.Server, role, schema string) *pgclient.Client {
	tb.Helper()
	c, err := (&pgclient.Config{Endpoint: srv.Addr(), Username: role, Database: database, Schema: schema}).NewClient(context.Background(), 5*time.Second)
	require.NoError(tb, err)
	tb.Cleanup(c.Close)
	return c
}

// bigShare is how populate spreads its jobs over River's states: most are
// finalized, as on a busy installation that keeps completed jobs for
// River's default 24 h retention.
var bigShare = []struct {
	state string
	per   int // jobs of this state per 1,000
}{
	{StateCompleted, 900},
	{StateDiscarded, 20},
	{StateCancelled, 10},
	{StateAvailable, 40},
	{StateScheduled, 10},
	{StateRetryable, 10},
	{StatePending, 5},
	{StateRunning, 5},
}

// populate writes jobs rows spread over queues queues (q0000, ...) and
// River's states in the bigShare proportions, each queue with a
// river_queue row, with the columns River sets in each state (finalized_at
// for finalized jobs, attempted_at and attempted_by once worked, one errors
// entry for retryable and discarded jobs), then VACUUM ANALYZE as
// autovacuum would: the planner's statistics and the visibility map an
// index-only scan relies on.
func populate(tb testing.TB, srv *pgtest.Server, queues, jobs int) {
	tb.Helper()
	var stmts []string
	stmts = append(stmts, fmt.Sprintf(`INSERT INTO river_queue (name, created_at, updated_at)
		SELECT 'q' || lpad(i::text, 4, '0'), now(), now() FROM generate_series(0, %d) AS i`, queues-1))
	first := 0
	for _, s := range bigShare {
		n := jobs * s.per / 1000
		finalized := "NULL"
		if s.state == StateCompleted || s.state == StateDiscarded || s.state == StateCancelled {
			finalized = "now() - (i % 3600) * interval '1 second'"
		}
		attempted, attempt, by := "NULL", "0", "NULL"
		if s.state != StateAvailable && s.state != StateScheduled && s.state != StatePending {
			attempted, attempt, by = "now() - (i % 600) * interval '1 second'", "1", "ARRAY['client-1']"
		}
		errs := "NULL"
		if s.state == StateRetryable || s.state == StateDiscarded {
			errs = `ARRAY[jsonb_build_object('at', now(), 'attempt', 1, 'error', 'charge card: declined ' || i, 'trace', '')]`
		}
		scheduled := "now() - (i % 7200) * interval '1 second'"
		if s.state == StateScheduled || s.state == StateRetryable {
			scheduled = "now() + (i % 7200) * interval '1 second'"
		}
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, attempted_at, attempted_by, errors, scheduled_at, finalized_at, priority)
			SELECT '%s', 'q' || lpad((i %% %d)::text, 4, '0'), 'kind' || (i %% 20), '{}', 25, %s, %s, %s, %s, %s, %s, 1 + i %% 4
			FROM generate_series(%d, %d) AS i`,
			s.state, queues, attempt, attempted, by, errs, scheduled, finalized, first, first+n-1))
		first += n
	}
	stmts = append(stmts, "VACUUM ANALYZE river_job", "VACUUM ANALYZE river_queue")
	srv.Exec(database, stmts...)
}
