// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
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
	ctx := context.Background()

	b.Run("reader", func(b *testing.B) {
		c, n := newClient(b, redisclient.Config{Endpoint: srv.Addr()})
		r := NewReader(c, Options{StalledAfter: 5 * time.Minute})
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

	b.Run("kombu_api", func(b *testing.B) {
		requireCelery(b)
		dir, err := filepath.Abs("python")
		require.NoError(b, err)
		cmd := exec.Command(debianPython, "bench_api.py", strconv.Itoa(max(b.N, 5)))
		cmd.Dir, cmd.Env = dir, append(os.Environ(), "CELERY_BROKER_URL=redis://"+srv.Addr()+"/0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(b, err, "bench_api.py: %s", stderr.String())
		var res struct {
			NsPerOp         float64 `json:"ns_per_op"`
			RoundTripsPerOp float64 `json:"round_trips_per_op"`
			CommandsPerOp   float64 `json:"commands_per_op"`
		}
		require.NoError(b, json.Unmarshal(out, &res), "%s", out)
		b.ReportMetric(res.NsPerOp, "ns/op")
		b.ReportMetric(res.RoundTripsPerOp, "roundtrips/op")
		b.ReportMetric(res.CommandsPerOp, "cmds/op")
	})
}
