// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package redisclient holds the one Redis connection configuration shared by
// every component (the job_queue receiver, the Redis state store) and builds
// go-redis clients from it.
package redisclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
)

// Config is how a component reaches one Redis server.
type Config struct {
	// Endpoint is host:port of the Redis server.
	Endpoint string `mapstructure:"endpoint"`
	// Username is the Redis ACL user; empty means the default user.
	Username string `mapstructure:"username"`
	// Password is sent with AUTH; it is never logged.
	Password configopaque.String `mapstructure:"password"`
	// DB is the logical database number selected after connecting.
	DB int `mapstructure:"db"`
	// TLS enables TLS when present (`tls: {}` uses the system roots);
	// plain TCP when absent.
	TLS configoptional.Optional[configtls.ClientConfig] `mapstructure:"tls"`

	_ struct{}
}

// Validate reports configuration errors with the YAML key they concern.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set (host:port)"))
	} else if host, port, err := net.SplitHostPort(c.Endpoint); err != nil {
		errs = append(errs, fmt.Errorf("endpoint: %q is not host:port: %w", c.Endpoint, err))
	} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" {
		errs = append(errs, fmt.Errorf("endpoint: %q needs a host and a port between 1 and 65535", c.Endpoint))
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("db: must be >= 0, got %d", c.DB))
	}
	if c.Username != "" && c.Password == "" {
		errs = append(errs, fmt.Errorf("password: must be set when username %q is set", c.Username))
	}
	return errors.Join(errs...)
}

// NewClient builds a client whose every command is bounded by timeout.
// It never sends CLIENT SETINFO and starts no maintenance-notification
// goroutine, so it works under a read-only ACL user and leaves no goroutine
// behind after Close.
func (c *Config) NewClient(ctx context.Context, timeout time.Duration) (*redis.Client, error) {
	var tlsConfig *tls.Config
	if c.TLS.HasValue() {
		var err error
		if tlsConfig, err = c.TLS.Get().LoadTLSConfig(ctx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	opts := &redis.Options{
		Addr:                  c.Endpoint,
		Username:              c.Username,
		Password:              string(c.Password),
		DB:                    c.DB,
		TLSConfig:             tlsConfig,
		Protocol:              2,
		DisableIdentity:       true,
		ContextTimeoutEnabled: true,
		// A scrape or a batch is bounded by its own deadline; a retry would
		// only hide a slow or absent server behind a longer wait.
		MaxRetries:    -1,
		DialerRetries: 1,
		PoolSize:      4,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	if timeout > 0 {
		opts.DialTimeout = timeout
		opts.ReadTimeout = timeout
		opts.WriteTimeout = timeout
	}
	return redis.NewClient(opts), nil
}
