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
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/zap"
)

// Config is how a component reaches one Redis server: at Endpoint, or as
// the master that Redis Sentinel names.
type Config struct {
	// Endpoint is host:port of the Redis server; not used with Sentinel.
	Endpoint string `mapstructure:"endpoint"`
	// Sentinel, when its master_name is set, finds the master through Redis
	// Sentinel and follows it across failovers.
	Sentinel SentinelConfig `mapstructure:"sentinel"`
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

// SentinelConfig names a master monitored by Redis Sentinel. Username,
// password, db and TLS of Config apply to the master (and to the
// sentinels' connections for TLS); the sentinels may have credentials of
// their own.
type SentinelConfig struct {
	// MasterName is the name the sentinels monitor the master under.
	MasterName string `mapstructure:"master_name"`
	// Addresses are host:port of one or more sentinels.
	Addresses []string `mapstructure:"addresses"`
	// Username and Password authenticate to the sentinels.
	Username string              `mapstructure:"username"`
	Password configopaque.String `mapstructure:"password"`

	_ struct{}
}

// Enabled says whether the master is found through Sentinel.
func (s *SentinelConfig) Enabled() bool { return s.MasterName != "" || len(s.Addresses) > 0 }

// Target names the Redis a client of c reaches, for logs and alert ids:
// the endpoint, or "sentinel:<master_name>".
func (c *Config) Target() string {
	if c.Sentinel.Enabled() {
		return "sentinel:" + c.Sentinel.MasterName
	}
	return redactCredentials(c.Endpoint)
}

// Server is the server.address and server.port of the Redis a client of c
// reaches: the endpoint's host and port; through Sentinel the master name
// and no port (0), since the master's own address changes on failover.
func (c *Config) Server() (address string, port int64) {
	if c.Sentinel.Enabled() {
		return c.Sentinel.MasterName, 0
	}
	host, p, err := net.SplitHostPort(c.Endpoint)
	if err != nil {
		return redactCredentials(c.Endpoint), 0 // not validated
	}
	port, _ = strconv.ParseInt(p, 10, 64)
	return host, port
}

// Validate reports configuration errors with the YAML key they concern.
func (c *Config) Validate() error {
	var errs []error
	if c.Sentinel.Enabled() {
		errs = append(errs, c.Sentinel.validate()...)
	} else if err := validateAddress("endpoint", c.Endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.DB < 0 {
		errs = append(errs, fmt.Errorf("db: must be >= 0, got %d", c.DB))
	}
	return errors.Join(errs...)
}

// ValidateACLUser reports a Redis ACL user without a password: Redis has
// no AUTH without one, so the default user would be used instead. Not part
// of Validate because the job_queue receiver shares these keys with
// PostgreSQL, where a role may log in without a password (trust, TLS
// certificate): components that reach Redis call it from their Validate.
func (c *Config) ValidateACLUser() error {
	if c.Username != "" && c.Password == "" {
		return fmt.Errorf("password: must be set when username %q is set", c.Username)
	}
	return nil
}

func (s *SentinelConfig) validate() []error {
	var errs []error
	if s.MasterName == "" {
		errs = append(errs, errors.New("sentinel.master_name: must be set with sentinel.addresses"))
	}
	if len(s.Addresses) == 0 {
		errs = append(errs, errors.New("sentinel.addresses: must list at least one sentinel (host:port)"))
	}
	for i, a := range s.Addresses {
		if err := validateAddress(fmt.Sprintf("sentinel.addresses[%d]", i), a); err != nil {
			errs = append(errs, err)
		}
	}
	if s.Username != "" && s.Password == "" {
		errs = append(errs, fmt.Errorf("sentinel.password: must be set when sentinel.username %q is set", s.Username))
	}
	return errs
}

// validateAddress checks a host:port. Its errors quote the address with
// any credentials hidden: one written as a URL may carry a password.
func validateAddress(key, addr string) error {
	if addr == "" {
		return fmt.Errorf("%s: must be set (host:port)", key)
	}
	shown := redactCredentials(addr)
	if strings.Contains(addr, "://") {
		return fmt.Errorf("%s: %q is a URL: write host:port and set username, password and db as keys of their own", key, shown)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		// The reason alone: net.AddrError quotes the address.
		reason := "invalid address"
		var addrErr *net.AddrError
		if errors.As(err, &addrErr) {
			reason = addrErr.Err
		}
		return fmt.Errorf("%s: %q is not host:port: %s", key, shown, reason)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 || host == "" || strings.Contains(host, "@") {
		return fmt.Errorf("%s: %q needs a host and a port between 1 and 65535", key, shown)
	}
	return nil
}

// redactCredentials hides what comes before an '@' (after the scheme of a
// URL): an address written as user:password@host:port or as a URL.
func redactCredentials(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	scheme := ""
	if i := strings.Index(addr[:at], "://"); i >= 0 {
		scheme = addr[:i+len("://")]
	}
	return scheme + "***" + addr[at:]
}

// WarnCleartextPassword logs a warning when a password would travel in
// clear text although a tls key is present: `insecure: true` (without a
// CA) means no TLS at all, as everywhere in the collector. Components call
// it once at start, next to NewClient.
func (c *Config) WarnCleartextPassword(ctx context.Context, logger *zap.Logger) {
	if !c.TLS.HasValue() {
		return // plain TCP is the documented default, not a surprise
	}
	if tlsConfig, err := c.TLS.Get().LoadTLSConfig(ctx); err != nil || tlsConfig != nil {
		return // TLS on (or an error NewClient reports)
	}
	var keys []string
	if c.Password != "" {
		keys = append(keys, "password")
	}
	if c.Sentinel.Enabled() && c.Sentinel.Password != "" {
		keys = append(keys, "sentinel.password")
	}
	if len(keys) == 0 {
		return
	}
	logger.Warn("tls.insecure is true, which turns TLS off: the Redis password travels in clear text. "+
		"Remove insecure to use TLS (insecure_skip_verify only skips the certificate check), or remove the tls key if plain TCP is meant",
		zap.String("redis", c.Target()), zap.Strings("passwords", keys))
}

// NewClient builds a client whose every command is bounded by timeout: of
// the endpoint, or of the master the sentinels name (asked again after a
// failover).
// It never sends CLIENT SETINFO and starts no maintenance-notification
// goroutine, so it works under a read-only ACL user and leaves no goroutine
// behind after Close.
func (c *Config) NewClient(ctx context.Context, timeout time.Duration) (*redis.Client, error) {
	// Refused here too, for callers that skip Validate: go-redis's own
	// errors would quote an endpoint with credentials in it.
	if err := errors.Join(c.Validate(), c.ValidateACLUser()); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if c.TLS.HasValue() {
		var err error
		if tlsConfig, err = c.TLS.Get().LoadTLSConfig(ctx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	opts := &redis.Options{
		Addr:                  c.Endpoint,
		Dialer:                dialer(tlsConfig, timeout),
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
	if c.Sentinel.Enabled() {
		client := redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:            c.Sentinel.MasterName,
			SentinelAddrs:         c.Sentinel.Addresses,
			Dialer:                opts.Dialer,
			SentinelUsername:      c.Sentinel.Username,
			SentinelPassword:      string(c.Sentinel.Password),
			Username:              opts.Username,
			Password:              opts.Password,
			DB:                    opts.DB,
			TLSConfig:             opts.TLSConfig,
			Protocol:              opts.Protocol,
			DisableIdentity:       opts.DisableIdentity,
			ContextTimeoutEnabled: opts.ContextTimeoutEnabled,
			MaxRetries:            opts.MaxRetries,
			DialerRetries:         opts.DialerRetries,
			PoolSize:              opts.PoolSize,
			DialTimeout:           opts.DialTimeout,
			ReadTimeout:           opts.ReadTimeout,
			WriteTimeout:          opts.WriteTimeout,
		})
		client.AddHook(sentinelErrors{&c.Sentinel})
		return client, nil
	}
	return redis.NewClient(opts), nil
}

// sentinelErrors says which master and sentinels a failed dial was about:
// go-redis reports an unknown master name as "all sentinels specified in
// configuration are unreachable: redis: nil".
type sentinelErrors struct{ cfg *SentinelConfig }

func (h sentinelErrors) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			if errors.Is(err, redis.Nil) {
				return nil, fmt.Errorf("sentinel: no sentinel of %v knows a master named %q: %w",
					h.cfg.Addresses, h.cfg.MasterName, err)
			}
			return nil, fmt.Errorf("sentinel (master %q, sentinels %v): %w", h.cfg.MasterName, h.cfg.Addresses, err)
		}
		return conn, nil
	}
}

func (sentinelErrors) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (sentinelErrors) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
