// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/queuealert"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Job systems the receiver reads.
const (
	SystemSidekiq = "sidekiq"
	SystemBullMQ  = "bullmq"
	SystemCelery  = "celery"
	SystemRQ      = "rq"
	SystemAsynq   = "asynq"
	SystemResque  = "resque"

	// Systems that keep their jobs in PostgreSQL.
	SystemRiver      = "river"
	SystemSolidQueue = "solid_queue"
	SystemGoodJob    = "good_job"
	SystemOban       = "oban"
)

var (
	supportedSystems = []string{
		SystemSidekiq, SystemCelery, SystemBullMQ, SystemResque, SystemAsynq, SystemRQ,
		SystemRiver, SystemSolidQueue, SystemGoodJob, SystemOban,
	}
	// postgresSystems keep their jobs in PostgreSQL tables; the others in Redis.
	postgresSystems = []string{SystemRiver, SystemSolidQueue, SystemGoodJob, SystemOban}
	// fixedPrefixes are the key prefixes of systems that cannot change
	// them: namespace must stay empty.
	fixedPrefixes = map[string]string{SystemAsynq: "asynq:", SystemRQ: "rq:"}
)

const (
	defaultCollectionInterval = 30 * time.Second
	defaultTimeout            = 10 * time.Second
	defaultEndpoint           = "localhost:6379"
	defaultPostgresEndpoint   = "localhost:5432"
	defaultEstimateAbove      = 500_000
	defaultMaxQueues          = 500
	defaultStalledAfter       = 5 * time.Minute
	defaultByClassMaxEntries  = 1000
	defaultCeleryMaxResults   = 100_000
	defaultDiscoveryInterval  = 5 * time.Minute
)

// Config is the job_queue receiver's configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`
	redisclient.Config             `mapstructure:",squash"`
	metadata.MetricsBuilderConfig  `mapstructure:",squash"`

	// System is the job system whose Redis is read (sidekiq).
	System string `mapstructure:"system"`
	// Namespace is the key prefix the job system uses (Sidekiq <= 6
	// redis-namespace, kombu's global_keyprefix for Celery); empty for none.
	Namespace string `mapstructure:"namespace"`
	// Queues selects the reported queues and bounds their number.
	Queues QueuesConfig `mapstructure:"queues"`
	// StalledAfter is how long an in-flight job may run before it counts as
	// stalled.
	StalledAfter time.Duration `mapstructure:"stalled_after"`
	// ByClass bounds the retry/dead breakdown read for the
	// jobqueue.jobs.by_class metric (only read when that metric is enabled).
	ByClass ByClassConfig `mapstructure:"by_class"`
	// Celery holds the kombu Redis transport options that Celery's workers
	// use and the reader must share (system: celery).
	Celery CeleryConfig `mapstructure:"celery"`
	// Alerts are the rules evaluated on each scrape when the receiver is in
	// a logs pipeline; their records go there.
	Alerts queuealert.Config `mapstructure:"alerts"`
	// DiscoveryInterval is how often queues are discovered again by a SCAN
	// in systems that keep no queue registry (BullMQ, Celery), unless queues.names
	// lists them.
	DiscoveryInterval time.Duration `mapstructure:"discovery_interval"`
	// ClientList lets the BullMQ reader read its workers with CLIENT LIST,
	// which a read-only ACL user may not run.
	ClientList bool `mapstructure:"client_list"`
	// Database is the PostgreSQL database holding the job tables
	// (Postgres-backed systems only).
	Database string `mapstructure:"database"`
	// Schema is the PostgreSQL schema holding the job tables (default
	// public; Postgres-backed systems only).
	Schema string `mapstructure:"schema"`
	// Postgres holds the settings only Postgres-backed systems have.
	Postgres PostgresConfig `mapstructure:"postgres"`

	_ struct{}
}

// PostgresConfig bounds what a scrape of a Postgres-backed system costs.
type PostgresConfig struct {
	// EstimateAbove is the row count beyond which a state's count is the
	// planner's estimate instead of an exact count (as Oban's dashboard
	// does), reported by jobqueue.jobs.estimated; 0 counts exactly always.
	EstimateAbove int64 `mapstructure:"estimate_above"`

	_ struct{}
}

// IsPostgres says whether the configured system keeps its jobs in
// PostgreSQL (endpoint, username, password, tls, database and schema then
// describe a PostgreSQL connection).
func (cfg *Config) IsPostgres() bool { return slices.Contains(postgresSystems, cfg.System) }

// PostgresConnection is the PostgreSQL connection of a Postgres-backed
// system, from the keys it shares with Redis ones.
func (cfg *Config) PostgresConnection() pgclient.Config {
	schema := cfg.Schema
	if schema == "" {
		schema = pgclient.DefaultSchema
	}
	return pgclient.Config{
		Endpoint: cfg.Endpoint,
		Username: cfg.Username,
		Password: cfg.Password,
		Database: cfg.Database,
		Schema:   schema,
		TLS:      cfg.TLS,
	}
}

// QueuesConfig selects queues by name. A queue is reported when it matches
// any Include matcher (all when empty) and no Exclude matcher; at most Max
// queues are reported, by name order (0 = no limit).
type QueuesConfig struct {
	Include []QueueMatch `mapstructure:"include"`
	Exclude []QueueMatch `mapstructure:"exclude"`
	Max     int          `mapstructure:"max"`
	// Names lists the queues to read in systems that keep no queue
	// registry (BullMQ, Celery), instead of discovering them.
	Names []string `mapstructure:"names"`

	_ struct{}
}

// QueueMatch matches queue names as the collector's filter package does (and
// the alert overrides' queues, and job_retry's class_overrides): {strict:
// name} or {regexp: pattern}. A plain string is a regular expression, the
// form include and exclude always had.
type QueueMatch struct {
	Strict string `mapstructure:"strict"`
	Regex  string `mapstructure:"regexp"`

	_ struct{}
}

// UnmarshalText reads the plain string form: a regular expression.
func (m *QueueMatch) UnmarshalText(text []byte) error {
	*m = QueueMatch{Regex: string(text)}
	return nil
}

// compile is the matcher as a regular expression (a strict name matches
// itself whole).
func (m QueueMatch) compile() (*regexp.Regexp, error) {
	if err := (filter.Config{Strict: m.Strict, Regex: m.Regex}).Validate(); err != nil {
		if m.Regex != "" && m.Strict == "" {
			return nil, fmt.Errorf("invalid regular expression %q: %w", m.Regex, err)
		}
		return nil, err
	}
	if m.Strict != "" {
		return regexp.MustCompile("^" + regexp.QuoteMeta(m.Strict) + "$"), nil
	}
	return regexp.MustCompile(m.Regex), nil
}

// CeleryConfig holds kombu's Redis transport options (Celery's
// broker_transport_options) that decide key names. Unset, each is kombu's
// default.
type CeleryConfig struct {
	// PrioritySteps are kombu's priority_steps: a queue's messages are in one
	// list per step (default 0, 3, 6, 9).
	PrioritySteps []int `mapstructure:"priority_steps"`
	// Sep is kombu's sep, between a queue's name and its priority step and
	// in the binding sets (default "\x06\x16").
	Sep string `mapstructure:"sep"`
	// Results counts the result backend's task states, when it lives in
	// the broker's database.
	Results CeleryResultsConfig `mapstructure:"results"`

	_ struct{}
}

// CeleryResultsConfig turns on and bounds the reading of Celery's result
// backend (celery-task-meta-* keys).
type CeleryResultsConfig struct {
	// Enabled counts the states; off by default (a SCAN step and a read
	// per result found on every scrape).
	Enabled bool `mapstructure:"enabled"`
	// MaxKeys bounds the results remembered between scrapes.
	MaxKeys int `mapstructure:"max_keys"`

	_ struct{}
}

// validate reports the settings kombu would not accept.
func (c *CeleryConfig) validate() []error {
	var errs []error
	if c.PrioritySteps != nil && len(c.PrioritySteps) == 0 {
		errs = append(errs, errors.New("celery: priority_steps: must not be empty (leave it unset for kombu's default [0, 3, 6, 9])"))
	}
	for i, step := range c.PrioritySteps {
		if step < 0 || (i > 0 && step <= c.PrioritySteps[i-1]) {
			errs = append(errs, fmt.Errorf("celery: priority_steps: must be non-negative and ascending, as kombu bisects them, got %v", c.PrioritySteps))
			break
		}
	}
	if c.Results.MaxKeys <= 0 {
		errs = append(errs, fmt.Errorf("celery: results: max_keys: must be positive, got %d", c.Results.MaxKeys))
	}
	return errs
}

// ByClassConfig bounds the retry/dead breakdown.
type ByClassConfig struct {
	// MaxEntries is how many of the newest entries of each set are read.
	MaxEntries int `mapstructure:"max_entries"`

	_ struct{}
}

var (
	_ confmap.Validator   = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

// NewDefaultConfig returns the receiver's defaults; callers set at least
// System (and Endpoint unless Redis is on localhost:6379).
func NewDefaultConfig() *Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = defaultCollectionInterval
	cc.Timeout = defaultTimeout
	return &Config{
		ControllerConfig:     cc,
		Config:               redisclient.Config{Endpoint: defaultEndpoint},
		MetricsBuilderConfig: metadata.NewDefaultMetricsBuilderConfig(),
		Queues:               QueuesConfig{Max: defaultMaxQueues},
		StalledAfter:         defaultStalledAfter,
		ByClass:              ByClassConfig{MaxEntries: defaultByClassMaxEntries},
		Celery:               CeleryConfig{Results: CeleryResultsConfig{MaxKeys: defaultCeleryMaxResults}},
		DiscoveryInterval:    defaultDiscoveryInterval,
		Alerts:               queuealert.NewDefaultConfig(),
		Postgres:             PostgresConfig{EstimateAbove: defaultEstimateAbove},
	}
}

// Unmarshal applies the user's settings. A timeout left unset is the
// smaller of 10 s and the collection interval, so that a short interval
// needs no timeout of its own; one set explicitly is kept (and refused by
// Validate if it exceeds the interval).
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if err := conf.Unmarshal(cfg); err != nil {
		return err
	}
	if !conf.IsSet("timeout") && cfg.CollectionInterval > 0 {
		cfg.Timeout = min(defaultTimeout, cfg.CollectionInterval)
	}
	if !conf.IsSet("endpoint") && cfg.IsPostgres() {
		cfg.Endpoint = defaultPostgresEndpoint
	}
	return nil
}

// Validate reports every configuration error, each naming its key. The
// embedded controller, Redis and metrics settings and the alerts are
// validated by confmap.Validate through their own Validate methods.
func (cfg *Config) Validate() error {
	var errs []error
	switch {
	case cfg.System == "":
		errs = append(errs, fmt.Errorf("system: must be set (one of: %s)", strings.Join(supportedSystems, ", ")))
	case !slices.Contains(supportedSystems, cfg.System):
		errs = append(errs, fmt.Errorf("system: unknown job system %q (supported: %s)", cfg.System, strings.Join(supportedSystems, ", ")))
	}
	if cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: must be positive, got %s", cfg.Timeout))
	} else if cfg.CollectionInterval > 0 && cfg.Timeout > cfg.CollectionInterval {
		errs = append(errs, fmt.Errorf("timeout: %s must not exceed collection_interval %s", cfg.Timeout, cfg.CollectionInterval))
	}
	if _, err := cfg.Queues.selection(); err != nil {
		errs = append(errs, err)
	}
	if cfg.StalledAfter <= 0 {
		errs = append(errs, fmt.Errorf("stalled_after: must be positive, got %s", cfg.StalledAfter))
	}
	if cfg.ByClass.MaxEntries <= 0 {
		errs = append(errs, fmt.Errorf("by_class: max_entries: must be positive, got %d", cfg.ByClass.MaxEntries))
	}
	if cfg.DiscoveryInterval <= 0 {
		errs = append(errs, fmt.Errorf("discovery_interval: must be positive, got %s", cfg.DiscoveryInterval))
	}
	if slices.Contains(cfg.Queues.Names, "") {
		errs = append(errs, errors.New("queues: names: must not contain an empty name"))
	}
	if prefix, fixed := fixedPrefixes[cfg.System]; fixed && cfg.Namespace != "" {
		errs = append(errs, fmt.Errorf("namespace: %s's keys have no prefix option (always %q): leave it empty", cfg.System, prefix))
	}
	errs = append(errs, cfg.Celery.validate()...)
	if cfg.IsPostgres() {
		errs = append(errs, cfg.validatePostgres()...)
	} else {
		errs = append(errs, cfg.ValidateACLUser())
		if cfg.Database != "" || cfg.Schema != "" {
			errs = append(errs, fmt.Errorf("database, schema: only for the PostgreSQL-backed systems (%s), not %s", strings.Join(postgresSystems, ", "), cfg.System))
		}
	}
	return errors.Join(errs...)
}

// validatePostgres reports the Redis-only keys set for a Postgres-backed
// system and the PostgreSQL keys it lacks.
func (cfg *Config) validatePostgres() []error {
	var errs []error
	if cfg.Sentinel.Enabled() {
		errs = append(errs, fmt.Errorf("sentinel: is Redis Sentinel; %s keeps its jobs in PostgreSQL (set endpoint)", cfg.System))
	}
	if cfg.DB != 0 {
		errs = append(errs, fmt.Errorf("db: is a Redis database number; %s keeps its jobs in PostgreSQL (set database)", cfg.System))
	}
	if cfg.Namespace != "" {
		errs = append(errs, fmt.Errorf("namespace: is a Redis key prefix; for %s set schema", cfg.System))
	}
	if cfg.ClientList {
		errs = append(errs, fmt.Errorf("client_list: is for BullMQ only, not %s", cfg.System))
	}
	if len(cfg.Queues.Names) > 0 {
		errs = append(errs, fmt.Errorf("queues: names: %s's queues are read from its tables; use queues.include", cfg.System))
	}
	if cfg.Postgres.EstimateAbove < 0 {
		errs = append(errs, fmt.Errorf("postgres: estimate_above: must be >= 0 (0 = always exact), got %d", cfg.Postgres.EstimateAbove))
	}
	if cfg.Database == "" {
		errs = append(errs, fmt.Errorf("database: must be set for %s (the PostgreSQL database holding its tables)", cfg.System))
	}
	return errs
}

// selection compiles the queue filters.
func (q *QueuesConfig) selection() (snapshot.Selection, error) {
	var errs []error
	compile := func(key string, matchers []QueueMatch) []*regexp.Regexp {
		res := make([]*regexp.Regexp, 0, len(matchers))
		for i, m := range matchers {
			re, err := m.compile()
			if err != nil {
				errs = append(errs, fmt.Errorf("queues: %s[%d]: %w", key, i, err))
				continue
			}
			res = append(res, re)
		}
		return res
	}
	sel := snapshot.Selection{
		Include: compile("include", q.Include),
		Exclude: compile("exclude", q.Exclude),
		Max:     q.Max,
	}
	if q.Max < 0 {
		errs = append(errs, fmt.Errorf("queues: max: must be >= 0 (0 = no limit), got %d", q.Max))
	}
	return sel, errors.Join(errs...)
}
