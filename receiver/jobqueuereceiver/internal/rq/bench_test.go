// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// BenchmarkSnapshot reads 1,000 queues (100,000 waiting jobs, 21,000
// registry entries) and 200 workers (50 busy) from a real redis-server:
// the reader, then, on the same dataset, RQ 1.13's own Python API computing
// the same figures (timed inside Python, so interpreter start-up is
// excluded; it runs max(b.N, 3) iterations and reports its own ns/op). Both
// report Redis round trips and commands.
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	f := newFixture(b, srv.Client(b))
	f.now = time.Now() // RQ's API judges expiry by the real clock
	f.populate(1000, 100, 200, 50)

	b.Run("reader", func(b *testing.B) {
		c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: srv.Addr()})
		snapshottest.BenchSnapshots(b, NewReader(c, Options{StalledAfter: 5 * time.Minute}), n)
	})

	b.Run("rq_python_api", func(b *testing.B) {
		requireRQ(b)
		dir, err := filepath.Abs("python")
		require.NoError(b, err)
		cmd := exec.Command(python, filepath.Join(dir, "bench_api.py"), strconv.Itoa(max(b.N, 3)))
		cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0")
		snapshottest.ReportLibraryBench(b, cmd)
	})
}
