// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package agent runs the built collector on the shipped config/agent.yaml
// beside a busy worker process and an unrelated one, and checks what its
// host_metrics process scraper reports.
package agent

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sidekiqTitle is the proctitle Sidekiq 7 gives its process.
const sidekiqTitle = "sidekiq 7.0.0 app [1 of 5 busy]"

// TestAgentReportsWorkerProcesses: a CPU-burning process that looks like a
// Sidekiq worker (executable name ruby, Sidekiq's proctitle as argv) is
// reported with its CPU, its memory and the attributes that join it to the
// job_queue receiver's series; a sleep beside it is filtered out.
func TestAgentReportsWorkerProcesses(t *testing.T) {
	bin := collectortest.Binary(t)
	dir := t.TempDir()

	// A copy of sh named ruby, as a Sidekiq process is named (Ruby sets the
	// proctitle in argv; the executable name stays ruby), spinning forever.
	ruby := filepath.Join(dir, "ruby")
	copyExecutable(t, "/bin/sh", ruby)
	worker := startChild(t, &exec.Cmd{Path: ruby, Args: []string{sidekiqTitle, "-c", "while :; do :; done"}})
	unrelated := startChild(t, exec.Command("sleep", "3600"))

	out := filepath.Join(dir, "metrics.jsonl")
	overlay := filepath.Join(dir, "overlay.yaml")
	require.NoError(t, os.WriteFile(overlay, fmt.Appendf(nil, `
extensions:
  health_check:
    endpoint: 127.0.0.1:%d
receivers:
  host_metrics:
    collection_interval: 1s
exporters:
  file/agent:
    path: %q
    flush_interval: 100ms
service:
  telemetry:
    metrics: {level: none} # no :8888, which another collector may hold
  pipelines:
    metrics:
      exporters: [file/agent]
`, redistest.FreePort(t), out), 0o600))
	// The user's exporter stays configured but out of the pipeline.
	env := fmt.Sprintf("OTLP_ENDPOINT=http://127.0.0.1:%d", redistest.FreePort(t))
	c := collectortest.Start(t, bin, []string{filepath.Join("..", "..", "config", "agent.yaml"), overlay}, env)

	// Utilization needs two scrapes of the process; three points give the
	// busy loop a few full intervals.
	const points = 3
	c.Eventually(t, 2*time.Minute, fmt.Sprintf("%d CPU utilization points of the worker", points), func() string {
		got := len(processSeries(collectortest.ReadMetrics(t, out), worker.Process.Pid).cpu)
		if got < points {
			return fmt.Sprintf("%d points", got)
		}
		return ""
	})
	c.Stop(t)
	metrics := collectortest.ReadMetrics(t, out)
	got := processSeries(metrics, worker.Process.Pid)

	hostname, err := os.Hostname()
	require.NoError(t, err)
	assert.Equal(t, hostname, got.resource["host.name"], "resource_detection sets the OS host name")
	assert.Equal(t, "ruby", got.resource["process.executable.name"])
	assert.Contains(t, got.resource["process.command_line"], sidekiqTitle)

	// The scraper divides by the host's cores; times them it is cores used.
	// The loop would use a whole core on an idle machine, but this one has
	// two cores shared with other builds and tests, so any bound near 1
	// would fail under load: 0.3 of a core is still far above an idle
	// process (0).
	var busiest float64
	for _, u := range got.cpu {
		busiest = max(busiest, u*float64(runtime.NumCPU()))
	}
	t.Logf("busy worker: %.2f cores at most, %v share of the host per scrape; memory %v bytes", busiest, got.cpu, got.memory)
	assert.Greater(t, busiest, 0.3, "cores used by the busy worker, per scrape: %v (share of %d cores)", got.cpu, runtime.NumCPU())

	// sh's resident memory barely moves, so the kernel's figure now is the
	// one the scraper read.
	require.NotEmpty(t, got.memory)
	assert.InEpsilon(t, residentBytes(t, worker.Process.Pid), got.memory[len(got.memory)-1], 0.5)

	none := processSeries(metrics, unrelated.Process.Pid)
	assert.Empty(t, none.resource, "the include filter drops sleep")
}

// series is what the process scraper reported for one process.
type series struct {
	resource map[string]string
	cpu      []float64 // process.cpu.utilization per scrape, all states added
	memory   []float64 // process.memory.usage per scrape, bytes
}

// processSeries collects the resources of one pid from every export.
func processSeries(metrics pmetric.Metrics, pid int) series {
	var s series
	for _, rm := range metrics.ResourceMetrics().All() {
		attrs := rm.Resource().Attributes()
		if p, ok := attrs.Get("process.pid"); !ok || p.Int() != int64(pid) {
			continue
		}
		s.resource = map[string]string{}
		for k, v := range attrs.All() {
			s.resource[k] = v.AsString()
		}
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				switch m.Name() {
				case "process.cpu.utilization":
					s.cpu = append(s.cpu, sumByTime(m.Gauge().DataPoints())...)
				case "process.memory.usage":
					s.memory = append(s.memory, sumByTime(m.Sum().DataPoints())...)
				}
			}
		}
	}
	return s
}

// sumByTime adds up the points of one scrape (the states of the CPU).
func sumByTime(points pmetric.NumberDataPointSlice) []float64 {
	var sums []float64
	var last pcommon.Timestamp
	for _, p := range points.All() {
		v := p.DoubleValue()
		if p.ValueType() == pmetric.NumberDataPointValueTypeInt {
			v = float64(p.IntValue())
		}
		if len(sums) == 0 || p.Timestamp() != last {
			sums = append(sums, 0)
			last = p.Timestamp()
		}
		sums[len(sums)-1] += v
	}
	return sums
}

// residentBytes is VmRSS from /proc/<pid>/status.
func residentBytes(t *testing.T, pid int) float64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.Lines(string(status)) {
		if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 64)
			require.NoError(t, err)
			return n * 1024
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// startChild starts cmd and kills it when the test ends.
func startChild(t *testing.T, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
}
