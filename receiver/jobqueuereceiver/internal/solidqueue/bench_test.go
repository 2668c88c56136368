// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	"testing"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
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
	ctx := context.Background()

	b.Run("reader", func(b *testing.B) {
		c := f.client("postgres")
		r := NewReader(c, opts)
		if _, err := r.Snapshot(ctx); err != nil {
			b.Fatal(err)
		}
		benchLoop(b, c, func() {
			if _, err := r.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("reader_counting", func(b *testing.B) {
		c := f.client("postgres")
		benchLoop(b, c, func() {
			if _, err := NewReader(c, opts).Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, latency := range []bool{false, true} {
		name := "mission_control"
		if latency {
			name += "+queue_latency"
		}
		b.Run(name, func(b *testing.B) {
			c := f.client("postgres")
			mc := missionControl{q: c, schema: "public"}
			benchLoop(b, c, func() {
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
			})
		})
	}
}

// benchLoop times fn, after a first call that warms the session, and
// reports the round trips and statements per call c counted.
func benchLoop(b *testing.B, c *pgclient.Client, fn func()) {
	b.Helper()
	fn()
	c.Counter().Reset()
	b.ReportAllocs()
	for b.Loop() {
		fn()
	}
	b.ReportMetric(float64(c.Counter().RoundTrips())/float64(b.N), "roundtrips/op")
	b.ReportMetric(float64(c.Counter().Commands())/float64(b.N), "stmts/op")
}
