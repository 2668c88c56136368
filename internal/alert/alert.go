// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package alert builds the project's alert records and decides when a
// threshold rule fires, repeats, escalates and resolves.
//
// An [Alert] becomes a log record (EventName "jobqueue.alert", severity,
// one-line body, alert.* attributes and job context) with
// [Alert.FillLogRecord], or a span event of the same name and attributes on
// the span that triggered it with [Alert.AddSpanEvent]:
//
//	a := alert.Alert{
//		Name:      alert.QueueLatencyHigh,
//		ID:        alert.NewID(alert.QueueLatencyHigh, "sidekiq", "critical"),
//		Severity:  alert.SeverityError,
//		Summary:   "queue critical latency 412s > 300s",
//		Time:      snapshot.Time,
//		Threshold: 300, Value: 412,
//		System:    "sidekiq", Queue: "critical",
//	}
//	a.FillLogRecord(logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().AppendEmpty())
//
// A [Tracker] is the local state machine of threshold rules (the job_queue
// receiver's): per key, fire once, repeat after a cool-down or on escalation
// to a higher severity, resolve once with hysteresis, never decide on a
// missing observation. Detectors shared across replicas keep that state, and
// the escalation levels, in internal/statestore instead (statestore.Rule).
//
// Nothing here knows Redis or job systems.
package alert // import "github.com/otelcol-jobs/otelcol-jobs/internal/alert"

import (
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/idhash"
	"github.com/otelcol-jobs/otelcol-jobs/internal/textcut"
)

// Name is an alert rule's name; each has a runbook in docs/runbooks/<name>.md.
type Name string

// The alerts the project emits. Names lists them all.
const (
	QueueLatencyHigh        Name = "queue_latency_high"
	QueueSizeLarge          Name = "queue_size_large"
	StalledJobs             Name = "stalled_jobs"
	ProcessMemoryHigh       Name = "process_memory_high"
	ProcessHeartbeatMissing Name = "process_heartbeat_missing"
	DeadJobsGrowing         Name = "dead_jobs_growing"
	ExcessiveRetries        Name = "excessive_retries"
	FailureCluster          Name = "failure_cluster"
	DependencyFailure       Name = "dependency_failure"
	// JobCycle is raised by the job_graph connector: job classes that
	// enqueue each other in a loop.
	JobCycle Name = "job_cycle"
	// ProcessCPUHigh is raised by Prometheus only, over the host_metrics
	// receiver's process series (deploy/prometheus/jobqueue-rules.yaml).
	ProcessCPUHigh Name = "process_cpu_high"
)

// Names returns every alert name the project emits.
func Names() []Name {
	return []Name{
		QueueLatencyHigh, QueueSizeLarge, StalledJobs, ProcessMemoryHigh, ProcessHeartbeatMissing,
		DeadJobsGrowing, ExcessiveRetries, FailureCluster, DependencyFailure, ProcessCPUHigh, JobCycle,
	}
}

// State is whether a record announces or ends an alert.
type State uint8

const (
	StateFiring State = iota
	StateResolved
)

func (s State) String() string {
	if s == StateResolved {
		return "resolved"
	}
	return "firing"
}

// EventName names alert log records and span events.
const EventName = "jobqueue.alert"

// Attribute keys of alert records. AttrSeverity and AttrSummary are only on
// span events: a log record carries them as its severity and body.
const (
	AttrName            = "alert.name"
	AttrState           = "alert.state"
	AttrID              = "alert.id"
	AttrThreshold       = "alert.threshold"
	AttrValue           = "alert.value"
	AttrExampleTraceIDs = "alert.example_trace_ids"
	AttrSeverity        = "alert.severity"
	AttrSummary         = "alert.summary"
)

// Context attribute keys: the names job instrumentations put on spans, so an
// alert joins the metrics and traces of the same queue, class or job.
const (
	attrSystem    = "messaging.system"
	attrQueue     = "messaging.destination.name"
	attrClass     = "jobqueue.job.class"
	attrJobID     = "messaging.message.id"
	attrErrorType = "error.type"
)

// MaxExampleTraceIDs is how many example trace ids a record carries.
const MaxExampleTraceIDs = 5

// maxValueLen bounds every string an alert record carries, so a hostile
// 10 MB error message cannot make a 10 MB alert.
const maxValueLen = 1024

// Alert is one alert record, firing or resolved.
type Alert struct {
	Name     Name
	State    State
	Severity Severity
	// ID is the stable fingerprint a backend dedups on: NewID(Name, the
	// labels that identify the alerting thing).
	ID string
	// Summary is the one-line human description, e.g.
	// "queue critical latency 412s > 300s"; it becomes the log body.
	Summary string
	// Time is when the condition was observed (event time or scrape time).
	Time time.Time
	// Threshold is the limit that was crossed; Value the observed value
	// (for a resolved record, the final one).
	Threshold, Value float64

	// Context; empty fields are left out.
	System    string // messaging.system
	Queue     string // messaging.destination.name
	Class     string // jobqueue.job.class
	JobID     string // messaging.message.id
	ErrorType string // error.type
	// TraceIDs are examples of traces behind the alert; the first
	// MaxExampleTraceIDs distinct valid ones are kept.
	TraceIDs []pcommon.TraceID

	// Attributes are the rule's own, e.g. alert.retries or alert.failure_ratio.
	Attributes []Attribute
}

// NewID is the stable fingerprint of an alert: the project's id hash
// (internal/idhash, 64-bit FNV-1a) of the name and the identifying labels,
// as 16 hex digits. The same name and labels give the same id in every
// replica and every release.
func NewID(name Name, labels ...string) string {
	h := idhash.New().String(string(name))
	for _, l := range labels {
		h = h.Byte(0).String(l)
	}
	var sum [8]byte
	binary.BigEndian.PutUint64(sum[:], h.Sum64())
	return hex.EncodeToString(sum[:])
}

// FillLogRecord writes the alert into lr: event name, timestamps, severity,
// body and attributes.
func (a *Alert) FillLogRecord(lr plog.LogRecord) {
	lr.SetEventName(EventName)
	ts := pcommon.NewTimestampFromTime(a.Time)
	lr.SetTimestamp(ts)
	lr.SetObservedTimestamp(ts)
	lr.SetSeverityNumber(a.Severity.Number())
	lr.SetSeverityText(a.Severity.String())
	lr.Body().SetStr(oneLine(a.Summary))
	a.putAttributes(lr.Attributes(), 0)
}

// AddSpanEvent adds the alert to span as an event with the log record's
// attributes plus alert.severity and alert.summary, and returns the event.
func (a *Alert) AddSpanEvent(span ptrace.Span) ptrace.SpanEvent {
	ev := span.Events().AppendEmpty()
	ev.SetName(EventName)
	ev.SetTimestamp(pcommon.NewTimestampFromTime(a.Time))
	attrs := ev.Attributes()
	a.putAttributes(attrs, 2)
	attrs.PutStr(AttrSeverity, a.Severity.String())
	attrs.PutStr(AttrSummary, oneLine(a.Summary))
	return ev
}

func (a *Alert) putAttributes(attrs pcommon.Map, extra int) {
	attrs.EnsureCapacity(attrs.Len() + 11 + len(a.Attributes) + extra)
	attrs.PutStr(AttrName, string(a.Name))
	attrs.PutStr(AttrState, a.State.String())
	attrs.PutStr(AttrID, a.ID)
	attrs.PutDouble(AttrThreshold, a.Threshold)
	attrs.PutDouble(AttrValue, a.Value)
	for _, kv := range [...]struct{ key, value string }{
		{attrSystem, a.System}, {attrQueue, a.Queue}, {attrClass, a.Class},
		{attrJobID, a.JobID}, {attrErrorType, a.ErrorType},
	} {
		if kv.value != "" {
			attrs.PutStr(kv.key, clip(kv.value))
		}
	}
	for _, at := range a.Attributes {
		at.put(attrs)
	}
	if ids := exampleTraceIDs(a.TraceIDs); len(ids) > 0 {
		s := attrs.PutEmptySlice(AttrExampleTraceIDs)
		s.EnsureCapacity(len(ids))
		for _, id := range ids {
			s.AppendEmpty().SetStr(hex.EncodeToString(id[:]))
		}
	}
}

// exampleTraceIDs keeps the first MaxExampleTraceIDs distinct non-empty ids.
func exampleTraceIDs(ids []pcommon.TraceID) []pcommon.TraceID {
	out := make([]pcommon.TraceID, 0, min(len(ids), MaxExampleTraceIDs))
	for _, id := range ids {
		if len(out) == MaxExampleTraceIDs {
			break
		}
		if id.IsEmpty() || containsID(out, id) {
			continue
		}
		out = append(out, id)
	}
	return out
}

func containsID(ids []pcommon.TraceID, id pcommon.TraceID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// oneLine makes s a single printable line of at most maxValueLen bytes:
// control characters (newlines included) become spaces.
func oneLine(s string) string {
	s = clip(s)
	if strings.IndexFunc(s, unicode.IsControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// clip cuts s to at most maxValueLen bytes.
func clip(s string) string { return Shorten(s, maxValueLen) }

// Shorten cuts s to at most n bytes (n >= 3) on a rune boundary, marking the
// cut with "…": for names and messages quoted in alert records.
func Shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return textcut.Prefix(s, n-len("…")) + "…"
}

// Attribute is one rule-specific attribute of an alert.
type Attribute struct {
	key  string
	kind attrKind
	str  string
	i    int64
	f    float64
}

type attrKind uint8

const (
	kindString attrKind = iota
	kindInt
	kindFloat
)

// String is a string attribute (clipped to 1 KiB).
func String(key, value string) Attribute { return Attribute{key: key, kind: kindString, str: value} }

// Int is an integer attribute.
func Int(key string, value int64) Attribute { return Attribute{key: key, kind: kindInt, i: value} }

// Float is a floating-point attribute.
func Float(key string, value float64) Attribute {
	return Attribute{key: key, kind: kindFloat, f: value}
}

func (a Attribute) put(attrs pcommon.Map) {
	switch a.kind {
	case kindInt:
		attrs.PutInt(a.key, a.i)
	case kindFloat:
		attrs.PutDouble(a.key, a.f)
	default:
		attrs.PutStr(a.key, clip(a.str))
	}
}
