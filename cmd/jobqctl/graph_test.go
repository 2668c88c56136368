// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph/jobgraphtest"
)

// enqueuesLine is one line of a file exporter's output: a cumulative
// jobqueue.graph.enqueues point per edge, a cycle of two classes among
// them.
func enqueuesLine(edges ...[3]any) string {
	var points []string
	for _, e := range edges {
		points = append(points, fmt.Sprintf(`{"attributes":[`+
			`{"key":"jobqueue.job.class","value":{"stringValue":%q}},`+
			`{"key":"jobqueue.job.child_class","value":{"stringValue":%q}},`+
			`{"key":"messaging.system","value":{"stringValue":"sidekiq"}},`+
			`{"key":"messaging.destination.name","value":{"stringValue":"default"}}],`+
			`"startTimeUnixNano":"1","timeUnixNano":"2","asInt":"%d"}`, e[0], e[1], e[2]))
	}
	return `{"resourceMetrics":[{"resource":{},"scopeMetrics":[{"scope":{},"metrics":[{"name":"jobqueue.graph.enqueues",` +
		`"unit":"{job}","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[` +
		strings.Join(points, ",") + `]}}]}]}]}` + "\n"
}

func writeOTLP(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "metrics.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestGraphFromOTLPFile(t *testing.T) {
	file := writeOTLP(t, enqueuesLine([3]any{"ImportJob", "RowJob", 120}, [3]any{"SyncJob", "RefreshJob", 3}, [3]any{"RefreshJob", "SyncJob", 2}))
	code, stdout, stderr := runCmd([]string{"graph", "--otlp", file, "--format", "mermaid"}, nil)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, `flowchart LR
  n0["ImportJob"]
  n1["RefreshJob"]
  n2["RowJob"]
  n3["SyncJob"]
  n0 -->|"120 (default)"| n2
  n1 -->|"2 (default)"| n3
  n3 -->|"3 (default)"| n1
  linkStyle 0 stroke-width:6.0px
  linkStyle 1 stroke-width:2.1px,stroke:red,color:red
  linkStyle 2 stroke-width:2.4px,stroke:red,color:red
  classDef cycle stroke:red,color:red
  class n1,n3 cycle
`, stdout)
	assert.Equal(t, "jobqctl graph: 4 classes, 3 edges, 125 jobs enqueued; 1 cycle (red): RefreshJob, SyncJob\n", stderr)
}

func TestGraphFromPrometheusToFiles(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "# TYPE jobqueue_graph_enqueues_total counter\n"+
			`jobqueue_graph_enqueues_total{jobqueue_job_class="A",jobqueue_job_child_class="A",messaging_system="river",messaging_destination_name="default"} 7`+"\n"+
			`jobqueue_graph_enqueues_total{jobqueue_job_class="A",jobqueue_job_child_class="B",messaging_system="river",messaging_destination_name="default"} 1`+"\n")
	}))
	defer srv.Close()
	dir := t.TempDir()

	svgPath := filepath.Join(dir, "graph.svg")
	code, stdout, stderr := runCmd([]string{"graph", "--prometheus", srv.URL + "/metrics", "--format", "svg", "--output", svgPath}, nil)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stdout)
	assert.Equal(t, "jobqctl graph: 2 classes, 2 edges, 8 jobs enqueued; 1 cycle (red): A\n", stderr)
	data, err := os.ReadFile(svgPath)
	require.NoError(t, err)
	svg, err := jobgraphtest.ReadSVG(data)
	require.NoError(t, err)
	assert.ElementsMatch(t, []jobgraphtest.SVGEdge{
		{Parent: "A", Child: "A", Label: "7 (default)", Color: "red", Width: 6},
		{Parent: "A", Child: "B", Label: "1 (default)", Color: "#555555", Width: 2.67},
	}, svg.Edges)

	code, stdout, stderr = runCmd([]string{"graph", "--prometheus", srv.URL + "/metrics", "--format", "png"}, nil)
	require.Equal(t, exitOK, code, stderr)
	_, err = jobgraphtest.DecodePNG([]byte(stdout))
	assert.NoError(t, err)
}

func TestGraphErrors(t *testing.T) {
	empty := writeOTLP(t, "")
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"graph"}, exitUsage, "jobqctl graph: give one of --prometheus URL or --otlp FILE\n"},
		{[]string{"graph", "--otlp", "a", "--prometheus", "http://b"}, exitUsage, "jobqctl graph: give one of --prometheus URL or --otlp FILE\n"},
		{[]string{"graph", "--otlp", "a", "--format", "gif"}, exitUsage, `jobqctl graph: --format: "gif" is not one of dot, mermaid, svg, png` + "\n"},
		{[]string{"graph", "--otlp", "a", "extra"}, exitUsage, "jobqctl graph: unexpected arguments: extra\n"},
		{[]string{"graph", "--otlp", "/nonexistent/metrics.json"}, exitGraph, "jobqctl graph: open /nonexistent/metrics.json: no such file or directory\n"},
		{[]string{"graph", "--otlp", empty}, exitGraph, "jobqctl graph: " + empty + " holds no jobqueue.graph.enqueues series with a parent and a child class: " +
			"is the job_graph connector in a traces pipeline feeding its metrics there, and have job spans that enqueue jobs reached it?\n"},
	} {
		code, stdout, stderr := runCmd(tc.args, nil)
		assert.Equal(t, tc.code, code, "%v", tc.args)
		assert.Empty(t, stdout)
		assert.Equal(t, tc.stderr, stderr, "%v", tc.args)
	}

	code, stdout, _ := runCmd([]string{"graph", "-h"}, nil)
	assert.Equal(t, exitOK, code)
	assert.Empty(t, stdout)
}

// A PNG is not written to a terminal (a character device: /dev/null is
// one too).
func TestGraphPNGNotOnATerminal(t *testing.T) {
	tty, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer tty.Close()
	var stderr strings.Builder
	code := run(t.Context(), []string{"graph", "--otlp", "metrics.json", "--format", "png"}, tty, &stderr, os.Getenv)
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, "jobqctl graph: --format png: a PNG on the terminal is noise: pass --output FILE or redirect stdout\n", stderr.String())
}
