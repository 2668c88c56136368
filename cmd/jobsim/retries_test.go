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
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor"
)

// The demo's job_retry settings (config/demo.yaml) see each retry loop
// fire, escalate and resolve as retries.go says: three minutes played in
// 700 ms batches on a fake clock, through the traces and the logs
// processor.
func TestRetryLoopsRaiseTheDemoAlerts(t *testing.T) {
	f := jobretryprocessor.NewFactory()
	cfg := demoProcessorConfig(t, f)

	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := clockwork.NewFakeClockAt(start)
	ctx := context.Background()
	spans, logs := new(consumertest.TracesSink), new(consumertest.LogsSink)
	tp, err := f.CreateTraces(clockwork.AddToContext(ctx, clock), processortest.NewNopSettings(f.Type()), cfg, spans)
	require.NoError(t, err)
	lp, err := f.CreateLogs(clockwork.AddToContext(ctx, clock), processortest.NewNopSettings(f.Type()), cfg, logs)
	require.NoError(t, err)
	for _, p := range []interface {
		Start(context.Context, component.Host) error
		Shutdown(context.Context) error
	}{tp, lp} {
		require.NoError(t, p.Start(ctx, componenttest.NewNopHost()))
		defer func() { require.NoError(t, p.Shutdown(ctx)) }()
	}

	e := newRetryEmitter("unused:0", start, io.Discard)
	last := start
	for range 3 * 60 * 10 / 7 {
		clock.Advance(700 * time.Millisecond)
		now := clock.Now()
		td, ld := e.executions(last, now)
		require.NoError(t, tp.ConsumeTraces(ctx, td))
		require.NoError(t, lp.ConsumeLogs(ctx, ld))
		last = now
	}

	var got []string
	for _, td := range spans.AllTraces() {
		forEachAlertEvent(td, func(_ ptrace.Span, ev ptrace.SpanEvent) {
			got = append(got, alertLine(ev.Attributes().AsRaw()))
		})
	}
	for _, ld := range logs.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
				if lr.EventName() == alert.EventName {
					got = append(got, "log "+alertLine(lr.Attributes().AsRaw()))
				}
			}
		}
	}
	assert.ElementsMatch(t, []string{
		"InvoiceSyncJob firing 4 level 1", "InvoiceSyncJob resolved 6",
		"sync_inventory firing 4 level 1", "sync_inventory firing 7 level 2",
		"log ChargeCardJob firing 4 level 1", "log ChargeCardJob resolved 5",
	}, got)
}

// alertLine is an excessive_retries alert's class, state, retries and level.
func alertLine(a map[string]any) string {
	line := fmt.Sprint(a["jobqueue.job.class"], " ", a["alert.state"], " ", a["alert.value"])
	if level, ok := a["alert.escalation_level"]; ok {
		line += fmt.Sprint(" level ", level)
	}
	return line
}

// Runs are emitted once across ticks of any length, spans and logs to
// their own OTLP/HTTP paths.
func TestRetryEmitterPosts(t *testing.T) {
	start := time.Now().Add(-80 * time.Second) // every loop is over
	var spans, records atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/v1/traces":
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
			require.NoError(t, err)
			spans.Add(int64(td.SpanCount()))
		case "/v1/logs":
			ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
			require.NoError(t, err)
			records.Add(int64(ld.LogRecordCount()))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()

	e := newRetryEmitter(strings.TrimPrefix(srv.URL, "http://"), start, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.run(ctx, 20*time.Millisecond) })
	// InvoiceSyncJob 7 runs + sync_inventory 8; ChargeCardJob 6.
	require.Eventually(t, func() bool { return spans.Load() == 15 && records.Load() == 6 }, 10*time.Second, 10*time.Millisecond)
	cancel()
	wg.Wait()
	assert.Equal(t, int64(15), spans.Load())
	assert.Equal(t, int64(6), records.Load())
}
