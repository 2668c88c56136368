// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
)

// TestConnectionSetUpRefused: go-redis reports a refused AUTH or SELECT
// from the pipeline's Exec, not on each command. The scrape must fail with
// the server's own reason, never read the unanswered commands as zeros.
func TestConnectionSetUpRefused(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--requirepass", "the-real-one", "--databases", "4"))
	admin := srv.Client(t)
	admin.Options().Password = "the-real-one"
	writeSmallSidekiq(t, admin, time.Now())
	// May read everything but not SELECT another database.
	require.NoError(t, admin.Do(context.Background(),
		"ACL", "SETUSER", "jobq", "on", ">pw", "~*", "&*", "-@all", "+@read", "+hello", "+auth", "+ping").Err())

	tests := []struct {
		name string
		set  func(*Config)
		want string
	}{
		{"wrong password", func(c *Config) { c.Password = "wrong" }, "WRONGPASS"},
		{"missing db", func(c *Config) { c.Password, c.DB = "the-real-one", 9 }, "DB index is out of range"},
		{"user without SELECT", func(c *Config) { c.Username, c.Password, c.DB = "jobq", "pw", 1 }, "NOPERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := configFor(srv.Addr())
			tt.set(cfg)
			r := startReceiver(t, cfg)
			md, err := r.last(t)
			require.ErrorContains(t, err, tt.want)
			assert.Zero(t, md.DataPointCount(), "no figures from a refused connection")
			_, err = r.scrape(t)
			require.ErrorContains(t, err, tt.want, "every scrape, not only the first")
		})
	}
}

// TestTLSMismatchFailsTheScrape: a receiver whose tls setting does not match
// the server's fails its scrape with the likely cause, long before timeout.
func TestTLSMismatchFailsTheScrape(t *testing.T) {
	plain := redistest.Start(t)
	tlsOnly := redistest.Start(t, redistest.WithTLS())

	cfg := configFor(plain.Addr())
	require.NoError(t, confmapUnmarshal(cfg, map[string]any{"tls": map[string]any{}}))
	cfg.CollectionInterval, cfg.Timeout = time.Minute, time.Minute // a timeout would be the error's text, not this
	_, err := startReceiver(t, cfg).last(t)
	require.ErrorContains(t, err, "answers plain Redis, not TLS: remove tls")

	cfg = configFor(tlsOnly.Addr())
	_, err = startReceiver(t, cfg).last(t)
	require.ErrorContains(t, err, "if it only accepts TLS, set tls")
}

// TestInsecureTLSWarns: `tls: {insecure: true}` is plain TCP, as everywhere
// in the collector; with a password the receiver says so at start.
func TestInsecureTLSWarns(t *testing.T) {
	const password = "correct-horse-battery-staple"
	srv := redistest.Start(t, redistest.WithArgs("--requirepass", password))
	cfg := configFor(srv.Addr())
	cfg.Password = password
	require.NoError(t, confmapUnmarshal(cfg, map[string]any{"tls": map[string]any{"insecure": true}}))
	r := startReceiver(t, cfg)
	_, err := r.last(t)
	require.NoError(t, err, "plain TCP works")

	warnings := r.logs.FilterMessageSnippet("tls.insecure is true").All()
	require.Len(t, warnings, 1)
	assert.Equal(t, zapcore.WarnLevel, warnings[0].Level)
	assert.Equal(t, []any{"password"}, warnings[0].ContextMap()["passwords"])
	for _, e := range r.logs.All() {
		assert.NotContains(t, fmt.Sprint(e.Message, e.ContextMap()), password)
	}
}

// TestEndpointURLSecretNotEchoed: a password written into endpoint as a URL
// is quoted back neither by validation nor, when validation was skipped, by
// the receiver's start or its logs.
func TestEndpointURLSecretNotEchoed(t *testing.T) {
	const secret = "hunter2"
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "url_endpoint").String())
	require.NoError(t, err)
	cfg := NewDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	require.Contains(t, cfg.Endpoint, secret, "the fixture has the secret")

	err = confmap.Validate(cfg)
	require.ErrorContains(t, err, `endpoint: "redis://***@redis.internal:6379" is a URL`)
	assert.NotContains(t, err.Error(), secret)

	core, logs := observer.New(zapcore.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	rcv := newReceiver(set, cfg, func(ctx context.Context) (*Snapshotter, error) { return NewSnapshotter(ctx, cfg) })
	err = rcv.Start(context.Background(), componenttest.NewNopHost())
	require.Error(t, err, "no client for an endpoint validation refuses")
	assert.NotContains(t, err.Error(), secret)
	require.NoError(t, rcv.Shutdown(context.Background()))
	for _, e := range logs.All() {
		assert.NotContains(t, fmt.Sprint(e.Message, e.ContextMap()), secret)
	}
}
