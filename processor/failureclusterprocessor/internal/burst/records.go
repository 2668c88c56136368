// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// Attribute keys the two rules add to their alert records.
const (
	AttrFailures     = "alert.failures"      // failures in the window
	AttrExecutions   = "alert.executions"    // executions in the window
	AttrFailureRatio = "alert.failure_ratio" // failures / executions
	AttrErrorShare   = "alert.error_share"   // the dominant error type's share of the failures
	AttrFirstFailure = "alert.first_failure" // RFC 3339, the window's start at the earliest
	AttrLastFailure  = "alert.last_failure"  // RFC 3339
	AttrWindow       = "alert.window"        // e.g. 1h, 5m
	AttrLevel        = "alert.level"         // 1 when it fires, +1 per escalation
	AttrClasses      = "alert.classes"       // classes failing with the fingerprint
	AttrClassNames   = "alert.class_names"   // the most recent of them, comma separated
	AttrFingerprint  = "alert.fingerprint"   // the error with its volatile parts removed
	AttrErrorMessage = "alert.error_message" // one original message
)

// maxClassNames is how many classes a dependency_failure record names.
const maxClassNames = 10

// classFacts is what a class record says.
type classFacts struct {
	state                alert.State
	level                int64
	failures, executions int64
	types                []statestore.Entry // error types counted in this epoch and the one before
	firstMs, lastMs      int64              // 0: unknown
	at                   time.Time
	queue                string
	traces               []pcommon.TraceID
}

// classRecord builds a failure_cluster record for the class member.
func (d *Detector) classRecord(st *classState, f classFacts) alert.Alert {
	subject := "job class " + st.class
	if st.class == "" {
		subject = "queue " + st.queue
	}
	dominant, share := dominantType(f.types)
	window := shortDuration(d.cfg.Window)
	a := alert.Alert{
		Name: alert.FailureCluster, State: f.state, Severity: d.cfg.Severity, ID: st.id,
		Time: f.at, Threshold: float64(d.cfg.MinFailures), Value: float64(f.failures),
		System: st.system, Queue: f.queue, Class: st.class, ErrorType: dominant,
		TraceIDs: f.traces,
		Attributes: []alert.Attribute{
			alert.Int(AttrFailures, f.failures),
			alert.Int(AttrExecutions, f.executions),
			alert.Float(AttrFailureRatio, statestore.Ratio(f.failures, f.executions)),
			alert.String(AttrWindow, window),
			alert.Int(AttrLevel, f.level),
		},
	}
	if dominant != "" {
		a.Attributes = append(a.Attributes, alert.Float(AttrErrorShare, share))
	}
	if f.firstMs > 0 {
		a.Attributes = append(a.Attributes, alert.String(AttrFirstFailure, rfc3339(f.firstMs)))
	}
	if f.lastMs > 0 {
		a.Attributes = append(a.Attributes, alert.String(AttrLastFailure, rfc3339(f.lastMs)))
	}
	var sb strings.Builder
	switch {
	case f.state == alert.StateResolved:
		fmt.Fprintf(&sb, "%s recovered: %d failures in the last %s (resolves below %g)", subject, f.failures, window, float64(d.cfg.MinFailures)/2)
	case f.level > 1:
		fmt.Fprintf(&sb, "%s failing more: %d failures in the last %s (level %d, threshold %d)", subject, f.failures, window, f.level, d.cfg.MinFailures)
	default:
		fmt.Fprintf(&sb, "%s failing: %d failures in the last %s (threshold %d)", subject, f.failures, window, d.cfg.MinFailures)
	}
	if d.cfg.MinFailureRatio > 0 {
		fmt.Fprintf(&sb, ", %.0f%% of %d executions", 100*statestore.Ratio(f.failures, f.executions), f.executions)
	}
	if dominant != "" && f.state == alert.StateFiring {
		fmt.Fprintf(&sb, "; %.0f%% %s", 100*share, dominant)
	}
	a.Summary = sb.String()
	return a
}

// fingerprintFacts is what a dependency record says.
type fingerprintFacts struct {
	state   alert.State
	level   int64
	classes int64
	names   []statestore.Entry // members of the fingerprint's class set
	at      time.Time
	traces  []pcommon.TraceID
}

// fingerprintRecord builds a dependency_failure record for a fingerprint.
func (d *Detector) fingerprintRecord(st *fingerprintState, f fingerprintFacts) alert.Alert {
	window := shortDuration(d.cfg.DependencyWindow)
	a := alert.Alert{
		Name: alert.DependencyFailure, State: f.state, Severity: d.cfg.DependencySeverity, ID: st.id,
		Time: f.at, Threshold: float64(d.cfg.MinClasses), Value: float64(f.classes),
		ErrorType: st.errType(), TraceIDs: f.traces,
		Attributes: []alert.Attribute{
			alert.Int(AttrClasses, f.classes),
			alert.String(AttrFingerprint, st.print),
			alert.String(AttrWindow, window),
			alert.Int(AttrLevel, f.level),
		},
	}
	if st.sample != "" {
		a.Attributes = append(a.Attributes, alert.String(AttrErrorMessage, st.sample))
	}
	names := classNames(f.names)
	if names != "" {
		a.Attributes = append(a.Attributes, alert.String(AttrClassNames, names))
	}
	switch {
	case f.state == alert.StateResolved:
		a.Summary = fmt.Sprintf("%s recovered: failing in %d job classes within %s", st.print, f.classes, window)
	case f.level > 1:
		a.Summary = fmt.Sprintf("%s failing more job classes: %d within %s (level %d): %s", st.print, f.classes, window, f.level, names)
	default:
		a.Summary = fmt.Sprintf("%s failing in %d job classes within %s: %s", st.print, f.classes, window, names)
	}
	return a
}

// dominantType is the error type with the highest count over the top-K
// sets of two epochs (their entries one after the other), and its share of
// all counted (ties: the smaller name).
func dominantType(types []statestore.Entry) (string, float64) {
	var total int64
	merged := make([]statestore.Entry, 0, len(types))
next:
	for _, e := range types {
		total += e.Score
		for k := range merged {
			if merged[k].Member == e.Member {
				merged[k].Score += e.Score
				continue next
			}
		}
		merged = append(merged, e)
	}
	if total <= 0 {
		return "", 0
	}
	best := merged[0]
	for _, e := range merged[1:] {
		if e.Score > best.Score || (e.Score == best.Score && e.Member < best.Member) {
			best = e
		}
	}
	return best.Member, float64(best.Score) / float64(total)
}

// classNames lists the classes of a fingerprint's set, most recent first.
func classNames(members []statestore.Entry) string {
	var sb strings.Builder
	for i, m := range members {
		if i == maxClassNames {
			fmt.Fprintf(&sb, ", and %d more", len(members)-i)
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		_, class, classlessQueue := splitMember(m.Member)
		if class == "" {
			class = "queue " + classlessQueue
		}
		sb.WriteString(class)
	}
	return sb.String()
}

// shortDuration writes 1h, 5m, 90s or 1h30m rather than 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func rfc3339(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// noTime is below any failure time kept negated in a Max (Max of -first):
// reading with it never raises the value.
const noTime = -(1 << 53)

// firstFailure reads the Max of -first failure time: unknown (0) when never
// written, else no earlier than the window's start.
func (d *Detector) firstFailure(negated, nowMs int64) int64 {
	if negated <= noTime || negated >= 0 {
		return 0
	}
	return max(-negated, nowMs-d.cfg.Window.Milliseconds())
}

// classAlert is the record of a class's claim. Called with d.mu held.
func (b *Batch) classAlert(c *batchClass, state alert.State) alert.Alert {
	at := c.lastEventMs
	if state == alert.StateFiring && c.lastFailure >= 0 {
		at = c.lastMs
	}
	f := classFacts{
		state: state, level: c.level, failures: c.windowFailures, executions: c.windowExecutions,
		types: b.ops.Entries(c.claimRef),
		at:    time.UnixMilli(at), queue: c.state.queue, traces: c.state.traces.list(),
	}
	if c.firstRef >= 0 {
		f.firstMs, f.lastMs = b.d.firstFailure(b.ops.Value(c.firstRef), b.nowMs), b.ops.Value(c.lastRef)
	}
	return b.d.classRecord(c.state, f)
}

// fingerprintAlert is the record of a fingerprint's claim. Called with d.mu held.
func (b *Batch) fingerprintAlert(p *batchFingerprint, state alert.State) alert.Alert {
	f := fingerprintFacts{
		state: state, level: p.level, classes: p.classCount,
		at: time.UnixMilli(p.lastMs), traces: p.state.traces.list(),
	}
	if state == alert.StateFiring {
		f.names = liveMembers(b.ops.Entries(p.claimRef), b.nowMs-b.d.cfg.DependencyWindow.Milliseconds())
	}
	return b.d.fingerprintRecord(p.state, f)
}

// liveMembers are the members of a distinct set seen after cutoffMs (their
// score is when they were last seen).
func liveMembers(members []statestore.Entry, cutoffMs int64) []statestore.Entry {
	n := 0
	for _, m := range members {
		if m.Score > cutoffMs {
			members[n] = m
			n++
		}
	}
	return members[:n]
}
