// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// latency is a queue_latency_high rule: warn past 300s, error past 900s,
// resolved at 270s or less.
var latency = Levels{Steps: []Step{{300, SeverityWarn}, {900, SeverityError}}, Resolve: 270}

// obs is one observation and the transition it must give.
type obs struct {
	at      time.Duration // since t0
	value   float64
	missing bool
	want    Transition // Since is relative: t0 + wantSince
	since   time.Duration
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func fired(c Change, sev Severity, threshold, value float64) Transition {
	return Transition{Change: c, Severity: sev, Threshold: threshold, Value: value}
}

func TestTrackerSequences(t *testing.T) {
	stalled := Levels{Steps: []Step{{0, SeverityError}}, Resolve: 0}
	tests := []struct {
		name     string
		coolDown time.Duration
		levels   Levels
		seq      []obs
	}{
		{"fires once, repeats after the cool-down", 10 * time.Minute, latency, []obs{
			{at: 0, value: 100},
			{at: 30 * time.Second, value: 350, want: fired(Fired, SeverityWarn, 300, 350), since: 30 * time.Second},
			{at: time.Minute, value: 400},
			{at: 5 * time.Minute, value: 500},
			{at: 10*time.Minute + 29*time.Second, value: 450},
			{at: 10*time.Minute + 30*time.Second, value: 450, want: fired(Repeated, SeverityWarn, 300, 450), since: 30 * time.Second},
			{at: 11 * time.Minute, value: 400},
		}},
		{"escalates at once, and again only after a lower record", 10 * time.Minute, latency, []obs{
			{at: 0, value: 400, want: fired(Fired, SeverityWarn, 300, 400)},
			{at: 30 * time.Second, value: 1000, want: fired(Escalated, SeverityError, 900, 1000)},
			{at: time.Minute, value: 1200},
			{at: 90 * time.Second, value: 400},
			{at: 10*time.Minute + 30*time.Second, value: 400, want: fired(Repeated, SeverityWarn, 300, 400)},
			{at: 11 * time.Minute, value: 1000, want: fired(Escalated, SeverityError, 900, 1000)},
		}},
		{"resolves once, only at the resolve threshold", 10 * time.Minute, latency, []obs{
			{at: 0, value: 350, want: fired(Fired, SeverityWarn, 300, 350)},
			{at: 30 * time.Second, value: 290},
			{at: time.Minute, value: 280},
			{at: 90 * time.Second, value: 270, want: fired(Resolved, SeverityWarn, 270, 270)},
			{at: 2 * time.Minute, value: 100},
			{at: 150 * time.Second, value: 290},
			{at: 3 * time.Minute, value: 310, want: fired(Fired, SeverityWarn, 300, 310), since: 3 * time.Minute},
		}},
		{"a resolved record keeps the last severity", 10 * time.Minute, latency, []obs{
			{at: 0, value: 1000, want: fired(Fired, SeverityError, 900, 1000)},
			{at: time.Minute, value: 0, want: fired(Resolved, SeverityError, 270, 0)},
		}},
		{"a missing observation neither fires nor resolves", time.Minute, latency, []obs{
			{at: 0, missing: true},
			{at: 30 * time.Second, value: math.NaN()},
			{at: time.Minute, value: 350, want: fired(Fired, SeverityWarn, 300, 350), since: time.Minute},
			{at: 3 * time.Minute, missing: true},
			{at: 4 * time.Minute, value: 0, missing: true},
			{at: 5 * time.Minute, value: math.NaN()},
			{at: 6 * time.Minute, value: 0, want: fired(Resolved, SeverityWarn, 270, 0), since: time.Minute},
		}},
		{"a repeat between the thresholds is at the first step", 10 * time.Minute, latency, []obs{
			{at: 0, value: 350, want: fired(Fired, SeverityWarn, 300, 350)},
			{at: 10 * time.Minute, value: 290, want: fired(Repeated, SeverityWarn, 300, 290)},
		}},
		{"no cool-down never repeats", 0, latency, []obs{
			{at: 0, value: 350, want: fired(Fired, SeverityWarn, 300, 350)},
			{at: 24 * time.Hour, value: 350},
		}},
		{"any stalled job fires", time.Hour, stalled, []obs{
			{at: 0, value: 0},
			{at: time.Minute, value: 1, want: fired(Fired, SeverityError, 0, 1), since: time.Minute},
			{at: 2 * time.Minute, value: 3},
			{at: 3 * time.Minute, value: 0, want: fired(Resolved, SeverityError, 0, 0), since: time.Minute},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.levels.Validate())
			tr := NewTracker[string](TrackerConfig{CoolDown: tt.coolDown, ForgetAfter: time.Hour, MaxKeys: 10})
			for i, o := range tt.seq {
				want := o.want
				if want.Change != NoChange {
					want.Since = t0.Add(o.since)
				}
				got := tr.Observe("critical", t0.Add(o.at), o.value, !o.missing, tt.levels)
				assert.Equal(t, want, got, "observation %d at %v", i, o.at)
				assert.Equal(t, want.Change.State(), got.Change.State())
			}
		})
	}
}

func TestTrackerKeysAreIndependent(t *testing.T) {
	tr := NewTracker[string](TrackerConfig{ForgetAfter: time.Hour, MaxKeys: 10})
	assert.Equal(t, Fired, tr.Observe("a", t0, 400, true, latency).Change)
	assert.Equal(t, Fired, tr.Observe("b", t0, 400, true, latency).Change)
	assert.Equal(t, Resolved, tr.Observe("a", t0, 0, true, latency).Change)
	assert.Equal(t, NoChange, tr.Observe("b", t0, 400, true, latency).Change)
}

// TestTrackerSweep: keys not observed for ForgetAfter are forgotten; a firing
// one comes back resolved. A scrape that failed calls no Sweep, so an outage
// longer than ForgetAfter resolves nothing.
func TestTrackerSweep(t *testing.T) {
	tr := NewTracker[string](TrackerConfig{ForgetAfter: 10 * time.Minute, MaxKeys: 10})
	tr.Observe("gone", t0, 400, true, latency)
	tr.Observe("quiet", t0, 100, true, latency)
	tr.Observe("stays", t0, 400, true, latency)

	assert.Empty(t, tr.Sweep(t0.Add(10*time.Minute-time.Nanosecond)))
	assert.Equal(t, 3, tr.Len())

	// Twenty minutes of failed scrapes, then a successful one that sees
	// only "stays": it is still firing, nothing fires again.
	now := t0.Add(20 * time.Minute)
	assert.Equal(t, NoChange, tr.Observe("stays", now, 400, true, latency).Change)
	forgotten := tr.Sweep(now)
	assert.Equal(t, []Forgotten[string]{{Key: "gone", Transition: Transition{
		Change: Resolved, Severity: SeverityWarn, Threshold: 270, Value: 400, Since: t0,
	}}}, forgotten)
	assert.Equal(t, 1, tr.Len())
}

func TestTrackerMaxKeys(t *testing.T) {
	tr := NewTracker[string](TrackerConfig{ForgetAfter: time.Minute, MaxKeys: 2})
	tr.Observe("a", t0, 400, true, latency)
	tr.Observe("b", t0.Add(time.Minute), 400, true, latency)
	assert.Equal(t, NoChange, tr.Observe("c", t0.Add(time.Minute), 400, true, latency).Change)
	assert.Equal(t, 1, tr.Dropped())
	assert.Equal(t, 2, tr.Len())

	assert.Len(t, tr.Sweep(t0.Add(time.Minute)), 1, "a is forgotten (and resolved)")
	assert.Equal(t, Fired, tr.Observe("c", t0.Add(time.Minute), 400, true, latency).Change)
	assert.Equal(t, 2, tr.Len())
}

func TestLevelsValidate(t *testing.T) {
	tests := []struct {
		name   string
		levels Levels
		want   string
	}{
		{"ok", latency, ""},
		{"empty", Levels{}, "at least one threshold"},
		{"no severity", Levels{Steps: []Step{{1, 0}}}, "invalid severity"},
		{"not increasing", Levels{Steps: []Step{{10, SeverityWarn}, {5, SeverityError}}}, "must be above 10 (WARN)"},
		{"same severity", Levels{Steps: []Step{{10, SeverityWarn}, {20, SeverityWarn}}}, "must be above"},
		{"resolve above", Levels{Steps: []Step{{10, SeverityWarn}}, Resolve: 11}, "resolve threshold 11 must be at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.levels.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
	tr := NewTracker[int](TrackerConfig{MaxKeys: 1})
	assert.Equal(t, NoChange, tr.Observe(1, t0, 1e9, true, Levels{}).Change, "unusable levels decide nothing")
}
