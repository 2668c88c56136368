// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestEndpointURLNotEchoed: an endpoint written as a URL with credentials
// is refused without quoting the password back, in the error or in what
// the client reports of its target.
func TestEndpointURLNotEchoed(t *testing.T) {
	const secret = "hunter2"
	for _, endpoint := range []string{
		"redis://jobq:" + secret + "@redis.internal:6379",
		"rediss://:" + secret + "@redis.internal:6380/0",
		"jobq:" + secret + "@redis.internal:6379",
		secret + "@redis.internal",
	} {
		t.Run(endpoint, func(t *testing.T) {
			cfg := Config{Endpoint: endpoint}
			err := cfg.Validate()
			require.Error(t, err)
			assert.NotContains(t, err.Error(), secret)
			assert.Contains(t, err.Error(), "endpoint: ")
			assert.NotContains(t, cfg.Target(), secret)
			address, _ := cfg.Server()
			assert.NotContains(t, address, secret)

			_, err = cfg.NewClient(context.Background(), 0)
			require.Error(t, err, "no client for an endpoint that Validate refuses")
			assert.NotContains(t, err.Error(), secret)

			sentinel := Config{Sentinel: SentinelConfig{MasterName: "m", Addresses: []string{endpoint}}}
			require.Error(t, sentinel.Validate())
			assert.NotContains(t, sentinel.Validate().Error(), secret)
		})
	}
	assert.ErrorContains(t, (&Config{Endpoint: "redis://jobq:" + secret + "@redis.internal:6379"}).Validate(),
		`endpoint: "redis://***@redis.internal:6379" is a URL: write host:port and set username, password and db as keys of their own`)
}

// TestWarnCleartextPassword: `tls: {insecure: true}` turns TLS off, as
// everywhere in the collector; with a password set that is worth a warning.
func TestWarnCleartextPassword(t *testing.T) {
	const password = "p4ssw0rd"
	caFile, _, _ := redistest.WriteCertificates(t, t.TempDir())
	insecure := func(ca string) configoptional.Optional[configtls.ClientConfig] {
		c := configtls.NewDefaultClientConfig()
		c.Insecure, c.CAFile = true, ca
		return configoptional.Some(c)
	}
	tests := []struct {
		name string
		cfg  Config
		keys []any // the password keys the warning names; nil: no warning
	}{
		{"insecure with password", Config{Endpoint: "h:1", Password: password, TLS: insecure("")}, []any{"password"}},
		{"insecure with sentinel password", Config{
			Sentinel: SentinelConfig{MasterName: "m", Addresses: []string{"s:1"}, Password: password}, TLS: insecure(""),
		}, []any{"sentinel.password"}},
		{"insecure without password", Config{Endpoint: "h:1", TLS: insecure("")}, nil},
		{"insecure with a CA is TLS", Config{Endpoint: "h:1", Password: password, TLS: insecure(caFile)}, nil},
		{"tls", Config{Endpoint: "h:1", Password: password, TLS: configoptional.Some(configtls.NewDefaultClientConfig())}, nil},
		{"no tls key: plain TCP by choice", Config{Endpoint: "h:1", Password: password}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			tt.cfg.WarnCleartextPassword(context.Background(), zap.New(core))
			if tt.keys == nil {
				assert.Zero(t, logs.Len(), "%v", logs.All())
				return
			}
			require.Equal(t, 1, logs.Len())
			e := logs.All()[0]
			assert.Equal(t, zapcore.WarnLevel, e.Level)
			assert.Contains(t, e.Message, "tls.insecure")
			assert.Contains(t, e.Message, "clear text")
			assert.Equal(t, tt.keys, e.ContextMap()["passwords"])
			assert.NotContains(t, fmt.Sprint(e.Message, e.ContextMap()), password)
		})
	}
}
