// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestInsecureTLSWarns: `tls: {insecure: true}` is plain TCP, as everywhere
// in the collector; with a password the shared store says so when built.
func TestInsecureTLSWarns(t *testing.T) {
	cfg := NewDefaultConfig()
	cfg.Backend = BackendRedis
	cfg.Redis.Password = "s3cret"
	tlsCfg := configtls.NewDefaultClientConfig()
	tlsCfg.Insecure = true
	cfg.Redis.TLS = configoptional.Some(tlsCfg)

	core, logs := observer.New(zapcore.InfoLevel)
	s, err := cfg.NewStore(context.Background(), zap.New(core))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	warnings := logs.FilterMessageSnippet("tls.insecure is true").All()
	require.Len(t, warnings, 1)
	assert.Equal(t, zapcore.WarnLevel, warnings[0].Level)
}
