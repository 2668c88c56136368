// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadatatest"
)

var testStart = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// sidekiqRun is one execution as ruby-contrib's Sidekiq instrumentation
// records it: no attempt number, so retries are counted by job id.
type sidekiqRun struct {
	jid, class string
	failed     bool
	end        time.Time
	spanID     pcommon.SpanID
	parent     pcommon.SpanID
	// activeJob makes it ActiveJob's span instead (code.namespace).
	activeJob bool
}

func (r sidekiqRun) appendTo(ss ptrace.ScopeSpans) ptrace.Span {
	span := ss.Spans().AppendEmpty()
	span.SetKind(ptrace.SpanKindConsumer)
	span.SetName("critical process")
	span.SetTraceID(pcommon.TraceID{1, byte(r.end.Unix()), byte(r.end.Unix() >> 8)})
	span.SetSpanID(r.spanID)
	span.SetParentSpanID(r.parent)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(r.end.Add(-50 * time.Millisecond)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(r.end))
	attrs := span.Attributes()
	attrs.PutStr("messaging.system", "sidekiq")
	attrs.PutStr("messaging.destination", "critical")
	if r.activeJob {
		// ruby-contrib active_job: the adapter's job id (Sidekiq's jid).
		attrs.PutStr("code.namespace", r.class)
		attrs.PutStr("messaging.message.id", r.jid)
	} else {
		attrs.PutStr("messaging.operation", "process")
		attrs.PutStr("messaging.destination_kind", "queue")
		attrs.PutStr("messaging.sidekiq.job_class", r.class)
		attrs.PutStr("messaging.message_id", r.jid)
	}
	if r.failed {
		span.Status().SetCode(ptrace.StatusCodeError)
		ev := span.Events().AppendEmpty()
		ev.SetName("exception")
		ev.Attributes().PutStr("exception.type", "Net::ReadTimeout")
		ev.Attributes().PutStr("exception.message", "Net::ReadTimeout with #<TCPSocket:(closed)>")
	}
	return span
}

func sidekiqBatch(runs ...sidekiqRun) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "worker")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("OpenTelemetry::Instrumentation::Sidekiq")
	for _, r := range runs {
		r.appendTo(ss)
	}
	return td
}

func ftoa(v any) string {
	return pcommon.NewValueDouble(v.(float64)).AsString()
}

// The processor's own telemetry over the runs of the traces_sidekiq_by_job_id
// golden case (whose output that case checks): the looping job's run counter
// and alert mark are held while it fails and forgotten when it succeeds; the
// jobs that succeeded at once are never held.
func TestOwnTelemetry(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p, _ := newTraces(t, NewDefaultConfig(), clock, metadatatest.NewSettings(tel))

	var batches []ptrace.Traces
	for i := range 9 {
		clock.Advance(10 * time.Minute)
		run := sidekiqRun{jid: "b4a577edbccf1d805744efa9", class: "HardJob", failed: i < 8, end: clock.Now(), spanID: pcommon.SpanID{byte(i)}}
		batches = append(batches, sidekiqBatch(run, sidekiqRun{jid: "other-" + string(rune('a'+i)), class: "HardJob", end: clock.Now()}))
	}
	for i, td := range batches {
		if i == 5 {
			metadatatest.AssertEqualProcessorJobRetryTrackedJobs(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
		}
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	metadatatest.AssertEqualProcessorJobRetryAlerts(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("alert.state", "firing"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("alert.state", "resolved"))},
	}, metricdatatest.IgnoreTimestamp())
	// It succeeded: its counter and mark are gone.
	metadatatest.AssertEqualProcessorJobRetryTrackedJobs(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorJobRetryStateEvictions(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorJobRetryStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

// Spans and log records that are no job executions cost no allocation.
func TestNonJobDataDoesNotAllocate(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	p, err := newRetryProcessor(context.Background(), processortest.NewNopSettings(metadata.Type), NewDefaultConfig(), clock)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })

	td := jobbenchtest.MixedBatch(t, 1000, 1000) // one job span, 999 HTTP client spans
	jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
		if span.Kind() == ptrace.SpanKindConsumer {
			span.SetKind(ptrace.SpanKindClient) // now none is a job
		}
	})
	assert.Zero(t, testing.AllocsPerRun(20, func() { _, _ = p.processTraces(context.Background(), td) }))

	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for range 100 {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(`GET /health 200 1ms`)
		lr.Attributes().PutStr("http.route", "/health")
	}
	assert.Zero(t, testing.AllocsPerRun(20, func() { _, _ = p.processLogs(context.Background(), ld) }))
}
