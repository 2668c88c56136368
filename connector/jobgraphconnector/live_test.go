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
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// The capture's workload run live: real BullMQ processors that add jobs,
// traced by bullmq-otel, against a private redis-server, their spans
// received over OTLP/HTTP here and handed to the connector as they come.
func TestLiveBullMQ(t *testing.T) {
	srv := redistest.Start(t)
	dir := filepath.Join("..", "..", "testdata", "otlp", "bullmq-otel-enqueue", "capture")
	app := nodetest.Install(t, dir, "workload.js")

	var mu sync.Mutex
	var received []ptrace.Traces
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			var td ptrace.Traces
			if td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body); err == nil {
				mu.Lock()
				received = append(received, td)
				mu.Unlock()
				w.Header().Set("Content-Type", "application/x-protobuf")
				return
			}
		}
		t.Errorf("OTLP request %s: %v", r.URL.Path, err)
		w.WriteHeader(http.StatusBadRequest)
	}))
	t.Cleanup(otlp.Close)

	cmd := exec.Command("node", "workload.js")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()), "OTLP_ENDPOINT="+otlp.URL+"/v1/traces")
	out, err := cmd.Output()
	require.NoError(t, err, "workload: %s", out)

	p := newPair(t, testConfig())
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, received)
	for _, td := range received {
		p.consume(t, td)
	}
	assert.Equal(t, captures[0].edges, p.edges(t))
	p.tick()
	got := p.alerts()
	require.Len(t, got, 1)
	assert.Equal(t, captures[0].cycle, got[0].cycle)
}
