// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := NewDefaultConfig()
	full.System = SystemSidekiq
	full.Endpoint = "redis.internal:6380"
	full.Username = "jobq"
	full.Password = "s3cret"
	full.DB = 2
	full.TLS = configoptional.Some(func() configtls.ClientConfig {
		c := configtls.NewDefaultClientConfig()
		c.CAFile = "/etc/ssl/redis-ca.pem"
		return c
	}())
	full.Namespace = "myapp"
	full.CollectionInterval = 15 * time.Second
	full.Timeout = 5 * time.Second
	full.Queues = QueuesConfig{Include: []string{"^critical$", "^mail"}, Exclude: []string{"_tmp$"}, Max: 50}
	full.StalledAfter = 10 * time.Minute
	full.ByClass.MaxEntries = 200
	// Unmarshalled, so that the builder config records what the user set.
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"metrics":             map[string]any{"jobqueue.jobs.by_class": map[string]any{"enabled": true}},
		"resource_attributes": map[string]any{"server.address": map[string]any{"enabled": false}},
	}).Unmarshal(&full.MetricsBuilderConfig))

	minimal := NewDefaultConfig()
	minimal.System = SystemSidekiq

	tests := []struct {
		id       string
		expected *Config
		errs     []string // every message must appear
	}{
		{id: "", expected: minimal},
		{id: "full", expected: full},
		{id: "no_system", errs: []string{"system: must be set (one of: sidekiq)"}},
		{id: "planned_system", errs: []string{`system: "bullmq" is not supported yet (supported: sidekiq)`}},
		{id: "unknown_system", errs: []string{`system: unknown job system "delayed_job"`}},
		{id: "bad_endpoint", errs: []string{`endpoint: "redis-without-port" is not host:port`}},
		{id: "bad_regex", errs: []string{
			`queues: include[0]: invalid regular expression "("`,
			`queues: exclude[1]: invalid regular expression "[z-a]"`,
		}},
		{id: "negative_max", errs: []string{"queues: max: must be >= 0 (0 = no limit), got -1"}},
		{id: "timeout_over_interval", errs: []string{"timeout: 10s must not exceed collection_interval 5s"}},
		{id: "zero_timeout", errs: []string{"timeout: must be positive, got 0s"}},
		{id: "bad_stalled_after", errs: []string{"stalled_after: must be positive, got 0s"}},
		{id: "bad_by_class", errs: []string{"by_class: max_entries: must be positive, got 0"}},
		{id: "zero_interval", errs: []string{`"collection_interval": requires positive value`}},
		{id: "user_without_password", errs: []string{`password: must be set when username "jobq" is set`}},
		{id: "unknown_key", errs: []string{"has invalid keys: queue"}},
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

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, 30*time.Second, cfg.CollectionInterval)
	assert.Equal(t, 10*time.Second, cfg.Timeout)
	assert.Equal(t, "localhost:6379", cfg.Endpoint)
	assert.Equal(t, 500, cfg.Queues.Max)
	assert.Equal(t, 5*time.Minute, cfg.StalledAfter)
	assert.Equal(t, 1000, cfg.ByClass.MaxEntries)
	assert.False(t, cfg.TLS.HasValue(), "plain TCP unless tls is configured")
	assert.False(t, cfg.Metrics.JobqueueJobsByClass.Enabled, "the breakdown is opt-in")
	assert.ErrorContains(t, confmap.Validate(cfg), "system: must be set", "the job system is never guessed")
}
