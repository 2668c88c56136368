// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package bullmq

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// BenchmarkSnapshot reads 1,000 queues holding 100,000 waiting jobs (plus one
// active, delayed, prioritized, completed and failed job each) from a real
// redis-server: the reader in its steady state (discovery done), then, on
// the same dataset, BullMQ 6.7.0's own API computing the same counts and
// the oldest waiting job (getJobCounts + getWaiting(0, 0) per queue) one
// queue after the other and all queues at once, and every figure the reader
// reports (testdata/node/bench.js), timed inside Node (start-up excluded;
// max(b.N, 5) passes).
func BenchmarkSnapshot(b *testing.B) {
	const queues, jobs = 1000, 100
	srv := redistest.Start(b)
	newFixture(b, srv.Client(b), "").populate(queues, jobs)
	ctx := context.Background()

	b.Run("reader", func(b *testing.B) {
		c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: srv.Addr()})
		r := NewReader(c, Options{StalledAfter: 5 * time.Minute, DiscoveryInterval: time.Hour})
		s, err := r.Snapshot(ctx) // discovery, and a warm connection
		require.NoError(b, err)
		require.Len(b, s.Queues, queues)
		b.Logf("discovery snapshot: %d round trips, %d commands", n.RoundTrips(), n.Commands())
		snapshottest.BenchSnapshots(b, r, n)
	})

	b.Run("bullmq_api", func(b *testing.B) {
		app := nodetest.Install(b, filepath.Join("testdata", "node"), "bench.js")
		cmd := exec.Command("node", "bench.js")
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()),
			"QUEUES="+strconv.Itoa(queues), "ITERATIONS="+strconv.Itoa(max(b.N, 5)))
		var res map[string]struct {
			NsPerOp       float64 `json:"ns_per_op"`
			CommandsPerOp float64 `json:"commands_per_op"`
		}
		snapshottest.RunJSON(b, cmd, &res)
		for _, mode := range []string{"sequential", "concurrent", "all_figures"} {
			b.ReportMetric(res[mode].NsPerOp, mode+"_ns/op")
			b.ReportMetric(res[mode].CommandsPerOp, mode+"_cmds/op")
		}
		b.ReportMetric(0, "ns/op") // timed in Node, above
	})
}
