// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobpipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
)

type nopSink struct{}

func (nopSink) Begin(time.Time)                     {}
func (nopSink) Add(*jobevent.Event, pcommon.SpanID) {}
func (nopSink) Reset()                              {}

// The timer's records in a traces pipeline: one INTERNAL span of the
// processor's scope under the collector's resource, spanning the records'
// times, its ids the same for the same records and different for others.
func TestNewTraces(t *testing.T) {
	set := processortest.NewNopSettings(component.MustNewType("probe"))
	set.Resource.Attributes().PutStr("service.name", "otelcol-jobs")
	p, err := New(set, Settings[nopSink]{Component: "probe", AlertScope: "example.com/probe", NewSink: func() nopSink { return nopSink{} }})
	require.NoError(t, err)

	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	records := func(at time.Time) []alert.Alert {
		return []alert.Alert{
			{Name: alert.FailureCluster, State: alert.StateResolved, ID: "a1", Time: at, Summary: "one"},
			{Name: alert.DependencyFailure, State: alert.StateResolved, ID: "b2", Time: at.Add(time.Millisecond), Summary: "two"},
		}
	}
	td := p.NewTraces(records(at))
	require.Equal(t, 1, td.SpanCount())
	rs := td.ResourceSpans().At(0)
	assert.Equal(t, map[string]any{"service.name": "otelcol-jobs"}, rs.Resource().Attributes().AsRaw())
	assert.Equal(t, "example.com/probe", rs.ScopeSpans().At(0).Scope().Name())
	span := rs.ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, "probe resolve", span.Name())
	assert.Equal(t, ptrace.SpanKindInternal, span.Kind())
	assert.Equal(t, at, span.StartTimestamp().AsTime())
	assert.Equal(t, at.Add(time.Millisecond), span.EndTimestamp().AsTime())
	require.Equal(t, 2, span.Events().Len())
	for i, id := range []string{"a1", "b2"} {
		ev := span.Events().At(i)
		assert.Equal(t, alert.EventName, ev.Name())
		assert.Equal(t, id, ev.Attributes().AsRaw()[alert.AttrID])
	}
	assert.False(t, span.TraceID().IsEmpty())
	assert.False(t, span.SpanID().IsEmpty())

	again := p.NewTraces(records(at)).ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, span.TraceID(), again.TraceID())
	assert.Equal(t, span.SpanID(), again.SpanID())
	later := p.NewTraces(records(at.Add(time.Minute))).ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	assert.NotEqual(t, span.TraceID(), later.TraceID())
	assert.NotEqual(t, span.SpanID(), later.SpanID())
}
