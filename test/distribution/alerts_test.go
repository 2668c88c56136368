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
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestAlertsAndShippedNames runs the built collector with job_queue in a
// metrics and a logs pipeline over state written by Sidekiq's own library,
// and checks that (1) every metric the shipped Prometheus rules and Grafana
// dashboard use is on the exporter's /metrics (the dependency graph's from
// the job_graph connector, fed a job span that enqueues a job), and (2) the
// logs pipeline receives the receiver's alert records for that state.
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

	prom, otlp := redistest.FreePort(t), redistest.FreePort(t)
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
  otlp:
    protocols:
      http: {endpoint: 127.0.0.1:%[5]d}
connectors:
  job_graph: {metrics_flush_interval: 1s}
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
    traces: {receivers: [otlp], exporters: [job_graph]}
    metrics: {receivers: [job_queue/sidekiq, host_metrics, job_graph], exporters: [prometheus]}
    logs: {receivers: [job_queue/sidekiq], exporters: [file/alerts]}
`, srv.Addr(), prom, alerts, filepath.Base(bin), otlp), 0o600))
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
		if !exported[jobgraph.PromMetric] {
			postEnqueue(otlp) // until the receiver is up and takes it
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

// enqueueTrace is a Sidekiq job's execution span with the producer span of
// a job it enqueued, as OpenTelemetry's Ruby instrumentation writes them, in
// OTLP/JSON: one edge ReportJob -> MailJob for the job_graph connector.
const enqueueTrace = `{"resourceSpans":[{"resource":{},"scopeSpans":[{"scope":{"name":"OpenTelemetry::Instrumentation::Sidekiq"},"spans":[
{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"reports process","kind":5,
 "startTimeUnixNano":"1700000000000000000","endTimeUnixNano":"1700000000200000000","attributes":[
 {"key":"messaging.system","value":{"stringValue":"sidekiq"}},{"key":"messaging.operation","value":{"stringValue":"process"}},
 {"key":"messaging.destination","value":{"stringValue":"reports"}},{"key":"messaging.message_id","value":{"stringValue":"a1b2c3d4e5f6a1b2c3d4e5f6"}},
 {"key":"messaging.sidekiq.job_class","value":{"stringValue":"ReportJob"}}]},
{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","parentSpanId":"eee19b7ec3c1b174","name":"mailers publish","kind":4,
 "startTimeUnixNano":"1700000000100000000","endTimeUnixNano":"1700000000102000000","attributes":[
 {"key":"messaging.system","value":{"stringValue":"sidekiq"}},{"key":"messaging.destination","value":{"stringValue":"mailers"}},
 {"key":"messaging.message_id","value":{"stringValue":"f6e5d4c3b2a1f6e5d4c3b2a1"}},
 {"key":"messaging.sidekiq.job_class","value":{"stringValue":"MailJob"}}]}]}]}]}`

// postEnqueue sends enqueueTrace to the collector's OTLP/HTTP receiver on
// port; a collector not yet up misses it, and is sent it again.
func postEnqueue(port int) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/v1/traces", port), "application/json", strings.NewReader(enqueueTrace))
	if err == nil {
		_ = resp.Body.Close()
	}
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
