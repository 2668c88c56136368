// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/filter"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	one, ten, twenty := 1, 10, 20
	fatal := alert.SeverityFatal
	full := NewDefaultConfig()
	full.MaxRetries = 5
	full.Window = 12 * time.Hour
	full.Severity = alert.SeverityError
	full.EscalationFactor = 3
	full.ClassOverrides = []ClassOverride{
		{Class: "^Billing::", MaxRetries: &one, Severity: &fatal},
		{Class: "(Report|Export)Job$", MaxRetries: &ten},
		{Classes: []filter.Config{{Strict: "ImportJob"}, {Regex: "^Sync::"}}, MaxRetries: &twenty},
	}
	full.JobIDKeys = []string{"app.job.id"}
	full.JobClassKeys = []string{"app.job.class"}
	full.AttemptKeys = []string{"app.job.try"}
	full.AttemptOffset = 1
	full.State.Backend = statestore.BackendRedis
	full.State.MaxEntries = 20000
	full.State.Redis.Endpoint = "redis.internal:6380"
	full.State.Redis.Password = "s3cret"
	full.State.Redis.KeyPrefix = "prod:"
	full.State.Redis.Timeout = 250 * time.Millisecond

	anyRetry := NewDefaultConfig()
	anyRetry.MaxRetries = 0

	tests := []struct {
		id       string
		expected *Config
		errs     []string // every message must appear
	}{
		{id: "", expected: NewDefaultConfig()},
		{id: "full", expected: full},
		{id: "any_retry", expected: anyRetry},
		{id: "negative_max_retries", errs: []string{"max_retries: must be between 0 and 1000000, got -1"}},
		{id: "low_escalation_factor", errs: []string{"escalation_factor: must be a number of at least 1 (1: never escalate), got 0.5"}},
		{id: "short_window", errs: []string{"window: must be at least 1s, got 10ms"}},
		{id: "bad_severity", errs: []string{`unknown severity "page": use info, warn, error or fatal`}},
		{id: "bad_override", errs: []string{
			`class_overrides[0]: class: invalid regular expression "("`,
			"class_overrides[1]: class: must be set",
			"class_overrides[1]: max_retries: must be between 0 and 1000000, got -2",
			"class_overrides[2]: max_retries: must be set",
		}},
		{id: "bad_override_classes", errs: []string{"strict and regex cannot be used together"}},
		{id: "bad_override_severity", errs: []string{`'class_overrides[0].severity' unknown severity "urgent"`}},
		{id: "bad_state", errs: []string{`unknown backend "postgres": use memory or redis`}},
		{id: "bad_keys", errs: []string{`job_id_keys: "id" is listed twice`, "attempt_offset: set without attempt_keys"}},
		{id: "unknown_key", errs: []string{"has invalid keys: max_retry"}},
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

func TestConfigValidateState(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.State.MaxEntries = 0
	cfg.Severity = 0
	err := confmap.Validate(cfg)
	assert.ErrorContains(t, err, "max_entries: must be between 1 and")
	assert.ErrorContains(t, err, "severity: must be one of info, warn, error, fatal")
}

func TestRules(t *testing.T) {
	two := 2
	errSev := alert.SeverityError
	cfg := NewDefaultConfig()
	cfg.ClassOverrides = []ClassOverride{{Class: "^Billing::", MaxRetries: &two, Severity: &errSev}, {Class: "Job$", MaxRetries: &two}}
	rules, err := cfg.rules()
	require.NoError(t, err)
	require.Len(t, rules, 3)
	assert.Equal(t, alert.SeverityError, rules[0].Severity)
	assert.Equal(t, alert.SeverityWarn, rules[1].Severity, "the processor's severity by default")
	assert.Nil(t, rules[2].Class, "the default rule comes last")
	assert.Equal(t, int64(3), rules[2].MaxRetries)

	assert.True(t, rules[0].Class.Matches("Billing::ChargeJob"))
	assert.False(t, rules[0].Class.Matches("ChargeJob"), "class is a regular expression")

	cfg.ClassOverrides = []ClassOverride{{Classes: []filter.Config{{Strict: "ImportJob"}, {Regex: "^Sync::"}}, MaxRetries: &two}}
	rules, err = cfg.rules()
	require.NoError(t, err)
	assert.True(t, rules[0].Class.Matches("ImportJob"))
	assert.False(t, rules[0].Class.Matches("ImportJobs"), "strict is the whole name")
	assert.True(t, rules[0].Class.Matches("Sync::Users"))

	cfg.ClassOverrides = []ClassOverride{{Class: "x"}}
	_, err = cfg.rules()
	assert.ErrorContains(t, err, "class_overrides[0]: max_retries: must be set")

	cfg.ClassOverrides = []ClassOverride{{Classes: []filter.Config{{Regex: "("}}, MaxRetries: &two}}
	_, err = cfg.rules()
	assert.ErrorContains(t, err, "class_overrides[0]: classes[0]: error parsing regexp", "compiled once, not panicking")
}
