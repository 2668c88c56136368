// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// otlpSink receives OTLP/HTTP trace requests (protobuf) as a collector's
// receiver would.
type otlpSink struct {
	mu       sync.Mutex
	received []ptrace.Traces
	url      string
}

func newOTLPSink(t *testing.T) *otlpSink {
	t.Helper()
	s := &otlpSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var td ptrace.Traces
			if td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body); err == nil {
				s.mu.Lock()
				s.received = append(s.received, td)
				s.mu.Unlock()
				w.Header().Set("Content-Type", "application/x-protobuf")
				return
			}
		}
		t.Errorf("OTLP request %s: %v", r.URL.Path, err)
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/v1/traces"
	return s
}

// check hands what the sink received to a connector and compares the
// edges and the cycle with the capture's.
func (s *otlpSink) check(t *testing.T, want int) {
	t.Helper()
	p := newPair(t, testConfig())
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(t, s.received)
	for _, td := range s.received {
		p.consume(t, td)
	}
	assert.Equal(t, captures[want].edges, p.edges(t))
	p.tick()
	got := p.alerts()
	require.Len(t, got, 1)
	assert.Equal(t, captures[want].cycle, got[0].cycle)
}

// The capture's workload run live: real BullMQ processors that add jobs,
// traced by bullmq-otel, against a private redis-server, their spans
// received over OTLP/HTTP here.
func TestLiveBullMQ(t *testing.T) {
	srv := redistest.Start(t)
	app := nodetest.Install(t, filepath.Join(capturesDir, "bullmq-otel-enqueue", "capture"), "workload.js")
	sink := newOTLPSink(t)
	cmd := exec.Command("node", "workload.js")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()), "OTLP_ENDPOINT="+sink.url)
	out, err := cmd.Output()
	require.NoError(t, err, "workload: %s", out)
	sink.check(t, 0)
}

// The River capture's workload run live: real River workers that insert
// jobs, traced by otelriver, on a private PostgreSQL. The program is a Go
// module of its own (otelriver is no dependency of this one), built from
// the module proxy.
func TestLiveRiver(t *testing.T) {
	pg := pgtest.Start(t)
	dbURL := pg.CreateDatabase("river")
	bin := filepath.Join(t.TempDir(), "river-capture")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(capturesDir, "river-otelriver-enqueue", "capture")
	if out, err := build.CombinedOutput(); err != nil {
		redistest.Missing(t, "building the River workload failed (the Go module proxy must be reachable): "+err.Error()+"\n"+string(out))
	}
	sink := newOTLPSink(t)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "OTLP_ENDPOINT="+sink.url)
	out, err := cmd.Output()
	require.NoError(t, err, "workload: %s", out)
	sink.check(t, 1)
}
