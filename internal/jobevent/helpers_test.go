// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNow is the extractors' clock in tests; spans end before it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

var (
	testStart   = testNow.Add(-time.Minute)
	testEnd     = testStart.Add(250 * time.Millisecond)
	testTraceID = pcommon.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testSpanID  = pcommon.SpanID{1, 2, 3, 4, 5, 6, 7, 8}
)

// checkExtraction runs extract and checks its answer: want nil means "not a
// job execution", and then the event must be left alone. A wanted event gets
// the Time, TraceID and SpanID the builders set.
func checkExtraction(t *testing.T, want *Event, extract func(*Event) bool) {
	t.Helper()
	sentinel := Event{ID: "untouched"}
	got := sentinel
	ok := extract(&got)
	if want == nil {
		assert.False(t, ok)
		assert.Equal(t, sentinel, got, "ev must be left alone")
		return
	}
	require.True(t, ok)
	w := *want
	w.Time, w.TraceID, w.SpanID = testEnd, testTraceID, testSpanID
	assert.Equal(t, w, got)
}

// newTestExtractor is the Reader of a batch read at testNow.
func newTestExtractor(t testing.TB, cfg Config) Reader {
	t.Helper()
	x, err := NewExtractor(cfg)
	require.NoError(t, err)
	return x.At(testNow)
}

type eventSpec struct {
	name  string
	attrs map[string]any
}

// spanSpec describes a span to build; zero fields stay unset.
type spanSpec struct {
	scope     string
	name      string
	kind      ptrace.SpanKind
	hasParent bool
	attrs     map[string]any
	status    ptrace.StatusCode
	statusMsg string
	events    []eventSpec
}

func (s spanSpec) build(t testing.TB) (pcommon.InstrumentationScope, ptrace.Span) {
	t.Helper()
	ss := ptrace.NewTraces().ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ss.Scope().SetName(s.scope)
	span := ss.Spans().AppendEmpty()
	span.SetName(s.name)
	span.SetKind(s.kind)
	span.SetTraceID(testTraceID)
	span.SetSpanID(testSpanID)
	if s.hasParent {
		span.SetParentSpanID(pcommon.SpanID{9, 9, 9, 9, 9, 9, 9, 9})
	}
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(testStart))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(testEnd))
	require.NoError(t, span.Attributes().FromRaw(s.attrs))
	span.Status().SetCode(s.status)
	span.Status().SetMessage(s.statusMsg)
	for _, e := range s.events {
		ev := span.Events().AppendEmpty()
		ev.SetName(e.name)
		require.NoError(t, ev.Attributes().FromRaw(e.attrs))
	}
	return ss.Scope(), span
}

// logSpec describes a log record to build.
type logSpec struct {
	attrs    map[string]any
	body     any // string, map[string]any or nil
	ts       time.Time
	observed time.Time
	severity plog.SeverityNumber
}

func (l logSpec) build(t testing.TB) plog.LogRecord {
	t.Helper()
	lr := plog.NewLogs().ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	require.NoError(t, lr.Attributes().FromRaw(l.attrs))
	if l.body != nil {
		require.NoError(t, lr.Body().FromRaw(l.body))
	}
	if !l.ts.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(l.ts))
	}
	if !l.observed.IsZero() {
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(l.observed))
	}
	lr.SetSeverityNumber(l.severity)
	lr.SetTraceID(testTraceID)
	lr.SetSpanID(testSpanID)
	return lr
}
