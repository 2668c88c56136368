// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// BenchmarkSnapshot reads 1,000 queues (100,000 jobs), 50 failures and 200
// workers (half Ruby, half node-resque; 100 of them working) from a real
// redis-server: the reader, then, on the same dataset, node-resque's own
// API computing the same figures (timed inside Node, so start-up is
// excluded; it runs max(b.N, 10) iterations and reports its own ns/op).
// Both report Redis round trips and commands.
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	newFixture(b, srv.Client(b), "").populate(1000, 100, 200)

	b.Run("reader", func(b *testing.B) {
		c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: srv.Addr()})
		snapshottest.BenchSnapshots(b, NewReader(c, Options{StalledAfter: 5 * time.Minute}), n)
	})

	b.Run("node_resque_api", func(b *testing.B) {
		app := nodetest.Install(b, filepath.Join("testdata", "node"), "bench_api.js")
		cmd := exec.Command("node", "bench_api.js", strconv.Itoa(max(b.N, 10)))
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()))
		snapshottest.ReportLibraryBench(b, cmd)
	})
}
