// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert // import "github.com/otelcol-jobs/otelcol-jobs/internal/alert"

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Step is one severity level of a threshold rule: a value above Above is at
// least Severity.
type Step struct {
	Above    float64
	Severity Severity
}

// Levels are a threshold rule's limits for one key (a queue, a process):
// the steps it fires and escalates at, and the value it resolves at.
type Levels struct {
	// Steps by increasing Above and increasing Severity. A value above
	// Steps[0].Above fires.
	Steps []Step
	// Resolve is the hysteresis: a firing key resolves once its value is at
	// or below Resolve, which is at most Steps[0].Above.
	Resolve float64
}

// Validate reports levels a Tracker cannot use.
func (l Levels) Validate() error {
	if len(l.Steps) == 0 {
		return errors.New("at least one threshold is needed")
	}
	for i, s := range l.Steps {
		if s.Severity.String() == "" {
			return fmt.Errorf("threshold %v: invalid severity", s.Above)
		}
		if i > 0 && (s.Above <= l.Steps[i-1].Above || s.Severity <= l.Steps[i-1].Severity) {
			return fmt.Errorf("threshold %v (%v) must be above %v (%v) in value and severity",
				s.Above, s.Severity, l.Steps[i-1].Above, l.Steps[i-1].Severity)
		}
	}
	if l.Resolve > l.Steps[0].Above {
		return fmt.Errorf("resolve threshold %v must be at most the firing threshold %v", l.Resolve, l.Steps[0].Above)
	}
	return nil
}

// step is the highest step value is above; false when below them all.
func (l Levels) step(value float64) (Step, bool) {
	for i := len(l.Steps) - 1; i >= 0; i-- {
		if value > l.Steps[i].Above {
			return l.Steps[i], true
		}
	}
	return Step{}, false
}

// Change says what record, if any, an observation calls for.
type Change uint8

const (
	// NoChange: emit nothing.
	NoChange Change = iota
	// Fired: the key crossed its first threshold.
	Fired
	// Repeated: the key is still firing a cool-down after the last record.
	Repeated
	// Escalated: the key crossed a step of higher severity than its last
	// record's.
	Escalated
	// Resolved: the key dropped to its resolve threshold, or was forgotten
	// while firing (the queue or process is gone).
	Resolved
)

var changeNames = [...]string{"none", "fired", "repeated", "escalated", "resolved"}

func (c Change) String() string { return changeNames[c] }

// State is the state of the record to emit.
func (c Change) State() State {
	if c == Resolved {
		return StateResolved
	}
	return StateFiring
}

// Transition is the outcome of one observation.
type Transition struct {
	Change Change
	// Severity of the record: the step's for firing records; the last
	// record's for Resolved.
	Severity Severity
	// Threshold crossed: the step's Above when firing, Levels.Resolve when
	// resolved.
	Threshold float64
	// Value observed (for a forgotten key, the last one observed).
	Value float64
	// Since is when this firing episode started.
	Since time.Time
}

// TrackerConfig bounds a Tracker.
type TrackerConfig struct {
	// CoolDown is the least time between two records of a key that stays
	// firing at the same severity; 0 never repeats.
	CoolDown time.Duration
	// ForgetAfter is how long a key stays tracked without an observation.
	ForgetAfter time.Duration
	// MaxKeys bounds the keys tracked; observations of new keys beyond it are
	// dropped (and counted) until Sweep makes room.
	MaxKeys int
}

// Tracker is the state machine of threshold alerts, one state per key (e.g.
// rule + queue). It is not safe for concurrent use: a scraper owns it.
type Tracker[K comparable] struct {
	cfg     TrackerConfig
	keys    map[K]tracked
	dropped int
}

type tracked struct {
	firing   bool
	severity Severity // of the last record
	since    time.Time
	lastEmit time.Time
	lastSeen time.Time
	value    float64 // last observed
	resolve  float64 // last resolve threshold
}

// NewTracker returns an empty tracker.
func NewTracker[K comparable](cfg TrackerConfig) *Tracker[K] {
	return &Tracker[K]{cfg: cfg, keys: map[K]tracked{}}
}

// Observe feeds the key's value at now and says what to emit. ok false (or
// a NaN value) means the value could not be read: nothing fires or resolves,
// the key only stays known.
func (t *Tracker[K]) Observe(key K, now time.Time, value float64, ok bool, levels Levels) Transition {
	st, known := t.keys[key]
	if !known && len(t.keys) >= t.cfg.MaxKeys {
		t.dropped++
		return Transition{}
	}
	st.lastSeen = now
	ok = ok && !math.IsNaN(value) && len(levels.Steps) > 0
	if ok {
		st.value, st.resolve = value, levels.Resolve
	}
	var tr Transition
	if ok {
		tr = t.decide(&st, now, value, levels)
	}
	t.keys[key] = st
	return tr
}

func (t *Tracker[K]) decide(st *tracked, now time.Time, value float64, levels Levels) Transition {
	step, above := levels.step(value)
	if !st.firing {
		if !above {
			return Transition{}
		}
		st.firing, st.since = true, now
		return st.emit(Fired, step, now, value)
	}
	switch {
	case value <= levels.Resolve:
		st.firing = false
		return Transition{Change: Resolved, Severity: st.severity, Threshold: levels.Resolve, Value: value, Since: st.since}
	case above && step.Severity > st.severity:
		return st.emit(Escalated, step, now, value)
	case t.cfg.CoolDown > 0 && now.Sub(st.lastEmit) >= t.cfg.CoolDown:
		if !above { // between the resolve and the firing threshold
			step = levels.Steps[0]
		}
		return st.emit(Repeated, step, now, value)
	}
	return Transition{}
}

func (st *tracked) emit(c Change, step Step, now time.Time, value float64) Transition {
	st.severity, st.lastEmit = step.Severity, now
	return Transition{Change: c, Severity: step.Severity, Threshold: step.Above, Value: value, Since: st.since}
}

// Forgotten is a key Sweep dropped while it was firing, and its Resolved
// transition.
type Forgotten[K comparable] struct {
	Key        K
	Transition Transition
}

// Sweep forgets the keys not observed for ForgetAfter and returns those that
// were firing, to be resolved. Call it after a successful scrape, once every
// key it saw was observed: a failing scrape then forgets, and so resolves,
// nothing.
func (t *Tracker[K]) Sweep(now time.Time) []Forgotten[K] {
	var out []Forgotten[K]
	for k, st := range t.keys {
		if now.Sub(st.lastSeen) < t.cfg.ForgetAfter {
			continue
		}
		if st.firing {
			out = append(out, Forgotten[K]{Key: k, Transition: Transition{
				Change: Resolved, Severity: st.severity, Threshold: st.resolve, Value: st.value, Since: st.since,
			}})
		}
		delete(t.keys, k)
	}
	return out
}

// Len is the number of keys tracked.
func (t *Tracker[K]) Len() int { return len(t.keys) }

// Dropped counts observations of new keys refused because MaxKeys was reached.
func (t *Tracker[K]) Dropped() int { return t.dropped }
