// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package queuealert // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/queuealert"

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/filter"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

// Config is the receiver's `alerts` section: one entry per rule, and the
// cool-down shared by all of them.
type Config struct {
	// CoolDown is the least time between two records of an alert that stays
	// firing at the same severity; 0 never repeats.
	CoolDown time.Duration `mapstructure:"cool_down"`

	QueueLatencyHigh        QueueRule[time.Duration] `mapstructure:"queue_latency_high"`
	QueueSizeLarge          QueueRule[int64]         `mapstructure:"queue_size_large"`
	StalledJobs             QueueRule[int64]         `mapstructure:"stalled_jobs"`
	DeadJobsGrowing         DeadJobsRule             `mapstructure:"dead_jobs_growing"`
	ProcessMemoryHigh       Rule[Bytes]              `mapstructure:"process_memory_high"`
	ProcessHeartbeatMissing HeartbeatRule            `mapstructure:"process_heartbeat_missing"`

	_ struct{}
}

// Defaults, as documented in the receiver's README.
const (
	defaultCoolDown   = time.Hour
	defaultLatency    = 5 * time.Minute
	defaultSize       = 1000
	defaultMemory     = 500 * MiB
	defaultHeartbeat  = 30 * time.Second
	defaultDeadGrowth = 10
	defaultDeadWindow = time.Hour
)

// NewDefaultConfig returns every rule enabled with the thresholds.
func NewDefaultConfig() Config {
	return Config{
		CoolDown:          defaultCoolDown,
		QueueLatencyHigh:  QueueRule[time.Duration]{Rule: newRule[time.Duration](defaultLatency, alert.SeverityWarn)},
		QueueSizeLarge:    QueueRule[int64]{Rule: newRule[int64](defaultSize, alert.SeverityWarn)},
		StalledJobs:       QueueRule[int64]{Rule: newRule[int64](0, alert.SeverityWarn)},
		DeadJobsGrowing:   DeadJobsRule{QueueRule: QueueRule[int64]{Rule: newRule[int64](defaultDeadGrowth, alert.SeverityWarn)}, Window: defaultDeadWindow},
		ProcessMemoryHigh: newRule(defaultMemory, alert.SeverityWarn),
		ProcessHeartbeatMissing: HeartbeatRule{
			Rule:  newRule[time.Duration](defaultHeartbeat, alert.SeverityError),
			Stale: true,
		},
	}
}

func newRule[T threshold](above T, severity alert.Severity) Rule[T] {
	return Rule[T]{Enabled: true, Levels: Levels[T]{Threshold: above, Severity: severity}}
}

// threshold is the type of a rule's limit: a duration (compared in seconds),
// a count or a number of bytes.
type threshold interface {
	~int64
}

// Levels are the limits of a rule: it fires when the observed value is above
// Threshold, escalates past each Escalate step, and resolves once the value
// is at or below Resolve (hysteresis; by default 90% of Threshold).
type Levels[T threshold] struct {
	Threshold T              `mapstructure:"threshold"`
	Severity  alert.Severity `mapstructure:"severity"`
	Escalate  []Step[T]      `mapstructure:"escalate"`
	Resolve   *T             `mapstructure:"resolve"`

	_ struct{}
}

// Step is a higher severity reached past a higher threshold.
type Step[T threshold] struct {
	Threshold T              `mapstructure:"threshold"`
	Severity  alert.Severity `mapstructure:"severity"`

	_ struct{}
}

// validate reports levels the alert state machine cannot use.
func (l *Levels[T]) validate() error {
	if l.Threshold < 0 {
		return fmt.Errorf("threshold: must not be negative, got %s", format(l.Threshold))
	}
	if l.Resolve != nil && *l.Resolve < 0 {
		return fmt.Errorf("resolve: must not be negative, got %s", format(*l.Resolve))
	}
	return l.levels().Validate()
}

// levels converts the configuration into the tracker's levels.
func (l *Levels[T]) levels() alert.Levels {
	steps := make([]alert.Step, 0, 1+len(l.Escalate))
	steps = append(steps, alert.Step{Above: value(l.Threshold), Severity: l.Severity})
	for _, s := range l.Escalate {
		steps = append(steps, alert.Step{Above: value(s.Threshold), Severity: s.Severity})
	}
	// 90% in T, so that a count resolves at a whole number (90% of 2 is
	// 1), computed without overflowing.
	resolve := l.Threshold/10*9 + l.Threshold%10*9/10
	if l.Resolve != nil {
		resolve = *l.Resolve
	}
	return alert.Levels{Steps: steps, Resolve: value(resolve)}
}

// Rule is a rule that can be disabled.
type Rule[T threshold] struct {
	Enabled   bool `mapstructure:"enabled"`
	Levels[T] `mapstructure:",squash"`
}

// QueueRule is a rule evaluated per queue, whose levels can be overridden
// for queues matched by name or regular expression. The first matching
// override wins.
type QueueRule[T threshold] struct {
	Rule[T]   `mapstructure:",squash"`
	Overrides []Override[T] `mapstructure:"overrides"`
}

// Override replaces a queue rule's levels for the queues it matches. An
// omitted threshold or severity is the rule's; escalation steps and the
// resolve level are not inherited.
type Override[T threshold] struct {
	// Queues match queue names: `strict` for a name, `regexp` for a pattern.
	Queues []filter.Config `mapstructure:"queues"`
	// Enabled false silences the rule for these queues.
	Enabled   *bool          `mapstructure:"enabled"`
	Threshold *T             `mapstructure:"threshold"`
	Severity  alert.Severity `mapstructure:"severity"`
	Escalate  []Step[T]      `mapstructure:"escalate"`
	Resolve   *T             `mapstructure:"resolve"`

	_ struct{}
}

// apply returns the override's levels over the rule's.
func (o *Override[T]) apply(rule Levels[T]) Levels[T] {
	l := Levels[T]{Threshold: rule.Threshold, Severity: rule.Severity, Escalate: o.Escalate, Resolve: o.Resolve}
	if o.Threshold != nil {
		l.Threshold = *o.Threshold
	}
	if o.Severity != 0 {
		l.Severity = o.Severity
	}
	return l
}

// validate checks the rule's levels and every override's as they apply.
// (The queue matchers validate themselves.)
func (r *QueueRule[T]) validate() error {
	errs := []error{r.Levels.validate()}
	for i := range r.Overrides {
		o := &r.Overrides[i]
		if len(o.Queues) == 0 {
			errs = append(errs, fmt.Errorf("overrides::%d::queues: at least one {strict: name} or {regexp: pattern} is needed", i))
		}
		l := o.apply(r.Levels)
		if err := l.validate(); err != nil {
			errs = append(errs, fmt.Errorf("overrides::%d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// DeadJobsRule fires when the dead set grew by more than Threshold jobs
// within Window.
type DeadJobsRule struct {
	QueueRule[int64] `mapstructure:",squash"`
	Window           time.Duration `mapstructure:"window"`
}

func (r *DeadJobsRule) validate() error {
	err := r.QueueRule.validate()
	if r.Window <= 0 {
		err = errors.Join(err, fmt.Errorf("window: must be positive, got %s", r.Window))
	}
	return err
}

// HeartbeatRule fires for a live process that has not checked in for longer
// than Threshold and, with Stale, while the process registry lists
// processes whose heartbeat entry expired (they died without deregistering).
type HeartbeatRule struct {
	Rule[time.Duration] `mapstructure:",squash"`
	Stale               bool `mapstructure:"stale"`
}

// Validate reports every invalid setting, each prefixed with its key. The
// queue matchers (filter.Config) are validated by confmap through their own
// Validate.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.CoolDown < 0 {
		errs = append(errs, fmt.Errorf("cool_down: must not be negative, got %s", cfg.CoolDown))
	}
	for _, r := range []struct {
		name alert.Name
		err  error
	}{
		{alert.QueueLatencyHigh, cfg.QueueLatencyHigh.validate()},
		{alert.QueueSizeLarge, cfg.QueueSizeLarge.validate()},
		{alert.StalledJobs, cfg.StalledJobs.validate()},
		{alert.DeadJobsGrowing, cfg.DeadJobsGrowing.validate()},
		{alert.ProcessMemoryHigh, cfg.ProcessMemoryHigh.Levels.validate()},
		{alert.ProcessHeartbeatMissing, cfg.ProcessHeartbeatMissing.Levels.validate()},
	} {
		if r.err != nil {
			errs = append(errs, prefix(string(r.name), r.err))
		}
	}
	return errors.Join(errs...)
}

// prefix puts key before each of err's joined errors.
func prefix(key string, err error) error {
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		return fmt.Errorf("%s: %w", key, err)
	}
	errs := joined.Unwrap()
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = prefix(key, e)
	}
	return errors.Join(out...)
}

// Bytes is an amount of memory: a plain number of bytes, or a number with a
// unit (KB, MB, GB: powers of 1000; KiB, MiB, GiB: powers of 1024).
type Bytes int64

// Byte units.
const (
	KiB Bytes = 1 << 10
	MiB Bytes = 1 << 20
	GiB Bytes = 1 << 30
)

var byteUnits = []struct {
	suffix string
	size   Bytes
}{
	// Longest suffixes first, so that "MiB" is not read as "B".
	{"KiB", KiB}, {"MiB", MiB}, {"GiB", GiB},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// UnmarshalText reads "524288000", "500MiB" or "500 MB".
func (b *Bytes) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	unit := Bytes(1)
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = strings.TrimSpace(rest), u.size
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n*float64(unit) > math.MaxInt64 {
		return fmt.Errorf("invalid size %q: use bytes or a number with KB, MB, GB, KiB, MiB or GiB", text)
	}
	*b = Bytes(n * float64(unit))
	return nil
}

// String writes whole MiB as "500MiB", anything else in bytes.
func (b Bytes) String() string {
	if b != 0 && b%MiB == 0 {
		return strconv.FormatInt(int64(b/MiB), 10) + "MiB"
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

// value is a threshold as the tracker compares it: durations in seconds
// (the unit of the latency and age metrics), other amounts as they are.
func value[T threshold](v T) float64 {
	if d, ok := any(v).(time.Duration); ok {
		return d.Seconds()
	}
	return float64(v)
}

// format writes a threshold for error messages.
func format[T threshold](v T) string {
	switch x := any(v).(type) {
	case time.Duration:
		return x.String()
	case Bytes:
		return x.String()
	}
	return strconv.FormatInt(int64(v), 10)
}
