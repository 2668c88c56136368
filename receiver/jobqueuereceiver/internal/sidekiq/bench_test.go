// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq

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

// BenchmarkSnapshot reads 1,000 queues (25,000 jobs) and 200 processes (1,000
// running jobs) from a real redis-server: the reader, then, on the same
// dataset, Sidekiq's own Ruby API computing the same figures (timed inside
// Ruby, so interpreter start-up is excluded; it runs max(b.N, 10) iterations
// and reports its own ns/op). Both report Redis round trips and commands.
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	newFixture(b, srv.Client(b), "").populate(1000, 25, 200, 5)

	b.Run("reader", func(b *testing.B) {
		c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: srv.Addr()})
		snapshottest.BenchSnapshots(b, NewReader(c, Options{StalledAfter: 5 * time.Minute}), n)
	})

	b.Run("sidekiq_ruby_api", func(b *testing.B) {
		redistest.RequireTool(b, "ruby", "apt-get install -y ruby-sidekiq")
		script, err := filepath.Abs(filepath.Join("ruby", "bench_api.rb"))
		require.NoError(b, err)
		cmd := exec.Command("ruby", script, strconv.Itoa(max(b.N, 10)))
		cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0")
		snapshottest.ReportLibraryBench(b, cmd)
	})
}
