// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"
	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph/jobgraphtest"
)

// demoConnectorConfig is config/demo.yaml's job_graph connector, with
// metrics after every batch instead of on its flush interval (the counts
// are the same; the test needs no ticks).
func demoConnectorConfig(t *testing.T) *jobgraphconnector.Config {
	t.Helper()
	cm, err := confmaptest.LoadConf("../../config/demo.yaml")
	require.NoError(t, err)
	sub, err := cm.Sub("connectors::job_graph")
	require.NoError(t, err)
	cfg := jobgraphconnector.NewDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	cfg.MetricsFlushInterval = 0
	return cfg
}

// The demo graph: three minutes of the workload through the demo's
// job_graph connector give the fan-out, the chain and the webhook cycle,
// which fires job_cycle once; read back from the metrics as the file
// exporter writes them, the graph renders to SVG (every class, the cycle's
// edges and only them red) and PNG.
func TestDemoGraph(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	ctx := clockwork.AddToContext(context.Background(), clock)
	f := jobgraphconnector.NewFactory()
	cfg := demoConnectorConfig(t)
	metrics, logs := new(consumertest.MetricsSink), new(consumertest.LogsSink)
	toMetrics, err := f.CreateTracesToMetrics(ctx, connectortest.NewNopSettings(f.Type()), cfg, metrics)
	require.NoError(t, err)
	toLogs, err := f.CreateTracesToLogs(ctx, connectortest.NewNopSettings(f.Type()), cfg, logs)
	require.NoError(t, err)
	for _, c := range []component.Component{toMetrics, toLogs} {
		defer func() { require.NoError(t, c.Shutdown(context.Background())) }()
	}

	for _, td := range playEnqueues(start, 3*time.Minute) {
		clock.Advance(time.Second)
		require.NoError(t, toMetrics.ConsumeTraces(ctx, td))
		require.NoError(t, toLogs.ConsumeTraces(ctx, td))
	}

	var file bytes.Buffer
	for _, md := range metrics.AllMetrics() {
		line, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		require.NoError(t, err)
		file.Write(append(line, '\n'))
	}
	edges, err := jobgraph.ReadOTLPJSON(&file)
	require.NoError(t, err)
	g := jobgraph.New(edges)
	// Counted per enqueue: the last hop's (175 s) enqueue of the next
	// counts, though that hop runs after the three minutes.
	assert.Equal(t, []jobgraph.Edge{
		{Parent: "CsvImportJob", Child: "ImportRowJob", System: "sidekiq", Queue: "imports", Count: 6 * fanOutRows},
		{Parent: "ImportRowJob", Child: "SearchIndexJob", System: "sidekiq", Queue: "default", Count: 6 * fanOutRows},
		{Parent: "WebhookRetryJob", Child: "WebhookSendJob", System: "sidekiq", Queue: "webhooks", Count: 17},
		{Parent: "WebhookSendJob", Child: "WebhookRetryJob", System: "sidekiq", Queue: "retries", Count: 17},
	}, g.Edges)
	assert.Equal(t, [][]string{{"WebhookRetryJob", "WebhookSendJob"}}, g.Cycles)

	var cycles []string
	for _, ld := range logs.AllLogs() {
		for _, lr := range ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
			attrs := lr.Attributes().AsRaw()
			if attrs[alert.AttrName] == string(alert.JobCycle) {
				cycles = append(cycles, attrs[alert.AttrState].(string)+" "+attrs[jobgraphconnector.AttrCycle].(string))
			}
		}
	}
	require.Len(t, cycles, 1, "job_cycle fires once and stays: the loop never ends")
	assert.Regexp(t, `^firing (WebhookSendJob -> WebhookRetryJob -> WebhookSendJob|WebhookRetryJob -> WebhookSendJob -> WebhookRetryJob)$`, cycles[0])

	checkDemoPicture(t, g)
}

// checkDemoPicture renders the demo graph g to SVG and PNG: the SVG names
// every class and draws the cycle's edges, and only them, red; the PNG is
// one, of a size that holds five boxes.
func checkDemoPicture(t *testing.T, g *jobgraph.Graph) {
	t.Helper()
	ctx := context.Background()
	var svgOut, pngOut bytes.Buffer
	require.NoError(t, jobgraph.Write(ctx, &svgOut, g, jobgraph.FormatSVG))
	require.NoError(t, jobgraph.Write(ctx, &pngOut, g, jobgraph.FormatPNG))
	svg, err := jobgraphtest.ReadSVG(svgOut.Bytes())
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"CsvImportJob", "ImportRowJob", "SearchIndexJob", "WebhookSendJob", "WebhookRetryJob"}, svg.Classes)
	var red []string
	for _, e := range svg.Edges {
		if e.Color == "red" {
			red = append(red, e.Parent+" -> "+e.Child)
		}
	}
	assert.ElementsMatch(t, []string{"WebhookSendJob -> WebhookRetryJob", "WebhookRetryJob -> WebhookSendJob"}, red)
	img, err := jobgraphtest.DecodePNG(pngOut.Bytes())
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 400)
	assert.Greater(t, img.Bounds().Dy(), 100)
}

// demoConfigWithoutTelemetry is config/demo.yaml without the collector's
// own metrics, whose :8888 another collector on the machine may hold.
func demoConfigWithoutTelemetry(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../config/demo.yaml")
	require.NoError(t, err)
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &cfg))
	cfg["service"].(map[string]any)["telemetry"] = map[string]any{"metrics": map[string]any{"level": "none"}}
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "demo.yaml")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	return path
}

// make demo, with the built collector: the demo's graph reaches the
// Prometheus exporter, where jobqctl graph reads it, and the console shows
// the job_cycle alert.
func TestDemoGraphThroughTheCollector(t *testing.T) {
	bin := collectortest.Binary(t)
	args := demoArgs(t)
	args[1], args[3] = bin, demoConfigWithoutTelemetry(t) // --collector, --config
	prometheus := args[slices.Index(args, "--prometheus")+1]
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	stdout, stderr := new(syncBuffer), new(syncBuffer)
	done := make(chan demoResult, 1)
	go func() {
		code, err := demo(ctx, args, stdout, stderr)
		done <- demoResult{code, err}
	}()

	// The cycle closes some 15 s in, the fan-out's last index job ends
	// some 9 s in, the connector flushes every 5 s: a generous bound on
	// a loaded machine, not a timing.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var g *jobgraph.Graph
	cycleAlert := regexp.MustCompile(`job cycle (WebhookSendJob -> WebhookRetryJob -> WebhookSendJob|WebhookRetryJob -> WebhookSendJob -> WebhookRetryJob)`)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		select {
		case res := <-done:
			t.Fatalf("demo ended early: code %d, %v\n%s", res.code, res.err, stderr)
		default:
		}
		edges, err := jobgraph.ReadPrometheus(ctx, client, "http://"+prometheus+"/metrics")
		if err == nil {
			g = jobgraph.New(edges)
			// The debug exporter logs the alert records on the collector's
			// stderr.
			if len(g.Edges) == 4 && cycleAlert.MatchString(stderr.String()) {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "gave up waiting for the graph (%v, %v) and the job_cycle alert:\n%s", g, err, stderr)
	}
	var classes []string
	for _, e := range g.Edges {
		classes = append(classes, e.Parent+" -> "+e.Child+" @"+e.Queue)
		assert.Positive(t, e.Count)
	}
	assert.Equal(t, []string{"CsvImportJob -> ImportRowJob @imports", "ImportRowJob -> SearchIndexJob @default",
		"WebhookRetryJob -> WebhookSendJob @webhooks", "WebhookSendJob -> WebhookRetryJob @retries"}, classes)
	assert.Equal(t, [][]string{{"WebhookRetryJob", "WebhookSendJob"}}, g.Cycles)
	checkDemoPicture(t, g)

	interrupt()
	res := <-done
	assert.NoError(t, res.err, stderr)
	assert.Equal(t, 0, res.code)
}
