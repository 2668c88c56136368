// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

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

	b.Run("rq_python_api", func(b *testing.B) {
		requireRQ(b)
		dir, err := filepath.Abs("python")
		require.NoError(b, err)
		cmd := exec.Command(python, filepath.Join(dir, "bench_api.py"), strconv.Itoa(max(b.N, 3)))
		cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0")
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
