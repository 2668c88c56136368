// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor"

import (
	"errors"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/filter"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/retry"
)

const (
	defaultMaxRetries = 3
	defaultWindow     = 24 * time.Hour
	defaultSeverity   = alert.SeverityWarn
	defaultEscalation = 2.0

	// maxRetriesLimit keeps thresholds, and the levels derived from them,
	// far from overflow; no job system retries a million times.
	maxRetriesLimit = 1_000_000
	minWindow       = time.Second
)

// Config is the job_retry processor's configuration.
type Config struct {
	// The user's own attribute keys for job ids, classes, queues, attempts,
	// outcomes and errors (job_id_keys, attempt_keys, ...).
	jobevent.Config `mapstructure:",squash"`

	// MaxRetries is how many retries a job may take before it raises
	// excessive_retries (it fires at MaxRetries+1).
	MaxRetries int `mapstructure:"max_retries"`
	// ClassOverrides change MaxRetries and Severity for the job classes
	// they match; the first match wins.
	ClassOverrides []ClassOverride `mapstructure:"class_overrides"`
	// Window is how long the runs of a job without an attempt number are
	// counted together, from its first run (by the events' own time).
	Window time.Duration `mapstructure:"window"`
	// Severity of the alert records.
	Severity alert.Severity `mapstructure:"severity"`
	// EscalationFactor: a firing alert escalates each time the retries pass
	// the threshold times another factor (2: each doubling; 1: never).
	EscalationFactor float64 `mapstructure:"escalation_factor"`
	// State is where retry counters and alert marks live: memory (per
	// collector) or redis (shared by replicas).
	State statestore.Config `mapstructure:"state"`

	_ struct{}
}

// ClassOverride is the threshold of the job classes it matches.
type ClassOverride struct {
	// Classes select job classes as the collector's filter package does
	// (and the job_queue receiver's alert overrides): each {strict: name}
	// or {regexp: pattern}, any match.
	Classes []filter.Config `mapstructure:"classes"`
	// Class is the shorthand of classes: [{regexp: class}]: a regular
	// expression (RE2, unanchored: use ^...$ for a whole name).
	Class string `mapstructure:"class"`
	// MaxRetries is required (0 alerts on the first retry).
	MaxRetries *int `mapstructure:"max_retries"`
	// Severity defaults to the processor's.
	Severity *alert.Severity `mapstructure:"severity"`

	_ struct{}
}

var _ confmap.Validator = (*Config)(nil)

// NewDefaultConfig returns the defaults: 3 retries within 24h, warn, state in
// memory.
func NewDefaultConfig() *Config {
	return &Config{
		MaxRetries: defaultMaxRetries,
		Window:     defaultWindow,
		Severity:   defaultSeverity,
		// Each doubling of the retries escalates.
		EscalationFactor: defaultEscalation,
		State:            statestore.NewDefaultConfig(),
	}
}

// Validate checks the processor's own keys; confmap.Validate also validates
// the embedded jobevent keys and the state section.
func (c *Config) Validate() error {
	var errs []error
	if err := validMaxRetries(c.MaxRetries); err != nil {
		errs = append(errs, fmt.Errorf("max_retries: %w", err))
	}
	if c.Window < minWindow {
		errs = append(errs, fmt.Errorf("window: must be at least %v, got %v", minWindow, c.Window))
	}
	if c.Severity.String() == "" {
		errs = append(errs, errors.New("severity: must be one of info, warn, error, fatal"))
	}
	if !(c.EscalationFactor >= 1) || math.IsInf(c.EscalationFactor, 0) {
		errs = append(errs, fmt.Errorf("escalation_factor: must be a number of at least 1 (1: never escalate), got %v", c.EscalationFactor))
	}
	for i, o := range c.ClassOverrides {
		for _, err := range o.problems() {
			errs = append(errs, fmt.Errorf("class_overrides[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func (o *ClassOverride) problems() []error {
	var errs []error
	// Each of classes is validated by confmap, through its own Validate.
	if o.Class == "" && len(o.Classes) == 0 {
		errs = append(errs, errors.New("class: must be set, or classes"))
	} else if err := (filter.Config{Regex: o.Class}).Validate(); o.Class != "" && err != nil {
		errs = append(errs, fmt.Errorf("class: invalid regular expression %q", o.Class))
	}
	if o.MaxRetries == nil {
		errs = append(errs, errors.New("max_retries: must be set"))
	} else if err := validMaxRetries(*o.MaxRetries); err != nil {
		errs = append(errs, fmt.Errorf("max_retries: %w", err))
	}
	if o.Severity != nil && o.Severity.String() == "" {
		errs = append(errs, errors.New("severity: must be one of info, warn, error, fatal"))
	}
	return errs
}

func validMaxRetries(n int) error {
	if n < 0 || n > maxRetriesLimit {
		return fmt.Errorf("must be between 0 and %d, got %d", maxRetriesLimit, n)
	}
	return nil
}

// rules compiles the overrides, once, followed by the default rule.
func (c *Config) rules() ([]retry.Rule, error) {
	rules := make([]retry.Rule, 0, len(c.ClassOverrides)+1)
	for i, o := range c.ClassOverrides {
		match := o.Classes
		if o.Class != "" {
			match = append([]filter.Config{{Regex: o.Class}}, match...)
		}
		errs := o.problems()
		for j, m := range o.Classes {
			if err := m.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("classes[%d]: %w", j, err))
			}
		}
		if len(errs) > 0 {
			return nil, fmt.Errorf("class_overrides[%d]: %w", i, errors.Join(errs...))
		}
		r := retry.Rule{Class: filter.CreateFilter(match), MaxRetries: int64(*o.MaxRetries), Severity: c.Severity}
		if o.Severity != nil {
			r.Severity = *o.Severity
		}
		rules = append(rules, r)
	}
	return append(rules, retry.Rule{MaxRetries: int64(c.MaxRetries), Severity: c.Severity}), nil
}
