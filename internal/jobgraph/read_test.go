// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraph

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// export is one batch of the connector's metric as a collector exports
// it: one resource (replica), a cumulative or delta sum, one point per
// edge, at time at.
func export(replica string, temporality pmetric.AggregationTemporality, at int, edges ...Edge) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", replica)
	sm := rm.ScopeMetrics().AppendEmpty()
	other := sm.Metrics().AppendEmpty()
	other.SetName("traces.span.metrics.calls")
	other.SetEmptySum().DataPoints().AppendEmpty().SetIntValue(99)
	m := sm.Metrics().AppendEmpty()
	m.SetName(jobgraphconnector.MetricEnqueues)
	m.SetUnit("{job}")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(temporality)
	for _, e := range edges {
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.Timestamp(1e18))
		dp.SetTimestamp(pcommon.Timestamp(1e18 + at*1e9))
		dp.SetIntValue(int64(e.Count))
		a := dp.Attributes()
		a.PutStr(jobgraphconnector.AttrClass, e.Parent)
		a.PutStr(jobgraphconnector.AttrChildClass, e.Child)
		a.PutStr(jobgraphconnector.AttrSystem, e.System)
		a.PutStr(jobgraphconnector.AttrChildQueue, e.Queue)
	}
	return md
}

// otlpFile is what the file exporter writes: one JSON request per line.
func otlpFile(t *testing.T, batches ...pmetric.Metrics) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, md := range batches {
		line, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Of each cumulative series the newest point counts, whatever the order
// of the lines; series of two replicas add up; delta points add up; other
// metrics, a traces line and points without classes count nothing.
func TestReadOTLPJSON(t *testing.T) {
	cumulative, delta := pmetric.AggregationTemporalityCumulative, pmetric.AggregationTemporalityDelta
	traces, err := (&ptrace.JSONMarshaler{}).MarshalTraces(ptrace.NewTraces())
	require.NoError(t, err)
	noClass := export("a", cumulative, 1, Edge{Parent: "A", Count: 1000})
	file := otlpFile(t,
		export("a", cumulative, 1, edge("ImportJob", "RowJob", 10), edge("A", "B", 1)),
		export("a", cumulative, 3, edge("ImportJob", "RowJob", 30), edge("A", "B", 2)),
		export("a", cumulative, 2, edge("ImportJob", "RowJob", 20)), // late
		export("b", cumulative, 2, edge("ImportJob", "RowJob", 5)),
		export("c", delta, 1, edge("B", "A", 4)),
		export("c", delta, 2, edge("B", "A", 3)),
		noClass,
	)
	file = append(append(file, traces...), "\n\n"...)

	edges, err := ReadOTLPJSON(bytes.NewReader(file))
	require.NoError(t, err)
	g := New(edges)
	assert.Equal(t, []Edge{edge("A", "B", 2), edge("B", "A", 7), edge("ImportJob", "RowJob", 35)}, g.Edges)
	assert.Equal(t, [][]string{{"A", "B"}}, g.Cycles)
}

// A new start time is a new series (the collector restarted): the counts
// before and after add up.
func TestReadOTLPJSONRestart(t *testing.T) {
	before := export("a", pmetric.AggregationTemporalityCumulative, 5, edge("A", "B", 50))
	after := export("a", pmetric.AggregationTemporalityCumulative, 9, edge("A", "B", 4))
	after.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(1).Sum().DataPoints().At(0).SetStartTimestamp(pcommon.Timestamp(1e18 + 8e9))
	edges, err := ReadOTLPJSON(bytes.NewReader(otlpFile(t, before, after)))
	require.NoError(t, err)
	assert.Equal(t, []Edge{edge("A", "B", 54)}, New(edges).Edges)
}

func TestReadOTLPJSONErrors(t *testing.T) {
	_, err := ReadOTLPJSON(strings.NewReader("{}\n\x28\xb5\x2f\xfd zstd"))
	assert.EqualError(t, err, "line 2 is not OTLP JSON (the file exporter's format: json, without compression)")
	_, err = ReadOTLPJSON(strings.NewReader(`{"resourceMetrics": 3}`))
	assert.ErrorContains(t, err, "line 1: ")
}

// exposition is the connector's metric as the collector's Prometheus
// exporter serves it (names translated, scope labels added; a second
// replica's series of the same edge differ in a resource label).
const exposition = `# HELP jobqueue_graph_enqueues_total Jobs enqueued by jobs, per parent class, child class, system and queue.
# TYPE jobqueue_graph_enqueues_total counter
jobqueue_graph_enqueues_total{jobqueue_job_child_class="RowJob",jobqueue_job_class="ImportJob",messaging_destination_name="imports",messaging_system="sidekiq",otel_scope_name="jobgraphconnector",service_instance_id="a"} 30
jobqueue_graph_enqueues_total{jobqueue_job_child_class="RowJob",jobqueue_job_class="ImportJob",messaging_destination_name="imports",messaging_system="sidekiq",otel_scope_name="jobgraphconnector",service_instance_id="b"} 5
jobqueue_graph_enqueues_total{jobqueue_job_child_class="WebhookRetryJob",jobqueue_job_class="WebhookJob",messaging_destination_name="default",messaging_system="sidekiq",otel_scope_name="jobgraphconnector",service_instance_id="a"} 9
jobqueue_graph_enqueues_total{jobqueue_job_child_class="WebhookJob",jobqueue_job_class="WebhookRetryJob",messaging_destination_name="webhooks",messaging_system="sidekiq",otel_scope_name="jobgraphconnector",service_instance_id="a"} 8
# HELP jobqueue_queue_size Jobs waiting.
# TYPE jobqueue_queue_size gauge
jobqueue_queue_size{messaging_destination_name="default"} 3
`

var expositionEdges = []Edge{
	{Parent: "ImportJob", Child: "RowJob", System: "sidekiq", Queue: "imports", Count: 35},
	{Parent: "WebhookJob", Child: "WebhookRetryJob", System: "sidekiq", Queue: "default", Count: 9},
	{Parent: "WebhookRetryJob", Child: "WebhookJob", System: "sidekiq", Queue: "webhooks", Count: 8},
}

func serveExposition(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		fmt.Fprint(w, exposition)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestReadPrometheusMetricsEndpoint(t *testing.T) {
	srv := serveExposition(t)
	edges, err := ReadPrometheus(context.Background(), srv.Client(), srv.URL+"/metrics")
	require.NoError(t, err)
	assert.Equal(t, expositionEdges, New(edges).Edges)
}

// A real Prometheus server scrapes the exposition and answers the query:
// the replicas' series of one edge are summed.
func TestReadPrometheusServer(t *testing.T) {
	bin := redistest.RequireTool(t, "prometheus", "apt-get install -y prometheus")
	target := serveExposition(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: collector
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(target.URL, "http://"))), 0o600))
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	var out bytes.Buffer
	cmd := exec.Command(bin, "--config.file", config, "--storage.tsdb.path", filepath.Join(dir, "data"),
		"--web.listen-address", addr)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	}()

	// Until the server is up and has scraped once (a bound on the wait, not
	// a timing).
	client := &http.Client{Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	var (
		edges []Edge
		err   error
	)
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		edges, err = ReadPrometheus(context.Background(), client, "http://"+addr)
		if err == nil && len(edges) == len(expositionEdges) {
			break
		}
	}
	require.NoError(t, err)
	assert.Equal(t, expositionEdges, New(edges).Edges)
}

func TestReadPrometheusErrors(t *testing.T) {
	ctx := context.Background()
	_, err := ReadPrometheus(ctx, http.DefaultClient, "localhost:9090")
	assert.EqualError(t, err, `"localhost:9090" is not an http(s) URL`)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/query":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","errorType":"bad_data","error":"parse error"}`)
		case "/prom/api/v1/query":
			fmt.Fprint(w, `<html>not prometheus</html>`)
		default:
			http.Error(w, "gone", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	_, err = ReadPrometheus(ctx, srv.Client(), srv.URL)
	assert.EqualError(t, err, srv.URL+`: query "`+graphQuery+`": bad_data: parse error`)
	_, err = ReadPrometheus(ctx, srv.Client(), srv.URL+"/prom")
	assert.ErrorContains(t, err, "not a Prometheus query API answer")
	_, err = ReadPrometheus(ctx, srv.Client(), srv.URL+"/other/metrics")
	assert.EqualError(t, err, "GET "+srv.URL+"/other/metrics: 404 Not Found")
	// A collector's exporter given without its path.
	_, err = ReadPrometheus(ctx, srv.Client(), srv.URL+"/other")
	assert.EqualError(t, err, "GET "+srv.URL+"/other/api/v1/query?query="+url.QueryEscape(graphQuery)+": 404 Not Found ("+notAServer+")")
}
