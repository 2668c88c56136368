// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package queuealert

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// load unmarshals YAML over the defaults, as the collector does, and
// validates the result.
func load(t *testing.T, text string) (Config, error) {
	t.Helper()
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(text), &raw))
	cfg := NewDefaultConfig()
	if err := confmap.NewFromStringMap(raw).Unmarshal(&cfg); err != nil {
		return cfg, err
	}
	return cfg, confmap.Validate(&cfg)
}

func TestDefaultConfig(t *testing.T) {
	cfg := NewDefaultConfig()
	require.NoError(t, confmap.Validate(&cfg))
	assert.Equal(t, time.Hour, cfg.CoolDown)
	for _, r := range []struct {
		enabled  bool
		levels   alert.Levels
		expected alert.Levels
	}{
		{cfg.QueueLatencyHigh.Enabled, cfg.QueueLatencyHigh.levels(), levels(300, alert.SeverityWarn, 270)},
		{cfg.QueueSizeLarge.Enabled, cfg.QueueSizeLarge.levels(), levels(1000, alert.SeverityWarn, 900)},
		{cfg.StalledJobs.Enabled, cfg.StalledJobs.levels(), levels(0, alert.SeverityWarn, 0)},
		{cfg.DeadJobsGrowing.Enabled, cfg.DeadJobsGrowing.levels(), levels(10, alert.SeverityWarn, 9)},
		{cfg.ProcessMemoryHigh.Enabled, cfg.ProcessMemoryHigh.levels(), levels(500<<20, alert.SeverityWarn, 0.9*(500<<20))},
		{cfg.ProcessHeartbeatMissing.Enabled, cfg.ProcessHeartbeatMissing.levels(), levels(30, alert.SeverityError, 27)},
	} {
		assert.True(t, r.enabled)
		assert.Equal(t, r.expected, r.levels)
	}
	assert.Equal(t, time.Hour, cfg.DeadJobsGrowing.Window)
	assert.True(t, cfg.ProcessHeartbeatMissing.Stale)
}

func levels(above float64, severity alert.Severity, resolve float64) alert.Levels {
	return alert.Levels{Steps: []alert.Step{{Above: above, Severity: severity}}, Resolve: resolve}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := load(t, `
cool_down: 30m
queue_latency_high:
  threshold: 2m
  severity: info
  escalate:
    - {threshold: 10m, severity: error}
  resolve: 1m
  overrides:
    - queues: [{strict: critical}]
      threshold: 30s
      severity: fatal
    - queues: [{regexp: "^low"}, {strict: bulk}]
      threshold: 1h
    - queues: [{regexp: "^tmp_"}]
      enabled: false
queue_size_large: {enabled: false}
process_memory_high: {threshold: 1.5GiB}
process_heartbeat_missing: {stale: false}
dead_jobs_growing: {threshold: 0, window: 10m}
`)
	require.NoError(t, err)
	assert.Equal(t, 30*time.Minute, cfg.CoolDown)

	lat := cfg.QueueLatencyHigh
	assert.Equal(t, alert.Levels{
		Steps:   []alert.Step{{Above: 120, Severity: alert.SeverityInfo}, {Above: 600, Severity: alert.SeverityError}},
		Resolve: 60,
	}, lat.levels())
	require.Len(t, lat.Overrides, 3)
	critical := lat.Overrides[0].apply(lat.Levels)
	assert.Equal(t, levels(30, alert.SeverityFatal, 27), critical.levels(), "escalation and resolve are not inherited")
	low := lat.Overrides[1].apply(lat.Levels)
	assert.Equal(t, levels(3600, alert.SeverityInfo, 3240), low.levels(), "severity is inherited")
	assert.Len(t, lat.Overrides[1].Queues, 2)
	require.NotNil(t, lat.Overrides[2].Enabled)
	assert.False(t, *lat.Overrides[2].Enabled)

	assert.False(t, cfg.QueueSizeLarge.Enabled)
	assert.Equal(t, Bytes(1.5*float64(GiB)), cfg.ProcessMemoryHigh.Threshold)
	assert.False(t, cfg.ProcessHeartbeatMissing.Stale)
	assert.True(t, cfg.ProcessHeartbeatMissing.Enabled, "other keys keep their defaults")
	assert.Equal(t, levels(0, alert.SeverityWarn, 0), cfg.DeadJobsGrowing.levels())
	assert.Equal(t, 10*time.Minute, cfg.DeadJobsGrowing.Window)
}

func TestInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		errs []string
	}{
		{"negative cool-down", `cool_down: -1s`, []string{"cool_down: must not be negative, got -1s"}},
		{"unknown severity", `queue_size_large: {severity: page}`, []string{`unknown severity "page": use info, warn, error or fatal`}},
		{"negative threshold", `queue_latency_high: {threshold: -5s}`, []string{"queue_latency_high: threshold: must not be negative, got -5s"}},
		{"resolve above threshold", `queue_size_large: {threshold: 100, resolve: 200}`,
			[]string{"queue_size_large: resolve threshold 200 must be at most the firing threshold 100"}},
		{"escalation not higher", `queue_latency_high: {escalate: [{threshold: 1m, severity: error}]}`,
			[]string{"queue_latency_high: threshold 60 (ERROR) must be above 300 (WARN) in value and severity"}},
		{"escalation to a lower severity", `process_memory_high: {severity: error, escalate: [{threshold: 1GiB, severity: warn}]}`,
			[]string{"process_memory_high: threshold 1.073741824e+09 (WARN) must be above 5.24288e+08 (ERROR) in value and severity"}},
		{"override without queues", `stalled_jobs: {overrides: [{severity: fatal}]}`,
			[]string{"stalled_jobs: overrides::0::queues: at least one {strict: name} or {regexp: pattern} is needed"}},
		{"override with a bad threshold", `queue_size_large: {overrides: [{queues: [{strict: a}], threshold: -1}]}`,
			[]string{"queue_size_large: overrides::0: threshold: must not be negative, got -1"}},
		{"override with a bad pattern", `queue_size_large: {overrides: [{queues: [{regexp: "("}]}]}`,
			[]string{"queue_size_large::overrides::0::queues::0: error parsing regexp"}},
		{"window", `dead_jobs_growing: {window: 0s}`, []string{"dead_jobs_growing: window: must be positive, got 0s"}},
		{"bad size", `process_memory_high: {threshold: lots}`, []string{`invalid size "lots"`}},
		{"overrides on a process rule", `process_memory_high: {overrides: []}`, []string{"invalid keys: overrides"}},
		{"every error at once", `{cool_down: -1s, queue_size_large: {threshold: -1}, dead_jobs_growing: {window: -1s}}`,
			[]string{"cool_down:", "queue_size_large: threshold:", "dead_jobs_growing: window:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.yaml)
			require.Error(t, err)
			for _, msg := range tt.errs {
				assert.ErrorContains(t, err, msg)
			}
		})
	}
}

func TestBytes(t *testing.T) {
	for text, want := range map[string]Bytes{
		"524288000": 500 * MiB, "500MiB": 500 * MiB, "500 MiB": 500 * MiB, "0.5GiB": 512 * MiB,
		"2KiB": 2048, "1KB": 1000, "3MB": 3_000_000, "1GB": 1_000_000_000, "10B": 10, "0": 0,
	} {
		var b Bytes
		require.NoError(t, b.UnmarshalText([]byte(text)), text)
		assert.Equal(t, want, b, text)
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "1TB", "1e30GiB", "12 apples"} {
		var b Bytes
		assert.Error(t, b.UnmarshalText([]byte(bad)), bad)
	}
	assert.Equal(t, "500MiB", (500 * MiB).String())
	assert.Equal(t, "1000B", Bytes(1000).String())
}
