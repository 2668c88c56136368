// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// processorConfig embeds the section the way the processors do.
type processorConfig struct {
	State Config `mapstructure:"state"`
}

func load(t *testing.T, raw map[string]any) (processorConfig, error) {
	t.Helper()
	cfg := processorConfig{State: NewDefaultConfig()}
	if err := confmap.NewFromStringMap(raw).Unmarshal(&cfg); err != nil {
		return cfg, err
	}
	return cfg, confmap.Validate(&cfg)
}

func TestConfig(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(&processorConfig{}))

	cfg, err := load(t, map[string]any{})
	require.NoError(t, err)
	assert.Equal(t, NewDefaultConfig(), cfg.State)

	cfg, err = load(t, map[string]any{"state": map[string]any{
		"backend":     "Redis",
		"max_entries": 5000,
		"redis": map[string]any{
			"endpoint":       "redis.internal:6380",
			"password":       "s3cret",
			"db":             2,
			"key_prefix":     "team-a:",
			"timeout":        "250ms",
			"retry_interval": "30s",
		},
	}})
	require.NoError(t, err)
	assert.Equal(t, Config{
		Backend:    BackendRedis,
		MaxEntries: 5000,
		Redis: RedisConfig{
			Config:        redisclient.Config{Endpoint: "redis.internal:6380", Password: "s3cret", DB: 2},
			KeyPrefix:     "team-a:",
			Timeout:       250 * time.Millisecond,
			RetryInterval: 30 * time.Second,
		},
	}, cfg.State)
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name  string
		state map[string]any
		want  string
	}{
		{"backend", map[string]any{"backend": "disk"}, `unknown backend "disk": use memory or redis`},
		{"max_entries", map[string]any{"max_entries": 0}, "state: max_entries: must be between 1 and 1073741824, got 0"},
		{"timeout", map[string]any{"redis": map[string]any{"timeout": "0s"}}, "state::redis: timeout: must be positive"},
		{"retry_interval", map[string]any{"redis": map[string]any{"retry_interval": "-1s"}}, "state::redis: retry_interval: must be positive"},
		{"endpoint", map[string]any{"backend": "redis", "redis": map[string]any{"endpoint": "nohost"}}, `endpoint: "nohost" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, map[string]any{"state": tt.state})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestConfigNewStore(t *testing.T) {
	ctx := context.Background()
	cfg := NewDefaultConfig()
	s, err := cfg.NewStore(ctx, zap.NewNop())
	require.NoError(t, err)
	assert.IsType(t, &Memory{}, s)
	require.NoError(t, s.Close())

	srv := redistest.Start(t)
	cfg.Backend = BackendRedis
	cfg.Redis.Endpoint = srv.Addr()
	s, err = cfg.NewStore(ctx, zap.NewNop())
	require.NoError(t, err)
	defer func() { assert.NoError(t, s.Close()) }()
	assert.IsType(t, &Fallback{}, s)
	apply(t, s, func(b *Batch) { b.Incr("k", 1, time.Hour) })
	assert.Equal(t, "1", srv.Client(t).Get(ctx, "otelcol-jobs:k").Val(), "keys carry the default prefix")

	cfg.Redis.TLS.GetOrInsertDefault().CAFile = "/nonexistent/ca.pem"
	_, err = cfg.NewStore(ctx, zap.NewNop())
	require.ErrorContains(t, err, "state store: tls:")
}
