// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, NewDefaultConfig(), cfg)
	assert.Equal(t, 10_000, cfg.MaxPending)
	assert.Equal(t, 2*time.Minute, cfg.PendingTTL)
	assert.Equal(t, 10_000, cfg.MaxEdges)
	assert.Equal(t, 24*time.Hour, cfg.EdgeTTL)
	assert.Equal(t, time.Minute, cfg.MetricsFlushInterval)
	assert.Equal(t, alert.SeverityWarn, cfg.Severity)
	assert.Equal(t, statestore.BackendMemory, cfg.State.Backend)
}

func TestConfigCustom(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	assert.Equal(t, []string{"app.job.class"}, cfg.JobClassKeys)
	assert.Equal(t, []string{"app.job.queue"}, cfg.QueueKeys)
	assert.Equal(t, 50_000, cfg.MaxPending)
	assert.Equal(t, 5*time.Minute, cfg.PendingTTL)
	assert.Equal(t, 2000, cfg.MaxEdges)
	assert.Equal(t, 6*time.Hour, cfg.EdgeTTL)
	assert.Equal(t, 15*time.Second, cfg.MetricsFlushInterval)
	assert.Equal(t, alert.SeverityError, cfg.Severity)
	assert.Equal(t, statestore.BackendRedis, cfg.State.Backend)
	assert.Equal(t, "redis:6379", cfg.State.Redis.Endpoint)
	assert.Equal(t, "graph:", cfg.State.Redis.KeyPrefix)
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub("job_graph/bad_bounds")
	require.NoError(t, err)
	cfg := NewDefaultConfig()
	err = sub.Unmarshal(cfg)
	require.Error(t, err, "an unknown severity fails as the config is read")
	assert.ErrorContains(t, err, "loud")

	cfg = NewDefaultConfig()
	cfg.MaxPending, cfg.MaxEdges = 0, 2_000_000
	cfg.PendingTTL, cfg.EdgeTTL, cfg.MetricsFlushInterval = 10*time.Millisecond, 0, -time.Second
	err = cfg.Validate()
	for _, want := range []string{
		"max_pending: must be between 1 and 1000000, got 0",
		"max_edges: must be between 1 and 1000000, got 2000000",
		"pending_ttl: must be at least 1s, got 10ms",
		"edge_ttl: must be at least 1s, got 0s",
		"metrics_flush_interval: must not be negative, got -1s",
	} {
		assert.ErrorContains(t, err, want)
	}
}
