// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadatatest"
)

// paymentBurst is 11 PaymentJob failures: one failure_cluster fires.
func paymentBurst() ptrace.Traces {
	td, ss := newScopeSpans()
	for i := range 11 {
		sidekiqSpan(ss, "PaymentJob", fmt.Sprintf("jid-%d", i), t0, "Stripe::CardError", "card declined")
	}
	return td
}

// A traces pipeline that no batch reaches after the burst still gets the
// resolution, within a tick of the timer, as a batch of its own: one span
// of the processor's, under the collector's resource. It comes once: the
// next batch passes as it came.
func TestTimerResolutionInTracesPipelineWithoutTraffic(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	set := processortest.NewNopSettings(metadata.Type)
	set.Resource.Attributes().PutStr("service.name", "otelcol-jobs")
	p, sink := newTraces(t, NewDefaultConfig(), clock, set)
	require.NoError(t, p.ConsumeTraces(context.Background(), paymentBurst()))
	fired := spanAlerts(sink.AllTraces())
	require.Len(t, fired, 1)
	require.Equal(t, "firing", fired[0].attrs["alert.state"])

	// Two hours on, every failure has left the window: the next tick
	// resolves the cluster, and nothing else reaches the processor.
	clock.Advance(2 * time.Hour)
	require.Eventually(t, func() bool { return len(sink.AllTraces()) == 2 }, 10*time.Second, 10*time.Millisecond,
		"the timer sends the resolution on by itself")
	out := sink.AllTraces()[1]
	require.Equal(t, 1, out.ResourceSpans().Len())
	rs := out.ResourceSpans().At(0)
	assert.Equal(t, map[string]any{"service.name": "otelcol-jobs"}, rs.Resource().Attributes().AsRaw())
	require.Equal(t, 1, rs.ScopeSpans().Len())
	assert.Equal(t, metadata.ScopeName, rs.ScopeSpans().At(0).Scope().Name())
	require.Equal(t, 1, out.SpanCount())
	span := rs.ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, "failure_cluster resolve", span.Name())
	assert.Equal(t, ptrace.SpanKindInternal, span.Kind())
	assert.False(t, span.TraceID().IsEmpty())
	assert.False(t, span.SpanID().IsEmpty())
	assert.Equal(t, span.StartTimestamp(), span.EndTimestamp())

	resolved := spanAlerts([]ptrace.Traces{out})
	require.Len(t, resolved, 1)
	a := resolved[0].attrs
	assert.Equal(t, "resolved", a["alert.state"])
	assert.Equal(t, fired[0].attrs["alert.id"], a["alert.id"])
	assert.Equal(t, "PaymentJob", a["jobqueue.job.class"])
	assert.Equal(t, int64(1), a["alert.level"])
	assert.Equal(t, span.EndTimestamp(), span.Events().At(0).Timestamp())

	// The next batch, a job's or another's, carries nothing more.
	td, ss := newScopeSpans()
	httpSpan(ss)
	sidekiqSpan(ss, "PaymentJob", "jid-ok", clock.Now(), "", "")
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	assert.Len(t, spanAlerts(sink.AllTraces()), 2, "the resolution once, never again")
	last := sink.AllTraces()[len(sink.AllTraces())-1]
	for _, s := range last.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		assert.Zero(t, s.Events().Len(), s.Name())
	}
}

// Resolutions the next consumer refuses are counted as dropped.
func TestTimerResolutionRefused(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	clock := clockwork.NewFakeClockAt(t0)
	p, err := NewFactory().CreateTraces(clockwork.AddToContext(context.Background(), clock), metadatatest.NewSettings(tel),
		NewDefaultConfig(), consumertest.NewErr(errors.New("sending queue is full")))
	require.NoError(t, err)
	start(t, p)
	require.Error(t, p.ConsumeTraces(context.Background(), paymentBurst()), "the next consumer's error")

	clock.Advance(2 * time.Hour)
	require.Eventually(t, func() bool {
		m, err := tel.GetMetric("otelcol_processor_failure_cluster_alerts_dropped")
		return err == nil && len(m.Data.(metricdata.Sum[int64]).DataPoints) > 0
	}, 10*time.Second, 10*time.Millisecond, "the refused resolution is counted")
	metadatatest.AssertEqualProcessorFailureClusterAlertsDropped(t, tel, []metricdata.DataPoint[int64]{{Value: 1}},
		metricdatatest.IgnoreTimestamp())
}
