// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/otlptranslator"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"
	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// promtool runs promtool in dir and fails the test with its output.
func promtool(t *testing.T, dir string, args ...string) {
	t.Helper()
	redistest.RequireTool(t, "promtool", "apt-get install -y prometheus")
	cmd := exec.Command("promtool", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
	assert.Contains(t, string(out), "SUCCESS")
}

// TestPrometheusRules runs promtool's syntax and lint check and the unit
// tests of every rule (prometheus/jobqueue-rules_test.yaml).
func TestPrometheusRules(t *testing.T) {
	promtool(t, "prometheus", "check", "rules", "--lint=all", "--lint-fatal", "jobqueue-rules.yaml")
	promtool(t, "prometheus", "test", "rules", "jobqueue-rules_test.yaml")
}

// TestDashboardQueriesParse has promtool parse every query of the
// dashboard, written as recording rules.
func TestDashboardQueriesParse(t *testing.T) {
	exprs, err := Expressions()
	require.NoError(t, err)
	type record struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var records []record
	for i, e := range exprs {
		if strings.HasPrefix(e.Where, "panel ") || strings.HasPrefix(e.Where, "variable ") {
			records = append(records, record{Record: fmt.Sprintf("dashboard:query_%d", i), Expr: e.Query})
		}
	}
	require.Greater(t, len(records), 25, "every panel has a query")
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": records}}})
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dashboard.yaml"), out, 0o600))
	promtool(t, dir, "check", "rules", "--lint=none", "dashboard.yaml")
}

// exported is what the receiver's metadata.yaml becomes through the
// collector's Prometheus exporter (prometheusexporter v0.165.1, default
// translation_strategy UnderscoreEscapingWithSuffixes), computed with the
// exporter's own naming package at the version it uses.
type exported struct {
	metrics         map[string]bool // name -> enabled by default
	labels          map[string]bool
	metricAttribute map[string][]string
}

func loadExported(t *testing.T) exported {
	t.Helper()
	raw, err := os.ReadFile("../receiver/jobqueuereceiver/metadata.yaml")
	require.NoError(t, err)
	var md struct {
		ResourceAttributes map[string]any `yaml:"resource_attributes"`
		Attributes         map[string]struct {
			NameOverride string `yaml:"name_override"`
		} `yaml:"attributes"`
		Metrics map[string]struct {
			Enabled    bool     `yaml:"enabled"`
			Unit       string   `yaml:"unit"`
			Attributes []string `yaml:"attributes"`
			Gauge      *struct{}
			Sum        *struct {
				Monotonic bool `yaml:"monotonic"`
			}
		} `yaml:"metrics"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &md))
	metricNamer := otlptranslator.MetricNamer{WithMetricSuffixes: true}
	labelNamer := otlptranslator.LabelNamer{PreserveMultipleUnderscores: true} // as the exporter configures it
	label := func(name string) string {
		l, err := labelNamer.Build(name)
		require.NoError(t, err)
		return l
	}
	e := exported{metrics: map[string]bool{}, labels: map[string]bool{}, metricAttribute: map[string][]string{}}
	for name := range md.ResourceAttributes {
		e.labels[label(name)] = true // with resource_constant_labels or resource_to_telemetry_conversion
	}
	for name, m := range md.Metrics {
		var typ otlptranslator.MetricType = otlptranslator.MetricTypeGauge
		switch {
		case m.Sum != nil && m.Sum.Monotonic:
			typ = otlptranslator.MetricTypeMonotonicCounter
		case m.Sum != nil:
			typ = otlptranslator.MetricTypeNonMonotonicCounter
		}
		prom, err := metricNamer.Build(otlptranslator.Metric{Name: name, Unit: m.Unit, Type: typ})
		require.NoError(t, err)
		e.metrics[prom] = m.Enabled
		for _, a := range m.Attributes {
			attr, ok := md.Attributes[a]
			require.True(t, ok, "metric %s: attribute %s is not declared", name, a)
			key := a
			if attr.NameOverride != "" {
				key = attr.NameOverride
			}
			e.labels[label(key)] = true
			e.metricAttribute[prom] = append(e.metricAttribute[prom], label(key))
		}
	}
	for _, m := range hostProcessMetrics {
		prom, err := metricNamer.Build(m.Metric)
		require.NoError(t, err)
		e.metrics[prom] = true // enabled by config/agent.yaml
		for _, a := range m.attributes {
			e.labels[label(a)] = true
			e.metricAttribute[prom] = append(e.metricAttribute[prom], label(a))
		}
	}
	for _, a := range hostProcessResource {
		e.labels[label(a)] = true
	}
	for _, m := range connectorMetrics {
		prom, err := metricNamer.Build(m.Metric)
		require.NoError(t, err)
		e.metrics[prom] = true
		for _, a := range m.attributes {
			e.labels[label(a)] = true
			e.metricAttribute[prom] = append(e.metricAttribute[prom], label(a))
		}
	}
	return e
}

// connectorMetrics are the job_graph connector's metrics that the dashboard
// uses (it builds them itself, without a metadata.yaml entry).
var connectorMetrics = []struct {
	otlptranslator.Metric
	attributes []string
}{
	{
		otlptranslator.Metric{Name: jobgraphconnector.MetricEnqueues, Unit: "{job}", Type: otlptranslator.MetricTypeMonotonicCounter},
		[]string{jobgraphconnector.AttrClass, jobgraphconnector.AttrChildClass, jobgraphconnector.AttrSystem, jobgraphconnector.AttrChildQueue},
	},
}

// hostProcessMetrics are the host_metrics receiver's process series that the
// rules and the dashboard use, as its process scraper's metadata.yaml
// declares them (the version builder-config.yaml pins); config/agent.yaml
// sends them to the gateway. hostProcessResource are its resource
// attributes that the gateway's exporter turns into labels
// (resource_to_telemetry_conversion, docs/deployment.md), host.name from
// resource_detection.
var (
	hostProcessMetrics = []struct {
		otlptranslator.Metric
		attributes []string
	}{
		{otlptranslator.Metric{Name: "process.cpu.time", Unit: "s", Type: otlptranslator.MetricTypeMonotonicCounter}, []string{"state"}},
		{otlptranslator.Metric{Name: "process.cpu.utilization", Unit: "1", Type: otlptranslator.MetricTypeGauge}, []string{"state"}},
		{otlptranslator.Metric{Name: "process.memory.usage", Unit: "By", Type: otlptranslator.MetricTypeNonMonotonicCounter}, nil},
	}
	hostProcessResource = []string{"host.name", "process.pid", "process.executable.name", "process.command_line"}
)

// TestExportedNames pins the translation on a few names the docs quote, so
// a change in the exporter's rules shows here first.
func TestExportedNames(t *testing.T) {
	e := loadExported(t)
	for _, name := range []string{
		"jobqueue_queue_latency_seconds", "jobqueue_jobs_processed_total", "jobqueue_process_memory_usage_bytes",
		"jobqueue_process_quiet_ratio", "jobqueue_queue_size", "jobqueue_processes_stale",
		"process_cpu_time_seconds_total", "process_cpu_utilization_ratio", "process_memory_usage_bytes",
		jobgraph.PromMetric, // what jobqctl graph reads
	} {
		assert.Contains(t, e.metrics, name)
	}
	assert.Contains(t, e.labels, "messaging_destination_name")
	assert.Contains(t, e.labels, "server_address")
}

// Labels that are not the receiver's: Prometheus' own (ALERTS, targets)
// and the rules' static labels.
var otherLabels = []string{"alertname", "alertstate", "severity", "threshold", "job", "instance"}

// TestReferencedNamesExist: every metric and label the rules and the
// dashboard use exists in metadata.yaml as exported, so a rename cannot
// silently break them.
func TestReferencedNamesExist(t *testing.T) {
	e := loadExported(t)
	exprs, err := Expressions()
	require.NoError(t, err)
	referenced := map[string]bool{}
	for _, x := range exprs {
		metrics, labels := References(x.Query)
		labels = append(labels, x.Labels...)
		for _, m := range metrics {
			if m == "ALERTS" {
				continue
			}
			enabled, ok := e.metrics[m]
			if assert.True(t, ok, "%s: metric %s is not exported by the receiver (query %q)", x.Where, m, x.Query) {
				referenced[m] = true
				if !enabled {
					assert.True(t, strings.HasPrefix(x.Where, "panel "), "%s: %s is off by default: only a dashboard panel that says so may use it", x.Where, m)
				}
			}
		}
		for _, l := range labels {
			assert.True(t, e.labels[l] || slices.Contains(otherLabels, l), "%s: label %s is not exported by the receiver (query %q)", x.Where, l, x.Query)
		}
	}
	// The lexer is not fooled into finding nothing.
	for _, m := range []string{"jobqueue_queue_latency_seconds", "jobqueue_jobs_failed_total", "jobqueue_processes_stale", "jobqueue_jobs_by_class"} {
		assert.True(t, referenced[m], "%s is expected to be referenced", m)
	}
}

func TestReferencesLexer(t *testing.T) {
	metrics, labels := References(`sum by (messaging_destination_name) (rate(jobqueue_jobs_processed_total{messaging_system=~"a{b}", x!="or"}[5m])) / on () ` +
		`max_over_time(jobqueue_queue_size[1h]) > 3 and ignoring (alertname) ALERTS{alertstate="firing"} or vector(1)`)
	assert.Equal(t, []string{"ALERTS", "jobqueue_jobs_processed_total", "jobqueue_queue_size"}, metrics)
	assert.Equal(t, []string{"alertname", "alertstate", "messaging_destination_name", "messaging_system", "x"}, labels)
}

// TestRulesMatchTheReceiver: each rule is one of the project's alerts with
// a known severity and a runbook link that resolves, and each of the
// receiver's alert rules has a Prometheus equivalent.
func TestRulesMatchTheReceiver(t *testing.T) {
	rules, err := Rules()
	require.NoError(t, err)
	names := alert.Names()
	covered := map[string]bool{}
	for _, r := range rules {
		assert.Contains(t, names, alert.Name(r.Alert), "rule %s is not a project alert name", r.Alert)
		covered[r.Alert] = true
		var sev alert.Severity
		assert.NoError(t, sev.UnmarshalText([]byte(r.Labels["severity"])), "rule %s", r.Alert)
		assert.Equal(t, strings.ToLower(sev.String()), r.Labels["severity"], "rule %s: the receiver's spelling", r.Alert)
		assert.NotEmpty(t, r.Labels["threshold"], "rule %s", r.Alert)
		assert.NotEmpty(t, r.Annotations["summary"], "rule %s", r.Alert)
		want := "https://github.com/otelcol-jobs/otelcol-jobs/blob/main/docs/runbooks/" + r.Alert + ".md"
		assert.Equal(t, want, r.Annotations["runbook_url"])
		assert.FileExists(t, "../docs/runbooks/"+r.Alert+".md")
	}
	// The receiver's rules are the fields of its alerts config.
	cfg := reflect.TypeOf(jobqueuereceiver.NewDefaultConfig().Alerts)
	receiverRules := 0
	for i := range cfg.NumField() {
		name := strings.Split(cfg.Field(i).Tag.Get("mapstructure"), ",")[0]
		if !slices.Contains(names, alert.Name(name)) {
			continue
		}
		receiverRules++
		assert.True(t, covered[name], "the receiver's %s has no Prometheus rule", name)
	}
	assert.Equal(t, 6, receiverRules)
}

// TestDashboardShowsEveryAlert: the alerts panels list every rule's name.
func TestDashboardShowsEveryAlert(t *testing.T) {
	rules, err := Rules()
	require.NoError(t, err)
	exprs, err := Expressions()
	require.NoError(t, err)
	var alertQueries []string
	for _, e := range exprs {
		if strings.HasPrefix(e.Where, "panel ") && strings.Contains(e.Query, "ALERTS{") {
			alertQueries = append(alertQueries, e.Query)
		}
	}
	require.NotEmpty(t, alertQueries)
	for _, q := range alertQueries {
		for _, r := range rules {
			assert.Contains(t, q, r.Alert)
		}
	}
}
