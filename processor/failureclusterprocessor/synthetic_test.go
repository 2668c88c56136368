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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

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
