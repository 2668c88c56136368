// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// BenchmarkSnapshot reads 1,000 queues (100,000 pending tasks) and 200
// servers (1,000 running tasks) from a real redis-server: the reader, then,
// on the same dataset, the same figures computed as asynq's Inspector
// computes them (inspector_test.go: Queues, GetQueueInfo per queue with its
// SISMEMBER, stats script and memory-usage script, then Servers). Both
// report Redis round trips and commands.
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	now := time.Now()
	f := newFixture(b, srv.Client(b), now)
	f.serverTTL = time.Hour
	f.populate(1000, 100, 200, 5)
	ctx := context.Background()

	b.Run("reader", func(b *testing.B) {
		c, n := newClient(b, redisclient.Config{Endpoint: srv.Addr()})
		r := NewReader(c, Options{StalledAfter: 5 * time.Minute, Now: func() time.Time { return now }})
		_, err := r.Snapshot(ctx) // warm the connection
		require.NoError(b, err)
		n.Reset()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n.RoundTrips())/float64(b.N), "roundtrips/op")
		b.ReportMetric(float64(n.Commands())/float64(b.N), "cmds/op")
	})

	b.Run("inspector", func(b *testing.B) {
		c, n := newClient(b, redisclient.Config{Endpoint: srv.Addr()})
		in := &inspector{c: c, now: now, memory: true}
		scrape := func() {
			names, err := in.queues(ctx)
			require.NoError(b, err)
			for _, q := range names {
				_, _, err := in.getQueueInfo(ctx, q)
				require.NoError(b, err)
			}
			_, err = in.servers(ctx)
			require.NoError(b, err)
		}
		scrape() // warm the connection and load the scripts
		n.Reset()
		b.ReportAllocs()
		for b.Loop() {
			scrape()
		}
		b.ReportMetric(float64(n.RoundTrips())/float64(b.N), "roundtrips/op")
		b.ReportMetric(float64(n.Commands())/float64(b.N), "cmds/op")
	})
}
