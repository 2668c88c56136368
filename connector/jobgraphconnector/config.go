// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

const (
	defaultMaxPending    = 10_000
	defaultPendingTTL    = 2 * time.Minute
	defaultMaxEdges      = 10_000
	defaultEdgeTTL       = 24 * time.Hour
	defaultFlushInterval = time.Minute

	// maxBound keeps the bounds within what one Redis reply of the edge
	// set can reasonably carry.
	maxBound = 1_000_000
)

// Config is the job_graph connector's configuration.
type Config struct {
	// The user's own attribute keys for job ids, classes and queues
	// (job_id_keys, job_class_keys, queue_keys, ...), read on executions
	// and on producer spans.
	jobevent.Config `mapstructure:",squash"`

	// MaxPending bounds the halves of edges waiting for their other half:
	// producer spans waiting for the execution that contains them or for
	// their children, and executions kept for producer spans of later
	// batches. Past it the oldest are dropped, and counted.
	MaxPending int `mapstructure:"max_pending"`
	// PendingTTL is how long a half waits.
	PendingTTL time.Duration `mapstructure:"pending_ttl"`
	// MaxEdges bounds the edges kept; the least recently seen is evicted.
	MaxEdges int `mapstructure:"max_edges"`
	// EdgeTTL is how long an edge lives after it was last seen; a cycle
	// resolves when one of its edges expires.
	EdgeTTL time.Duration `mapstructure:"edge_ttl"`
	// MetricsFlushInterval is how often jobqueue.graph.enqueues is emitted,
	// as in contrib's servicegraph connector; 0 emits after every batch.
	MetricsFlushInterval time.Duration `mapstructure:"metrics_flush_interval"`
	// Severity of job_cycle alerts.
	Severity alert.Severity `mapstructure:"severity"`
	// State is where the edge set and the registry of firing cycles live:
	// memory (per collector) or redis (shared by replicas, so a cycle whose
	// edges different replicas see is found, once).
	State statestore.Config `mapstructure:"state"`

	_ struct{}
}

var _ confmap.Validator = (*Config)(nil)

// NewDefaultConfig returns the defaults.
func NewDefaultConfig() *Config {
	return &Config{
		MaxPending:           defaultMaxPending,
		PendingTTL:           defaultPendingTTL,
		MaxEdges:             defaultMaxEdges,
		EdgeTTL:              defaultEdgeTTL,
		MetricsFlushInterval: defaultFlushInterval,
		Severity:             alert.SeverityWarn,
		State:                statestore.NewDefaultConfig(),
	}
}

// Validate checks the connector's own keys; confmap.Validate also validates
// the embedded jobevent keys and the state section.
func (c *Config) Validate() error {
	var errs []error
	for _, b := range [...]struct {
		key string
		n   int
	}{{"max_pending", c.MaxPending}, {"max_edges", c.MaxEdges}} {
		if b.n < 1 || b.n > maxBound {
			errs = append(errs, fmt.Errorf("%s: must be between 1 and %d, got %d", b.key, maxBound, b.n))
		}
	}
	for _, d := range [...]struct {
		key string
		d   time.Duration
	}{{"pending_ttl", c.PendingTTL}, {"edge_ttl", c.EdgeTTL}} {
		if d.d < time.Second {
			errs = append(errs, fmt.Errorf("%s: must be at least 1s, got %v", d.key, d.d))
		}
	}
	if c.MetricsFlushInterval < 0 {
		errs = append(errs, fmt.Errorf("metrics_flush_interval: must not be negative, got %v", c.MetricsFlushInterval))
	}
	if c.Severity.String() == "" {
		errs = append(errs, errors.New("severity: must be one of info, warn, error, fatal"))
	}
	return errors.Join(errs...)
}
