// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
)

// Config is the `state` section of the processors that keep detector state:
//
//	state:
//	  backend: redis            # memory (default) | redis
//	  max_entries: 100000       # bound of the local memory (and of the fallback)
//	  redis:
//	    endpoint: redis:6379    # or sentinel; plus username, password, db, tls (internal/redisclient)
//	    key_prefix: "otelcol-jobs:"
//	    timeout: 500ms          # a batch never waits longer on Redis
//	    retry_interval: 5s      # during an outage, how often Redis is tried again
//
// Processors embed it as a field State with the mapstructure tag "state",
// defaulting to NewDefaultConfig().
type Config struct {
	// Backend chooses where the state lives.
	Backend Backend `mapstructure:"backend"`
	// MaxEntries bounds the local memory store: least recently used entries
	// are evicted beyond it.
	MaxEntries int `mapstructure:"max_entries"`
	// Redis configures the shared store (backend: redis).
	Redis RedisConfig `mapstructure:"redis"`

	_ struct{}
}

// RedisConfig is the shared store's connection and behaviour.
type RedisConfig struct {
	redisclient.Config `mapstructure:",squash"`
	// KeyPrefix is put before every key, so several collectors or
	// pipelines can share one Redis without sharing state.
	KeyPrefix string `mapstructure:"key_prefix"`
	// Timeout bounds every batch (and the connection set-up).
	Timeout time.Duration `mapstructure:"timeout"`
	// RetryInterval is how long the store keeps to local memory after Redis
	// failed before trying it again.
	RetryInterval time.Duration `mapstructure:"retry_interval"`

	_ struct{}
}

// Backend names a store implementation.
type Backend string

const (
	BackendMemory Backend = "memory"
	BackendRedis  Backend = "redis"
)

// UnmarshalText accepts memory or redis, in any case.
func (b *Backend) UnmarshalText(text []byte) error {
	switch v := Backend(strings.ToLower(string(text))); v {
	case BackendMemory, BackendRedis:
		*b = v
		return nil
	}
	return fmt.Errorf("unknown backend %q: use memory or redis", text)
}

// maxEntriesLimit keeps entry indexes within int32.
const maxEntriesLimit = 1 << 30

// NewDefaultConfig is a memory store of 100,000 entries; the Redis section
// points at localhost:6379 so that switching backend is one line.
func NewDefaultConfig() Config {
	return Config{
		Backend:    BackendMemory,
		MaxEntries: 100_000,
		Redis: RedisConfig{
			Config:        redisclient.Config{Endpoint: "localhost:6379"},
			KeyPrefix:     "otelcol-jobs:",
			Timeout:       500 * time.Millisecond,
			RetryInterval: 5 * time.Second,
		},
	}
}

// Validate checks the section's own keys; confmap.Validate also validates the
// embedded connection settings.
func (c *Config) Validate() error {
	var errs []error
	if c.Backend != BackendMemory && c.Backend != BackendRedis {
		errs = append(errs, fmt.Errorf("backend: unknown %q: use memory or redis", c.Backend))
	}
	if c.MaxEntries < 1 || c.MaxEntries > maxEntriesLimit {
		errs = append(errs, fmt.Errorf("max_entries: must be between 1 and %d, got %d", maxEntriesLimit, c.MaxEntries))
	}
	return errors.Join(errs...)
}

// Validate checks the shared store's own keys; the connection settings are
// validated by redisclient.Config.Validate (confmap.Validate calls both).
func (c *RedisConfig) Validate() error {
	errs := []error{c.ValidateACLUser()}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %v", c.Timeout))
	}
	if c.RetryInterval <= 0 {
		errs = append(errs, fmt.Errorf("retry_interval: must be positive, got %v", c.RetryInterval))
	}
	return errors.Join(errs...)
}

// dedupeTTL is how long a shared store remembers an execution it counted:
// its log record, or a copy sent to another pipeline or replica, arrives
// within seconds, or within the 5 minutes exporters retry by default.
const dedupeTTL = 10 * time.Minute

// DedupeTTL is how long the detectors have the store remember each
// execution they count (Batch.CountOnce), so that an execution arriving
// twice counts once: as a span and as a log record in two pipelines, or at
// two replicas. Only a shared store needs it: a memory store belongs to one
// processor instance, i.e. one pipeline of one signal (0: no marks).
func (c *Config) DedupeTTL() time.Duration {
	if c.Backend == BackendRedis {
		return dedupeTTL
	}
	return 0
}

// NewStore builds the configured store: a Memory, or a Redis store wrapped
// in WithFallback over a Memory of MaxEntries. It does not connect: a Redis
// that is down at start is an outage like any other.
func (c *Config) NewStore(ctx context.Context, logger *zap.Logger, opts ...Option) (Store, error) {
	local := NewMemory(c.MaxEntries, opts...)
	if c.Backend != BackendRedis {
		return local, nil
	}
	redisclient.RouteLibraryLogs(logger)
	c.Redis.WarnCleartextPassword(ctx, logger)
	client, err := c.Redis.NewClient(ctx, c.Redis.Timeout)
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	shared := NewRedis(client, c.Redis.KeyPrefix, c.Redis.Timeout, opts...)
	return WithFallback(shared, local, logger, c.Redis.RetryInterval, opts...), nil
}
