// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadatatest"
)

// jobLog appends a structured job log record (the generic log convention:
// jid, class, queue, event, error_class, error_message).
func jobLog(lrs plog.LogRecordSlice, class, jid string, at time.Time, errClass, message string) plog.LogRecord {
	lr := lrs.AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
	attrs := lr.Attributes()
	attrs.PutStr("jid", jid)
	attrs.PutStr("class", class)
	attrs.PutStr("queue", "default")
	if errClass == "" {
		attrs.PutStr("event", "job.succeeded")
	} else {
		attrs.PutStr("event", "job.failed")
		attrs.PutStr("error_class", errClass)
		attrs.PutStr("error_message", message)
	}
	return lr
}

func TestLogsPipeline(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	p, sink := newLogs(t, NewDefaultConfig(), clock)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing-worker")
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for i := range 11 {
		jobLog(lrs, "InvoiceJob", fmt.Sprintf("jid-%d", i), t0.Add(-time.Minute), "Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket:(closed)>")
	}
	jobLog(lrs, "MailJob", "jid-m", t0.Add(-time.Minute), "", "")
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))

	got := logAlerts(sink.AllLogs())
	require.Len(t, got, 1)
	a := got[0]
	id := alert.NewID(alert.FailureCluster, "sidekiq", "InvoiceJob", "")
	assert.Equal(t, id, a.attrs["alert.id"])
	assert.Equal(t, "firing", a.attrs["alert.state"])
	assert.Equal(t, "WARN", a.severity)
	assert.Equal(t, "job class InvoiceJob failing: 11 failures in the last 1h (threshold 10); 100% Net::ReadTimeout", a.body)
	assert.Equal(t, metadata.ScopeName, a.scope)
	assert.Equal(t, map[string]any{"service.name": "billing-worker"}, a.resource, "a copy of the failing records' resource")
	assert.Equal(t, 2, sink.AllLogs()[0].ResourceLogs().Len(), "in ResourceLogs of its own")
	for i, lr := range lrs.All() {
		want := id
		if i == 11 {
			want = "" // the success
		}
		assert.Equal(t, want, str(lr.Attributes(), AttrClusterID), "record %d", i)
	}

	// The timer resolves it an hour on and sends the record on by itself.
	sink.Reset()
	tick(t, clock, 1, time.Hour)
	require.Eventually(t, func() bool { return sink.LogRecordCount() > 0 }, 10*time.Second, 10*time.Millisecond)
	got = logAlerts(sink.AllLogs())
	require.Len(t, got, 1)
	assert.Equal(t, "resolved", got[0].attrs["alert.state"])
	assert.Equal(t, id, got[0].attrs["alert.id"])
	assert.Equal(t, metadata.ScopeName, got[0].scope)
}

// One error in three classes within five minutes, with volatile parts that
// differ: dependency_failure fires once and marks the failures of all three.
func TestDependencyFailureAcrossClasses(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	p, sink := newTraces(t, NewDefaultConfig(), clock)

	var spans []ptrace.Span
	for i, class := range []string{"BillingJob", "InvoiceJob", "ReportJob"} {
		td, ss := newScopeSpans()
		spans = append(spans, sidekiqSpan(ss, class, fmt.Sprintf("jid-%d", i), t0.Add(-time.Duration(3-i)*time.Minute),
			"PG::ConnectionBad", fmt.Sprintf("Timeout after %ds to 10.0.0.%d:5432", 30+i, 5+i)))
		httpSpan(ss)
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}

	got := spanAlerts(sink.AllTraces())
	require.Len(t, got, 1)
	a := got[0].attrs
	fp := "PG::ConnectionBad: Timeout after <n>s to <addr>"
	id := alert.NewID(alert.DependencyFailure, fp)
	assert.Equal(t, "dependency_failure", a["alert.name"])
	assert.Equal(t, id, a["alert.id"])
	assert.Equal(t, "ERROR", a["alert.severity"])
	assert.Equal(t, fp, a["alert.fingerprint"])
	assert.Equal(t, "PG::ConnectionBad", a["error.type"])
	assert.Equal(t, int64(3), a["alert.classes"])
	assert.Equal(t, "ReportJob, InvoiceJob, BillingJob", a["alert.class_names"], "most recent first")
	assert.Equal(t, "Timeout after 30s to 10.0.0.5:5432", a["alert.error_message"], "the first message seen")
	assert.Equal(t, fp+" failing in 3 job classes within 5m: ReportJob, InvoiceJob, BillingJob", a["alert.summary"])
	assert.Equal(t, spans[2], got[0].span)
	// Annotated from the batch that fired it on.
	assert.Empty(t, str(spans[0].Attributes(), AttrDependencyID))
	assert.Equal(t, id, str(spans[2].Attributes(), AttrDependencyID))
	assert.Empty(t, str(spans[2].Attributes(), AttrClusterID), "one failure is no class cluster")
}

// Hostile input: a 10 MB error message, control characters, attributes of
// the wrong types, NUL bytes in names. Nothing panics, every span passes,
// and the alert records stay small.
func TestHostileSpans(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	p, sink := newTraces(t, NewDefaultConfig(), clock)
	huge := strings.Repeat("Timeout after 30s to 10.0.0.5:5432 ", 10<<20/35)
	td, ss := newScopeSpans()
	for i := range 12 {
		sidekiqSpan(ss, "Huge\x00Job\x1b[31m", fmt.Sprintf("jid-%d", i), t0, "Net::ReadTimeout\n\r", huge)
		wrong := sidekiqSpan(ss, "x", fmt.Sprintf("jid-w%d", i), t0, "E", "boom")
		wrong.Attributes().PutInt("messaging.sidekiq.job_class", 42)
		wrong.Attributes().PutEmptyMap("messaging.message_id").PutStr("a", "b")
		wrong.Attributes().PutEmptyBytes("messaging.destination").FromRaw([]byte{0xff, 0})
		ev := wrong.Events().At(0)
		ev.Attributes().PutDouble("exception.type", 1.5)
		ev.Attributes().PutEmptySlice("exception.message").AppendEmpty().SetStr("x")
	}
	require.NotPanics(t, func() { require.NoError(t, p.ConsumeTraces(context.Background(), td)) })
	assert.Equal(t, 24, sink.SpanCount())
	for _, a := range spanAlerts(sink.AllTraces()) {
		for k, v := range a.attrs {
			if s, ok := v.(string); ok {
				assert.LessOrEqual(t, len(s), 1024, k)
			}
		}
	}
	assert.NotEmpty(t, spanAlerts(sink.AllTraces()))
}

func TestOwnTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	clock := clockwork.NewFakeClockAt(t0)
	cfg := NewDefaultConfig()
	cfg.MaxClasses = 3
	p, _ := newTraces(t, cfg, clock, metadatatest.NewSettings(tel))

	td, ss := newScopeSpans()
	for i := range 11 {
		sidekiqSpan(ss, "PaymentJob", fmt.Sprintf("jid-%d", i), t0, "E", "boom")
	}
	for i := range 4 {
		sidekiqSpan(ss, fmt.Sprintf("Job%d", i), fmt.Sprintf("jid-o%d", i), t0, "E", "boom")
	}
	require.NoError(t, p.ConsumeTraces(context.Background(), td))

	ignore := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	firing := func(name string) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{
			Attributes: attribute.NewSet(attribute.String("alert.name", name), attribute.String("alert.state", "firing")),
			Value:      1,
		}
	}
	metadatatest.AssertEqualProcessorFailureClusterAlerts(t, tel, []metricdata.DataPoint[int64]{
		firing("failure_cluster"), firing("dependency_failure"),
	}, ignore...)
	metadatatest.AssertEqualProcessorFailureClusterFailures(t, tel, []metricdata.DataPoint[int64]{{Value: 15}}, ignore...)
	metadatatest.AssertEqualProcessorFailureClusterTrackedClasses(t, tel, []metricdata.DataPoint[int64]{{Value: 3}}, ignore...)
	metadatatest.AssertEqualProcessorFailureClusterEvictedClasses(t, tel, []metricdata.DataPoint[int64]{{Value: 2}}, ignore...)
	metadatatest.AssertEqualProcessorFailureClusterTrackedFingerprints(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, ignore...)
	metadatatest.AssertEqualProcessorFailureClusterStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, ignore...)
}
