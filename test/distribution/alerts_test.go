// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/deploy"
	"github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestAlertsAndShippedNames runs the built collector with job_queue in a
// metrics and a logs pipeline over state written by Sidekiq's own library,
// and checks that (1) every metric the shipped Prometheus rules and Grafana
// dashboard use is on the exporter's /metrics, and (2) the logs pipeline
// receives the receiver's alert records for that state.
func TestAlertsAndShippedNames(t *testing.T) {
	bin := collectortest.Binary(t)
	redistest.RequireTool(t, "ruby", "apt-get install -y ruby-sidekiq")
	if err := exec.Command("ruby", "-e", `require "sidekiq/api"`).Run(); err != nil {
		redistest.Missing(t, "the sidekiq gem is not installed (install: apt-get install -y ruby-sidekiq)")
	}
	srv := redistest.Start(t)
	state := exec.Command("ruby", "testdata/sidekiq_state.rb")
	state.Env = append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0")
	out, err := state.CombinedOutput()
	require.NoError(t, err, "write Sidekiq state: %s", out)

	prom := redistest.FreePort(t)
	alerts := filepath.Join(t.TempDir(), "alerts.jsonl")
	config := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
receivers:
  job_queue/sidekiq:
    system: sidekiq
    endpoint: %[1]s
    collection_interval: 1s
    timeout: 1s
    metrics:
      jobqueue.jobs.by_class: {enabled: true}
  # The process series of config/agent.yaml, here of the collector itself.
  host_metrics:
    collection_interval: 1s
    scrapers:
      process:
        include: {names: [%[4]q], match_type: strict}
        metrics:
          process.cpu.utilization: {enabled: true}
exporters:
  prometheus:
    endpoint: 127.0.0.1:%[2]d
    resource_constant_labels:
      included: [messaging.system, server.address, server.port]
  file/alerts:
    path: %[3]s
    flush_interval: 100ms
service:
  telemetry:
    metrics: {level: none} # no :8888, which another collector may hold
  pipelines:
    metrics: {receivers: [job_queue/sidekiq, host_metrics], exporters: [prometheus]}
    logs: {receivers: [job_queue/sidekiq], exporters: [file/alerts]}
`, srv.Addr(), prom, alerts, filepath.Base(bin)), 0o600))
	c := collectortest.Start(t, bin, []string{config})

	exprs, err := deploy.Expressions()
	require.NoError(t, err)
	var want []string
	for _, e := range exprs {
		metrics, _ := deploy.References(e.Query)
		for _, m := range metrics {
			if m != "ALERTS" && !slices.Contains(want, m) {
				want = append(want, m)
			}
		}
	}
	require.Greater(t, len(want), 15)
	c.Eventually(t, time.Minute, "every metric the rules and the dashboard use", func() string {
		status, body, ok := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", prom))
		if !ok || status != http.StatusOK {
			return fmt.Sprintf("no answer from the Prometheus exporter (status %d)", status)
		}
		exported := map[string]bool{}
		for line := range strings.SplitSeq(body, "\n") {
			if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
				exported[f[2]] = true
			}
		}
		var missing []string
		for _, m := range want {
			if !exported[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("missing %v in:\n%s", missing, grepJobqueue(body))
		}
		return ""
	})

	// The state has a queue whose job waits for ten minutes and a job
	// running for ten minutes: both past the default thresholds.
	c.Eventually(t, time.Minute, "the alert records", func() string {
		firing := firingAlerts(t, alerts)
		for _, name := range []string{"queue_latency_high", "stalled_jobs"} {
			if !slices.Contains(firing, name) {
				return fmt.Sprintf("no firing %s record yet (have %v)", name, firing)
			}
		}
		return ""
	})
	c.Stop(t)
}

// firingAlerts returns the alert.name of every firing jobqueue.alert record
// the file exporter wrote to path.
func firingAlerts(t *testing.T, path string) []string {
	t.Helper()
	var names []string
	for _, rl := range collectortest.ReadLogs(t, path).ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				name, _ := lr.Attributes().Get("alert.name")
				state, _ := lr.Attributes().Get("alert.state")
				if lr.EventName() == "jobqueue.alert" && state.Str() == "firing" {
					names = append(names, name.Str())
				}
			}
		}
	}
	return names
}
