// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := NewDefaultConfig()
	full.Window, full.Buckets = 30*time.Minute, 6
	full.MinFailures, full.MinFailureRatio, full.MinExecutions = 25, 0.2, 50
	full.EscalationFactor = 3
	full.Severity = alert.SeverityError
	full.MinClasses, full.DependencyWindow, full.DependencySeverity = 4, 2*time.Minute, alert.SeverityFatal
	full.MaxClasses, full.MaxFingerprints = 2000, 5000
	full.ResolveInterval = time.Minute
	full.JobClassKeys = []string{"app.job.class"}
	full.ErrorMessageKeys = []string{"app.error"}
	full.State.Backend = statestore.BackendRedis
	full.State.MaxEntries = 50000
	full.State.Redis.Endpoint = "redis.internal:6380"
	full.State.Redis.Password = "s3cret"
	full.State.Redis.KeyPrefix = "prod:"
	full.State.Redis.Timeout = 250 * time.Millisecond

	noDependency := NewDefaultConfig()
	noDependency.MinClasses = 0

	tests := []struct {
		id       string
		expected *Config
		errs     []string // every message must appear
	}{
		{id: "", expected: NewDefaultConfig()},
		{id: "full", expected: full},
		{id: "no_dependency", expected: noDependency},
		{id: "bad_window", errs: []string{"window and buckets: window buckets must be between 1 and"}},
		{id: "bad_thresholds", errs: []string{
			"min_failures: must be at least 1",
			"min_failure_ratio: must be at least 0 and below 1",
			"min_executions: must not be negative",
			"escalation_factor: must be at least 1",
		}},
		{id: "bad_dependency", errs: []string{"min_classes: must be 0 (off) or at least 2", "dependency_window: must be at least 1s"}},
		{id: "bad_bounds", errs: []string{
			"max_classes: must be between 1 and 10000000",
			"max_fingerprints: must be between 1 and 10000000",
			"resolve_interval: must be at least 1s, got 10ms",
		}},
		{id: "bad_severity", errs: []string{`unknown severity "page": use info, warn, error or fatal`}},
		{id: "bad_state", errs: []string{`unknown backend "postgres": use memory or redis`}},
		{id: "bad_keys", errs: []string{`job_class_keys: "kind" is listed twice`}},
		{id: "unknown_key", errs: []string{"has invalid keys: min_failure"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.id).String())
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			if tt.expected == nil {
				require.Error(t, err)
				for _, msg := range tt.errs {
					assert.ErrorContains(t, err, msg)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestConfigValidateSeverities(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.Severity, cfg.DependencySeverity = 0, 0
	cfg.State.MaxEntries = 0
	err := confmap.Validate(cfg)
	assert.ErrorContains(t, err, "severity: must be one of info, warn, error, fatal")
	assert.ErrorContains(t, err, "dependency_severity: must be one of info, warn, error, fatal")
	assert.ErrorContains(t, err, "max_entries: must be between 1 and")
}
