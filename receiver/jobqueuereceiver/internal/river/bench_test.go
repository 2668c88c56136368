// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package river

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// BenchmarkSnapshot reads 1,000 queues and 1,000,000 jobs (90% completed,
// see populate) from a real PostgreSQL: the reader with the default
// estimate_above (500,000: completed is read up to 500,001 rows, then
// estimated) and with 0 (everything counted exactly); then, on the same
// database, the statements River UI runs for its queue list and state
// counts, through River's own driver (QueueList, JobCountByQueueAndState
// for those queues' available and running counts, JobCountByAllStates:
// SELECT state, count(*) GROUP BY state). Each reports its round trips.
func BenchmarkSnapshot(b *testing.B) {
	srv, _ := migrated(b)
	populate(b, srv, 1000, 1_000_000)
	ctx := context.Background()

	for _, bench := range []struct {
		name          string
		estimateAbove int64
	}{{"reader", 500_000}, {"reader_exact", 0}} {
		b.Run(bench.name, func(b *testing.B) {
			c := newClient(b, srv, "postgres", "public")
			r := NewReader(c, Options{StalledAfter: 5 * time.Minute, EstimateAbove: bench.estimateAbove})
			snapshottest.BenchSnapshots(b, r, c.Counter())
		})
	}

	b.Run("river_ui_queries", func(b *testing.B) {
		cfg, err := pgxpool.ParseConfig(srv.URL(database))
		require.NoError(b, err)
		counter := &pgclient.Counter{}
		cfg.ConnConfig.Tracer = counter
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(b, err)
		b.Cleanup(pool.Close)
		exec := riverpgxv5.New(pool).GetExecutor()
		// The warm-up snapshot also fills pgx's statement cache.
		snapshottest.BenchSnapshots(b, riverUI(func(ctx context.Context) error {
			queues, err := exec.QueueList(ctx, &riverdriver.QueueListParams{Max: 10_000})
			if err != nil {
				return err
			}
			names := make([]string, len(queues))
			for i, q := range queues {
				names[i] = q.Name
			}
			if _, err := exec.JobCountByQueueAndState(ctx, &riverdriver.JobCountByQueueAndStateParams{QueueNames: names}); err != nil {
				return err
			}
			_, err = exec.JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
			return err
		}), counter)
	})
}

// riverUI runs River UI's statements as a snapshot.Reader (of no snapshot),
// for the benchmark loop.
type riverUI func(ctx context.Context) error

func (f riverUI) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) { return nil, f(ctx) }
