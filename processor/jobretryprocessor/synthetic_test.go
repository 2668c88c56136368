// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
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

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
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

// consumeSpans sends each batch and returns, per batch, the retry counts of
// its spans and its alert events (state/value/level).
func consumeSpans(t *testing.T, p interface {
	ConsumeTraces(context.Context, ptrace.Traces) error
}, sink interface{ AllTraces() []ptrace.Traces }, batches ...ptrace.Traces,
) (counts []int64, alerts []string) {
	t.Helper()
	before := len(sink.AllTraces())
	for _, td := range batches {
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	out := sink.AllTraces()[before:]
	for _, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			counts = append(counts, retryCount(span.Attributes()))
		})
	}
	for _, a := range spanAlerts(out) {
		alerts = append(alerts, alertLine(a.attrs))
	}
	return counts, alerts
}

// alertLine is an alert's state, retries, threshold, escalation level and
// severity on one line, e.g. "firing 4>3 level 1 WARN".
func alertLine(attrs map[string]any) string {
	line := attrs["alert.state"].(string) + " " + ftoa(attrs["alert.value"]) + ">" + ftoa(attrs["alert.threshold"])
	if l, ok := attrs["alert.escalation_level"]; ok {
		line += " level " + ftoa(float64(l.(int64)))
	}
	if s, ok := attrs["alert.severity"]; ok {
		line += " " + s.(string)
	}
	return line
}

func ftoa(v any) string {
	return pcommon.NewValueDouble(v.(float64)).AsString()
}

func TestTracesCountByJobID(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	p, sink := newTraces(t, NewDefaultConfig(), clock, metadatatest.NewSettings(tel))

	var batches []ptrace.Traces
	for i := range 9 {
		clock.Advance(10 * time.Minute)
		run := sidekiqRun{jid: "b4a577edbccf1d805744efa9", class: "HardJob", failed: i < 8, end: clock.Now(), spanID: pcommon.SpanID{byte(i)}}
		batches = append(batches, sidekiqBatch(run, sidekiqRun{jid: "other-" + string(rune('a'+i)), class: "HardJob", end: clock.Now()}))
	}
	counts, alerts := consumeSpans(t, p, sink, batches[:5]...)
	// The looping job's run counter and alert mark; the jobs that succeeded
	// at once are not held.
	metadatatest.AssertEqualProcessorJobRetryTrackedJobs(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	c, a := consumeSpans(t, p, sink, batches[5:]...)
	counts, alerts = append(counts, c...), append(alerts, a...)
	assert.Equal(t, []int64{0, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8, 0}, counts)
	assert.Equal(t, []string{"firing 4>3 level 1 WARN", "firing 7>3 level 2 WARN", "resolved 8>3 WARN"}, alerts)

	first := spanAlerts(sink.AllTraces())[0]
	assert.Equal(t, map[string]any{
		"alert.name": "excessive_retries", "alert.state": "firing",
		"alert.id":        alert.NewID(alert.ExcessiveRetries, "sidekiq", "HardJob", "b4a577edbccf1d805744efa9"),
		"alert.threshold": 3.0, "alert.value": 4.0, "alert.escalation_level": int64(1),
		"messaging.system": "sidekiq", "messaging.destination.name": "critical", "jobqueue.job.class": "HardJob",
		"messaging.message.id": "b4a577edbccf1d805744efa9", "error.type": "Net::ReadTimeout",
		"alert.example_trace_ids": []any{first.span.TraceID().String()},
		"alert.severity":          "WARN", "alert.summary": "sidekiq job HardJob b4a577edbccf1d805744efa9 retried 4 times > 3: Net::ReadTimeout",
	}, first.attrs)
	assert.Equal(t, pcommon.SpanID{4}, first.span.SpanID(), "on the 5th run's span")

	metadatatest.AssertEqualProcessorJobRetryAlerts(t, tel, []metricdata.DataPoint[int64]{
		{Value: 2, Attributes: attribute.NewSet(attribute.String("alert.state", "firing"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("alert.state", "resolved"))},
	}, metricdatatest.IgnoreTimestamp())
	// It succeeded: its counter and mark are gone.
	metadatatest.AssertEqualProcessorJobRetryTrackedJobs(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorJobRetryStateEvictions(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorJobRetryStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
}

func TestTracesClassOverrides(t *testing.T) {
	one, ten := 1, 10
	fatal := alert.SeverityFatal
	cfg := NewDefaultConfig()
	cfg.ClassOverrides = []ClassOverride{
		{Class: "^Billing::", MaxRetries: &one, Severity: &fatal},
		{Class: "Job$", MaxRetries: &ten},
	}
	clock := clockwork.NewFakeClockAt(testStart)
	p, sink := newTraces(t, cfg, clock)
	for _, tt := range []struct {
		class  string
		alerts []string
	}{
		{"Billing::ChargeJob", []string{"firing 2>1 level 1 FATAL", "firing 3>1 level 2 FATAL", "firing 5>1 level 3 FATAL"}},
		{"ReportJob", nil},
		{"Sync", []string{"firing 4>3 level 1 WARN"}},
	} {
		var batches []ptrace.Traces
		for range 6 {
			clock.Advance(time.Minute)
			batches = append(batches, sidekiqBatch(sidekiqRun{jid: "j-" + tt.class, class: tt.class, failed: true, end: clock.Now()}))
		}
		_, alerts := consumeSpans(t, p, sink, batches...)
		assert.Equal(t, tt.alerts, alerts, tt.class)
	}
}

func TestTracesWindow(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	p, sink := newTraces(t, NewDefaultConfig(), clock)
	run := func(end time.Time) ptrace.Traces {
		return sidekiqBatch(sidekiqRun{jid: "j1", class: "HardJob", failed: true, end: end})
	}
	counts, _ := consumeSpans(t, p, sink, run(clock.Now()))
	clock.Advance(23 * time.Hour)
	c, _ := consumeSpans(t, p, sink, run(clock.Now()))
	counts = append(counts, c...)
	clock.Advance(2 * time.Hour)
	c, _ = consumeSpans(t, p, sink, run(clock.Now()))
	counts = append(counts, c...)
	assert.Equal(t, []int64{0, 1, 0}, counts, "the window runs 24h from the job's first run")

	// Event time: a batch that arrives late is judged as it happened.
	c, _ = consumeSpans(t, p, sink, run(clock.Now().Add(-25*time.Hour)), run(clock.Now().Add(-30*time.Minute)))
	assert.Equal(t, []int64{-1, 1}, c, "a run older than the window is not counted; a recent one is")
}

// With both ruby-contrib instrumentations on, each run of an ActiveJob on
// Sidekiq is two spans of the same job id: ActiveJob's inside Sidekiq's.
func TestTracesNestedInstrumentations(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	p, sink := newTraces(t, NewDefaultConfig(), clock)
	var batches []ptrace.Traces
	for i := range 5 {
		clock.Advance(time.Minute)
		outer := sidekiqRun{jid: "jid-1", class: "SendEmailJob", failed: true, end: clock.Now(), spanID: pcommon.SpanID{byte(i), 1}}
		inner := outer
		inner.activeJob, inner.spanID, inner.parent = true, pcommon.SpanID{byte(i), 2}, outer.spanID
		batches = append(batches, sidekiqBatch(inner, outer)) // the inner span ends first
	}
	counts, alerts := consumeSpans(t, p, sink, batches...)
	assert.Equal(t, []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, counts, "each run counted once")
	assert.Equal(t, []string{"firing 4>3 level 1 WARN"}, alerts)
	assert.Equal(t, pcommon.SpanID{4, 1}, spanAlerts(sink.AllTraces())[0].span.SpanID(), "on Sidekiq's span")
}

func TestNonJobDataPassesUntouched(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	tp, tsink := newTraces(t, NewDefaultConfig(), clock)
	td := ptrace.NewTraces()
	ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	for _, kind := range []ptrace.SpanKind{ptrace.SpanKindClient, ptrace.SpanKindServer, ptrace.SpanKindConsumer, ptrace.SpanKindProducer} {
		span := ss.Spans().AppendEmpty()
		span.SetKind(kind)
		span.SetName("GET /orders")
		span.Attributes().PutStr("http.request.method", "GET")
		span.Attributes().PutStr("id", "42") // a generic key on a span of no job convention
	}
	want := ptrace.NewTraces()
	td.CopyTo(want)
	require.NoError(t, tp.ConsumeTraces(context.Background(), td))
	require.NoError(t, ptracetest.CompareTraces(want, tsink.AllTraces()[0]))

	lp, lsink := newLogs(t, NewDefaultConfig(), clock)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Body().SetStr("GET /health 200 1ms")
	lrs.AppendEmpty().Body().SetStr(`{"level":"info","msg":"done"}`)
	lrs.AppendEmpty().Attributes().PutStr("jid", "j1") // an id without an outcome
	wantLogs := plog.NewLogs()
	ld.CopyTo(wantLogs)
	require.NoError(t, lp.ConsumeLogs(context.Background(), ld))
	require.NoError(t, plogtest.CompareLogs(wantLogs, lsink.AllLogs()[0]))
}

// seedEvent is a JSON event log line of the seed application.
func seedEvent(lrs plog.LogRecordSlice, event, jid string, at time.Time) plog.LogRecord {
	lr := lrs.AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	body := `{"event":"` + event + `","jid":"` + jid + `","job":"ChargeCard","queue":"billing"`
	if event == "job.failed" {
		body += `,"error":"card declined: insufficient_funds"`
	}
	lr.Body().SetStr(body + "}")
	return lr
}

func TestLogsSeedEvents(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	p, sink := newLogs(t, NewDefaultConfig(), clock)
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing-worker")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range 6 {
		seedEvent(lrs, "job.failed", "j7", testStart.Add(time.Duration(i)*time.Minute))
	}
	seedEvent(lrs, "job.started", "j7", testStart.Add(6*time.Minute))
	seedEvent(lrs, "job.succeeded", "j7", testStart.Add(7*time.Minute))
	clock.Advance(time.Hour)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))

	out := sink.AllLogs()[0]
	require.Equal(t, 2, out.ResourceLogs().Len(), "the records and one ResourceLogs of alerts")
	var counts []int64
	for _, lr := range out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		counts = append(counts, retryCount(lr.Attributes()))
	}
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5, -1, 6}, counts, "job.started is no execution")

	alerts := logAlerts([]plog.Logs{out})
	require.Len(t, alerts, 2)
	id := alert.NewID(alert.ExcessiveRetries, "sidekiq", "ChargeCard", "j7")
	assert.Equal(t, logAlert{
		attrs: map[string]any{
			"alert.name": "excessive_retries", "alert.state": "firing", "alert.id": id,
			"alert.threshold": 3.0, "alert.value": 4.0, "alert.escalation_level": int64(1),
			"messaging.system": "sidekiq", "messaging.destination.name": "billing", "jobqueue.job.class": "ChargeCard",
			"messaging.message.id": "j7", "error.type": "card declined",
		},
		severity: "WARN", number: plog.SeverityNumberWarn,
		body:  "sidekiq job ChargeCard j7 retried 4 times > 3: card declined",
		scope: metadata.ScopeName, resource: map[string]any{"service.name": "billing-worker"},
	}, alerts[0])
	assert.Equal(t, "resolved", alerts[1].attrs["alert.state"])
	assert.Equal(t, 6.0, alerts[1].attrs["alert.value"])
	assert.Equal(t, "sidekiq job ChargeCard j7 succeeded after 6 retries", alerts[1].body)

	ts := out.ResourceLogs().At(1).ScopeLogs().At(0).LogRecords().At(0).Timestamp().AsTime()
	assert.Equal(t, testStart.Add(4*time.Minute), ts.UTC(), "the alert is timed by the run that raised it")
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
