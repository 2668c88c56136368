// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/confmap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"
)

const minResolveInterval = time.Second

// Config is the failure_cluster processor's configuration.
type Config struct {
	// The user's own attribute keys for job ids, classes, queues, attempts,
	// outcomes and errors (job_id_keys, error_message_keys, ...).
	jobevent.Config `mapstructure:",squash"`

	// Window is how far back the failures of a class are counted, in
	// Buckets fixed buckets (the window slides a bucket at a time).
	Window  time.Duration `mapstructure:"window"`
	Buckets int           `mapstructure:"buckets"`
	// MinFailures: failure_cluster fires when a class's failures in the
	// window exceed it.
	MinFailures int64 `mapstructure:"min_failures"`
	// MinFailureRatio, when above 0, also requires the class's
	// failures/executions in the window to exceed it, over at least
	// MinExecutions executions.
	MinFailureRatio float64 `mapstructure:"min_failure_ratio"`
	MinExecutions   int64   `mapstructure:"min_executions"`
	// EscalationFactor: a firing alert escalates each time its count grows
	// past its threshold times another factor (1: never).
	EscalationFactor float64 `mapstructure:"escalation_factor"`
	// Severity of failure_cluster records.
	Severity alert.Severity `mapstructure:"severity"`

	// MinClasses: dependency_failure fires when one error fingerprint fails
	// in at least this many classes within DependencyWindow (0: off).
	MinClasses         int64          `mapstructure:"min_classes"`
	DependencyWindow   time.Duration  `mapstructure:"dependency_window"`
	DependencySeverity alert.Severity `mapstructure:"dependency_severity"`

	// MaxClasses and MaxFingerprints bound the classes and error
	// fingerprints tracked; the least recently seen are forgotten first.
	MaxClasses      int `mapstructure:"max_classes"`
	MaxFingerprints int `mapstructure:"max_fingerprints"`
	// ResolveInterval is how often firing alerts are checked for
	// resolution, whether or not events still arrive for them.
	ResolveInterval time.Duration `mapstructure:"resolve_interval"`

	// State is where windows and alert registries live: memory (per
	// collector) or redis (shared by replicas).
	State statestore.Config `mapstructure:"state"`

	_ struct{}
}

var _ confmap.Validator = (*Config)(nil)

// NewDefaultConfig returns the defaults: more than 10 failures of a class in
// 1h (12 buckets of 5m), one error in 3 classes within 5m, escalation at
// each doubling, state in memory.
func NewDefaultConfig() *Config {
	return &Config{
		Window:             time.Hour,
		Buckets:            12,
		MinFailures:        10,
		MinExecutions:      20,
		EscalationFactor:   2,
		Severity:           alert.SeverityWarn,
		MinClasses:         3,
		DependencyWindow:   5 * time.Minute,
		DependencySeverity: alert.SeverityError,
		MaxClasses:         10_000,
		MaxFingerprints:    10_000,
		ResolveInterval:    30 * time.Second,
		State:              statestore.NewDefaultConfig(),
	}
}

// Validate checks the processor's own keys; confmap.Validate also validates
// the embedded jobevent keys and the state section.
func (c *Config) Validate() error {
	rules := c.rules()
	errs := []error{rules.Validate()}
	if c.Severity.String() == "" {
		errs = append(errs, errors.New("severity: must be one of info, warn, error, fatal"))
	}
	if c.DependencySeverity.String() == "" {
		errs = append(errs, errors.New("dependency_severity: must be one of info, warn, error, fatal"))
	}
	if c.ResolveInterval < minResolveInterval {
		errs = append(errs, fmt.Errorf("resolve_interval: must be at least %v, got %v", minResolveInterval, c.ResolveInterval))
	}
	return errors.Join(errs...)
}

// rules are the detector's settings.
func (c *Config) rules() burst.Config {
	return burst.Config{
		Window: c.Window, Buckets: c.Buckets,
		MinFailures: c.MinFailures, MinFailureRatio: c.MinFailureRatio, MinExecutions: c.MinExecutions,
		EscalationFactor: c.EscalationFactor, Severity: c.Severity,
		MinClasses: c.MinClasses, DependencyWindow: c.DependencyWindow, DependencySeverity: c.DependencySeverity,
		MaxClasses: c.MaxClasses, MaxFingerprints: c.MaxFingerprints, Dedupe: c.State.DedupeTTL(),
	}
}
