// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque

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

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
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

	b.Run("node_resque_api", func(b *testing.B) {
		app := nodetest.Install(b, filepath.Join("testdata", "node"), "bench_api.js")
		cmd := exec.Command("node", "bench_api.js", strconv.Itoa(max(b.N, 10)))
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(b, err, "bench_api.js: %s", stderr.String())
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
