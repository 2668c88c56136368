// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	"testing"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// BenchmarkSnapshot reads 1,000 queues and 1,000,000 jobs (populate: 50,000
// ready, 20,000 scheduled, 10,000 failed, 10,000 blocked, 100 claimed by
// 10 workers, 909,900 finished) from a real PostgreSQL: the reader (after
// its first scrape, which found finished jobs past estimate_above), the
// reader counting every state each time (a new reader per scrape: what
// the first scrape costs), then, on the same database, the statements
// Mission Control Jobs sends for the same figures (queue list, pauses,
// every queue's size, the six status counts, workers and their jobs), and
// those plus SolidQueue::Queue#latency of every queue, which Mission
// Control does not show. Every one reports round trips and statements.
func BenchmarkSnapshot(b *testing.B) {
	srv := pgtest.Start(b)
	f := newFixture(b, srv, "app", "public")
	f.populate(1_000_000, 1000)
	opts := Options{Schema: "public", StalledAfter: 5 * time.Minute, EstimateAbove: 500_000}

	b.Run("reader", func(b *testing.B) {
		c := f.client("postgres")
		snapshottest.BenchSnapshots(b, NewReader(c, opts), c.Counter())
	})
	b.Run("reader_counting", func(b *testing.B) {
		c := f.client("postgres")
		snapshottest.BenchSnapshots(b, readerFunc(func(ctx context.Context) error {
			_, err := NewReader(c, opts).Snapshot(ctx)
			return err
		}), c.Counter())
	})
	for _, latency := range []bool{false, true} {
		name := "mission_control"
		if latency {
			name += "+queue_latency"
		}
		b.Run(name, func(b *testing.B) {
			c := f.client("postgres")
			mc := missionControl{q: c, schema: "public"}
			snapshottest.BenchSnapshots(b, readerFunc(func(context.Context) error {
				names := mc.queueNames(b)
				mc.paused(b, names)
				for _, q := range names {
					mc.size(b, q)
					if latency {
						mc.latency(b, q, f.now)
					}
				}
				for _, state := range []string{StateReady, StateScheduled, StateClaimed, StateBlocked, StateFailed, StateFinished} {
					mc.count(b, state, "")
				}
				for _, w := range mc.workers(b) {
					mc.workerJobs(b, w.id)
				}
				return nil
			}), c.Counter())
		})
	}
}

// readerFunc times statements other than one reader's snapshot.
type readerFunc func(ctx context.Context) error

func (f readerFunc) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) { return nil, f(ctx) }
