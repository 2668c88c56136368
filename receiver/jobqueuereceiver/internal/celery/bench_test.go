// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

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

// BenchmarkSnapshot reads 1,000 queues holding 100,000 messages over four
// priority lists each, plus 2,000 unacked messages, from a real
// redis-server: the reader (its discovery SCAN step included in every
// snapshot), then, on the same dataset, kombu's own API computing the same
// figures (python/bench_api.py, timed inside Python, so interpreter
// start-up is excluded; it runs max(b.N, 5) iterations and reports its own
// ns/op). Both report Redis round trips and commands.
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	newFixture(b, srv.Client(b), "").populate(1000, 100, 2)

	b.Run("reader", func(b *testing.B) {
		c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: srv.Addr()})
		snapshottest.BenchSnapshots(b, NewReader(c, Options{StalledAfter: 5 * time.Minute}), n)
	})

	b.Run("kombu_api", func(b *testing.B) {
		requireCelery(b)
		dir, err := filepath.Abs("python")
		require.NoError(b, err)
		cmd := exec.Command(debianPython, "bench_api.py", strconv.Itoa(max(b.N, 5)))
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "CELERY_BROKER_URL=redis://"+srv.Addr()+"/0")
		snapshottest.ReportLibraryBench(b, cmd)
	})
}
