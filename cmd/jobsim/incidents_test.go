// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"
)

// The demo's failure_cluster settings (config/demo.yaml) see exactly one
// class cluster and one dependency outage in the incidents, and both
// resolve: ten minutes played in one-second batches on a fake clock.
func TestIncidentsRaiseOneClusterAndOneOutage(t *testing.T) {
	f := failureclusterprocessor.NewFactory()
	cfg := demoProcessorConfig(t, f)

	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	sink := new(consumertest.TracesSink)
	ctx := context.Background()
	p, err := f.CreateTraces(clockwork.AddToContext(ctx, clock), processortest.NewNopSettings(f.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(ctx)) }()

	e := newIncidentEmitter("unused:0", start, io.Discard)
	last := start
	for range 10 * 60 {
		clock.Advance(time.Second)
		now := clock.Now()
		require.NoError(t, p.ConsumeTraces(ctx, e.spans(last, now)))
		last = now
	}
	firing, resolved := alertsByState(sink.AllTraces())
	assert.Equal(t, map[string]int{
		"failure_cluster PaymentCaptureJob": 1,
		"dependency_failure PG::ConnectionBad: connection to server at <q>, port <n> failed: timeout expired after <n>ms": 1,
	}, firing)

	// The timer sends its resolutions on by itself: wait until both came.
	require.Eventually(t, func() bool {
		_, resolved = alertsByState(sink.AllTraces())
		return len(resolved) == 2
	}, 10*time.Second, 10*time.Millisecond, "resolved: %v", resolved)
	for key, n := range resolved {
		assert.Equal(t, 1, n, key)
	}
}

// demoProcessorConfig is f's processor as config/demo.yaml configures it.
func demoProcessorConfig(t *testing.T, f processor.Factory) component.Config {
	t.Helper()
	cm, err := confmaptest.LoadConf("../../config/demo.yaml")
	require.NoError(t, err)
	sub, err := cm.Sub("processors::" + f.Type().String())
	require.NoError(t, err)
	cfg := f.CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	return cfg
}

// alertsByState counts the alert span events by rule and subject.
func alertsByState(batches []ptrace.Traces) (firing, resolved map[string]int) {
	firing, resolved = map[string]int{}, map[string]int{}
	for _, td := range batches {
		forEachAlertEvent(td, func(_ ptrace.Span, ev ptrace.SpanEvent) {
			a := ev.Attributes().AsRaw()
			subject := a["jobqueue.job.class"]
			if a["alert.name"] == string(alert.DependencyFailure) {
				subject = a["alert.fingerprint"]
			}
			key := fmt.Sprint(a["alert.name"], " ", subject)
			if a["alert.state"] == "firing" {
				firing[key]++
			} else {
				resolved[key]++
			}
		})
	}
	return firing, resolved
}

func TestIncidentSpansAreSidekiqExecutions(t *testing.T) {
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	e := newIncidentEmitter("unused:0", start, io.Discard)
	// Executions are counted once across ticks of any length.
	whole := e.spans(start, start.Add(3*time.Minute)).SpanCount()
	e = newIncidentEmitter("unused:0", start, io.Discard)
	pieces := 0
	for at := start; at.Before(start.Add(3 * time.Minute)); at = at.Add(700 * time.Millisecond) {
		pieces += e.spans(at, at.Add(700*time.Millisecond)).SpanCount()
	}
	assert.Equal(t, whole, pieces)

	failed := map[string]int{}
	td := e.spans(start, start.Add(3*time.Minute))
	for _, span := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
		assert.Equal(t, ptrace.SpanKindConsumer, span.Kind())
		if span.Status().Code() == ptrace.StatusCodeError {
			class, _ := span.Attributes().Get("messaging.sidekiq.job_class")
			failed[class.Str()]++
		}
	}
	assert.Equal(t, map[string]int{
		"PaymentCaptureJob": 20, "OrderSyncJob": 8, "WebhookDeliveryJob": 8, "ActionMailer::MailDeliveryJob": 8, "ReportExportJob": 8,
	}, failed)
}

// The emitter posts OTLP/HTTP protobuf, and reports a collector that does
// not take its batches once, not once a tick.
func TestIncidentEmitterPosts(t *testing.T) {
	var spans, failures, refused atomic.Int64
	var refuse atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		if err != nil || refuse.Load() {
			refused.Add(1)
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		spans.Add(int64(td.SpanCount()))
		for _, span := range td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().All() {
			if span.Status().Code() == ptrace.StatusCodeError {
				failures.Add(1)
			}
		}
	}))
	defer srv.Close()

	run := func(start time.Time, log io.Writer, until func() bool) {
		e := newIncidentEmitter(strings.TrimPrefix(srv.URL, "http://"), start, log)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { e.run(ctx, 20*time.Millisecond) })
		require.Eventually(t, until, 10*time.Second, 10*time.Millisecond)
		cancel()
		wg.Wait()
	}
	// Started 35 s ago: PaymentCaptureJob is failing.
	run(time.Now().Add(-35*time.Second), io.Discard, func() bool { return failures.Load() > 0 })
	assert.Positive(t, spans.Load())

	refuse.Store(true)
	var log syncBuffer
	run(time.Now().Add(-time.Minute), &log, func() bool { return refused.Load() >= 2 })
	assert.Equal(t, 1, strings.Count(log.String(), "503 Service Unavailable"), "%s", log.String())
}
