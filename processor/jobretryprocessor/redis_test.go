// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadatatest"
)

func redisConfig(srv *redistest.Server) *Config {
	cfg := NewDefaultConfig()
	cfg.State.Backend = statestore.BackendRedis
	cfg.State.Redis.Endpoint = srv.Addr()
	cfg.State.Redis.Timeout = 2 * time.Second // a shared 2-core machine
	return cfg
}

// riverRun appends an otelriver work span: River records the attempt.
func riverRun(ss ptrace.ScopeSpans, id int64, attempt int64, failed bool, end time.Time) {
	span := ss.Spans().AppendEmpty()
	span.SetKind(ptrace.SpanKindConsumer)
	span.SetName("river.work")
	span.SetTraceID(pcommon.TraceID{2, byte(id), byte(attempt)})
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	attrs := span.Attributes()
	attrs.PutInt("id", id)
	attrs.PutStr("kind", "sync_inventory")
	attrs.PutStr("queue", "default")
	attrs.PutInt("attempt", attempt)
	status := "ok"
	if failed {
		status = "error"
		span.Status().SetCode(ptrace.StatusCodeError)
		span.Status().SetMessage("inventory upstream: 503 Service Unavailable")
	}
	attrs.PutStr("status", status)
}

// loopBatches builds the retry loops of 4 Sidekiq jobs (counted by jid, and
// with a shared store marked by their trace and span ids) and 4 River jobs
// (attempt numbers), runs interleaved in time order, in batches of 3 spans. Each job runs `runs` times; with succeed, the last run
// succeeds.
func loopBatches(start time.Time, runs int, succeed bool) []ptrace.Traces {
	var batches []ptrace.Traces
	var ss ptrace.ScopeSpans
	n := 0
	for r := range runs {
		failed := !succeed || r < runs-1
		for j := range 8 {
			if n%3 == 0 {
				td := ptrace.NewTraces()
				batches = append(batches, td)
				ss = td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
				ss.Scope().SetName("github.com/riverqueue/rivercontrib/otelriver")
			}
			n++
			end := start.Add(time.Duration(r)*time.Minute + time.Duration(j)*time.Second)
			if j < 4 {
				sidekiqRun{jid: fmt.Sprintf("jid-%d", j), class: "HardJob", failed: failed, end: end,
					spanID: pcommon.SpanID{1, byte(r), byte(j)}}.appendTo(ss)
			} else {
				riverRun(ss, int64(100+j), int64(r+1), failed, end)
			}
		}
	}
	return batches
}

// jobOf names a span's job for the test.
func jobOf(span ptrace.Span) string {
	if id, ok := span.Attributes().Get("id"); ok {
		return "river/" + id.AsString()
	}
	id, _ := span.Attributes().Get("messaging.message_id")
	return "sidekiq/" + id.AsString()
}

// collect gathers the retry counts per job and the alerts (job, state,
// retries-independent level) of several sinks.
func collect(sinks []*consumertest.TracesSink) (counts map[string][]int64, alerts map[string]int) {
	counts, alerts = map[string][]int64{}, map[string]int{}
	for _, sink := range sinks {
		for _, td := range sink.AllTraces() {
			jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
				counts[jobOf(span)] = append(counts[jobOf(span)], retryCount(span.Attributes()))
			})
		}
		for _, a := range spanAlerts(sink.AllTraces()) {
			key := jobOf(a.span) + " " + a.attrs["alert.state"].(string)
			if l, ok := a.attrs["alert.escalation_level"]; ok {
				key += fmt.Sprint(" level ", l)
			}
			alerts[key]++
		}
	}
	for _, c := range counts {
		slices.Sort(c)
	}
	return counts, alerts
}

func seq(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i)
	}
	return out
}

// Three replicas behind a round-robin load balancer share one Redis: each
// alert is raised once overall, and each resolution claimed once.
func TestScaleOutOverRedis(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
	var ps []processor.Traces
	var sinks []*consumertest.TracesSink
	for range 3 {
		p, sink := newTraces(t, redisConfig(srv), clock)
		ps, sinks = append(ps, p), append(sinks, sink)
	}
	batches := loopBatches(testStart, 10, true)
	for i, td := range batches {
		require.NoError(t, ps[i%3].ConsumeTraces(context.Background(), td))
	}

	counts, alerts := collect(sinks)
	require.Len(t, counts, 8)
	want := map[string]int{}
	for job, c := range counts {
		assert.Equal(t, seq(10), c, "%s: every run counted once, by one replica", job)
		want[job+" firing level 1"] = 1 // at 4 retries
		want[job+" firing level 2"] = 1 // at 7
		want[job+" resolved"] = 1       // the 10th run succeeded
	}
	assert.Equal(t, want, alerts)
}

// The same, with the replicas running at once: the exactly-once answers
// come from the store, whatever the interleaving. The runs of a job here
// reach the replicas out of order (real retries are seconds to hours
// apart): when a replica raises level 2 before another raised level 1,
// level 1 is skipped, never raised twice.
func TestScaleOutOverRedisConcurrently(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
	batches := loopBatches(testStart, 12, false)
	var sinks []*consumertest.TracesSink
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for r := range 3 {
		p, sink := newTraces(t, redisConfig(srv), clock)
		sinks = append(sinks, sink)
		wg.Go(func() {
			for i := r; i < len(batches); i += 3 {
				if err := p.ConsumeTraces(context.Background(), batches[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	counts, alerts := collect(sinks)
	require.Len(t, counts, 8)
	for job, c := range counts {
		assert.Equal(t, seq(12), c, "%s: each count given once", job)
		assert.Equal(t, 1, alerts[job+" firing level 2"], "%s: the top level, once (11 retries; level 3 needs 13)", job)
		assert.LessOrEqual(t, alerts[job+" firing level 1"], 1, job)
		delete(alerts, job+" firing level 1")
		delete(alerts, job+" firing level 2")
	}
	assert.Empty(t, alerts, "nothing else")
}

// One batch of ops is one pipeline: one round trip per batch that needs
// the store, also when alerts fire, escalate or resolve in it (the store
// decides on the new counts), none for a batch that needs nothing.
func TestRedisRoundTripsPerBatch(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redisConfig(srv)
	client, err := cfg.State.Redis.NewClient(context.Background(), cfg.State.Redis.Timeout)
	require.NoError(t, err)
	var counter redisclient.Counter
	client.AddHook(&counter)
	clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
	p, err := newRetryProcessorWithStore(processortest.NewNopSettings(metadata.Type), cfg, clock, statestore.NewRedis(client, "rt:", cfg.State.Redis.Timeout), nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })

	var trips []int64
	for _, td := range loopBatches(testStart, 10, true) {
		counter.Reset()
		_, err := p.processTraces(context.Background(), td)
		require.NoError(t, err)
		trips = append(trips, counter.RoundTrips())
	}
	// Span k of the 80 is run k/8 of job k%8 (0-3 Sidekiq, 4-7 River), 3
	// spans a batch. A batch needs the store when it counts a Sidekiq run,
	// or a River run past 3 retries (failing or succeeding); Sidekiq runs
	// past 3 retries fire, escalate and resolve in the same round trip, and
	// their dedupe marks are set in it.
	require.Len(t, trips, 27)
	decided := 0
	for b, got := range trips {
		var want int64
		for k := 3 * b; k < min(3*b+3, 80); k++ {
			run, sidekiq := k/8, k%8 < 4
			if sidekiq || run >= 4 {
				want = 1
			}
			if sidekiq && run >= 4 {
				decided++
			}
		}
		assert.Equal(t, want, got, "batch %d", b)
	}
	assert.Equal(t, 24, decided, "Sidekiq runs past their threshold, all in single round trips")
}

// While Redis is down the data keeps flowing, counted in local memory; when
// Redis is back the processor returns to it.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := redisConfig(srv)
	cfg.State.Redis.Timeout = 500 * time.Millisecond
	p, sink := newTraces(t, cfg, clock, metadatatest.NewSettings(tel))
	batches := loopBatches(testStart, 3, false)

	require.NoError(t, p.ConsumeTraces(context.Background(), batches[0]))
	srv.Stop()
	for _, td := range batches[1:4] {
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	assert.Equal(t, 12, sink.SpanCount(), "nothing lost")
	metadatatest.AssertEqualProcessorJobRetryStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	for _, td := range sink.AllTraces()[1:] {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			assert.GreaterOrEqual(t, retryCount(span.Attributes()), int64(0), "counted locally: %s", jobOf(span))
		})
	}

	srv.Restart()
	clock.Advance(cfg.State.Redis.RetryInterval + time.Second)
	for _, td := range batches[4:] {
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	metadatatest.AssertEqualProcessorJobRetryStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	keys, err := srv.Client(t).Keys(context.Background(), "*").Result()
	require.NoError(t, err)
	assert.NotEmpty(t, keys, "counting in Redis again")
}

// A Redis that refuses the connection's set-up (a wrong password, a db it
// lacks, a user without a command the store needs) is an outage: alerts
// keep coming from local memory, the real cause is logged once, the
// fallback gauge says so, and the store returns to Redis once the server
// accepts it.
func TestRedisRefusesConnection(t *testing.T) {
	ctx := context.Background()
	for _, tc := range redistest.RefusedSetUps() {
		t.Run(tc.Name, func(t *testing.T) {
			srv, admin := tc.Start(t)

			clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			set := metadatatest.NewSettings(tel)
			core, logs := observer.New(zap.InfoLevel)
			set.Logger = zap.New(core)
			cfg := redisConfig(srv)
			cfg.State.Redis.Config = redisclient.Config{Endpoint: srv.Addr(), Username: tc.Username, Password: configopaque.String(tc.Password), DB: tc.DB}
			p, sink := newTraces(t, cfg, clock, set)

			batches := loopBatches(testStart, 10, false)
			for _, td := range batches {
				require.NoError(t, p.ConsumeTraces(ctx, td))
			}
			_, alerts := collect([]*consumertest.TracesSink{sink})
			assert.Len(t, alerts, 16, "every job fires at 4 and 7 retries, decided in local memory: %v", alerts)
			metadatatest.AssertEqualProcessorJobRetryStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
			warned := logs.FilterMessageSnippet("unavailable").All()
			require.Len(t, warned, 1, "the outage is logged once")
			assert.Contains(t, warned[0].ContextMap()["error"], tc.Cause)
			assert.Empty(t, logs.FilterMessageSnippet("state store failed").All(), "no op failures: %v", logs.All())

			if !tc.Accept(t, admin) {
				return
			}
			clock.Advance(cfg.State.Redis.RetryInterval + time.Second)
			for _, td := range loopBatches(testStart, 1, false) {
				require.NoError(t, p.ConsumeTraces(ctx, td))
			}
			metadatatest.AssertEqualProcessorJobRetryStateFallback(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
			keys, err := admin.Keys(ctx, "*").Result()
			require.NoError(t, err)
			assert.NotEmpty(t, keys, "counting in Redis again")
		})
	}
}

// sidekiqLog appends the log record an instrumented Sidekiq worker writes
// for run r: its job, its outcome and the trace and span ids of its span.
func sidekiqLog(lrs plog.LogRecordSlice, r sidekiqRun, trace pcommon.TraceID) {
	lr := lrs.AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(r.end))
	lr.SetTraceID(trace)
	lr.SetSpanID(r.spanID)
	attrs := lr.Attributes()
	attrs.PutStr("jid", r.jid)
	attrs.PutStr("class", r.class)
	attrs.PutStr("queue", "critical")
	if r.failed {
		attrs.PutStr("event", "job.failed")
		attrs.PutStr("error_class", "Net::ReadTimeout")
	} else {
		attrs.PutStr("event", "job.succeeded")
	}
}

// A traces pipeline and a logs pipeline share one Redis under the default
// key_prefix. Job "both" runs 5 times, each execution reaching the store as
// its span and as its log record (the same trace and span ids): it counts
// once, so it fires level 1 once (4 retries), never level 2, and each log
// record reads the count its span left. Job "split" runs 5 times, 3 as spans
// only and 2 as log records only: every execution counts.
func TestSpansAndLogsCountOnce(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
	traces, spanSink := newTraces(t, redisConfig(srv), clock)
	logs, logSink := newLogs(t, redisConfig(srv), clock)
	ctx := context.Background()
	for r := range 5 {
		for j, jid := range []string{"both", "split"} {
			run := sidekiqRun{jid: jid, class: "HardJob", failed: true,
				end: testStart.Add(time.Duration(r)*time.Minute + time.Duration(j)*time.Second), spanID: pcommon.SpanID{9, byte(j), byte(r)}}
			td := sidekiqBatch(run)
			ld := plog.NewLogs()
			sidekiqLog(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords(), run,
				td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).TraceID())
			if jid == "both" || r < 3 {
				require.NoError(t, traces.ConsumeTraces(ctx, td))
			}
			if jid == "both" || r >= 3 {
				require.NoError(t, logs.ConsumeLogs(ctx, ld))
			}
		}
	}

	counts := map[string][]int64{}
	var alerts []string
	for _, td := range spanSink.AllTraces() {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			id, _ := span.Attributes().Get("messaging.message_id")
			counts[id.Str()+" span"] = append(counts[id.Str()+" span"], retryCount(span.Attributes()))
		})
	}
	for _, a := range spanAlerts(spanSink.AllTraces()) {
		alerts = append(alerts, fmt.Sprint(a.attrs["messaging.message.id"], " ", a.attrs["alert.state"], " level ", a.attrs["alert.escalation_level"]))
	}
	for _, ld := range logSink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, lr := range rl.ScopeLogs().At(0).LogRecords().All() {
				if id, ok := lr.Attributes().Get("jid"); ok {
					counts[id.Str()+" log"] = append(counts[id.Str()+" log"], retryCount(lr.Attributes()))
				}
			}
		}
	}
	for _, a := range logAlerts(logSink.AllLogs()) {
		alerts = append(alerts, fmt.Sprint(a.attrs["messaging.message.id"], " ", a.attrs["alert.state"], " level ", a.attrs["alert.escalation_level"]))
	}
	assert.Equal(t, map[string][]int64{
		"both span": {0, 1, 2, 3, 4}, "both log": {0, 1, 2, 3, 4},
		"split span": {0, 1, 2}, "split log": {3, 4},
	}, counts)
	assert.ElementsMatch(t, []string{"both firing level 1", "split firing level 1"}, alerts)
}

// statusHost records the component status the processor reports.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, ev)
}

func (h *statusHost) statuses() []componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []componentstatus.Status
	for _, ev := range h.events {
		out = append(out, ev.Status())
	}
	return out
}

// A Redis outage is the processor's component status, as contrib exporters
// report their backends': a recoverable error when it starts, OK when Redis
// is back; data flows meanwhile.
func TestRedisOutageStatus(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(testStart.Add(time.Hour))
	cfg := redisConfig(srv)
	cfg.State.Redis.Timeout = 500 * time.Millisecond
	sink := new(consumertest.TracesSink)
	p, err := NewFactory().CreateTraces(testCtx(clock), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	host := &statusHost{Host: componenttest.NewNopHost()}
	require.NoError(t, p.Start(context.Background(), host))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	batches := loopBatches(testStart, 3, false)
	spans := 0
	for _, td := range batches {
		spans += td.SpanCount()
	}

	require.NoError(t, p.ConsumeTraces(context.Background(), batches[0]))
	assert.Empty(t, host.statuses(), "nothing to report while Redis answers")
	srv.Stop()
	for _, td := range batches[1:4] {
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	require.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError}, host.statuses(), "once per outage")
	assert.ErrorIs(t, host.events[0].Err(), statestore.ErrUnavailable)

	srv.Restart()
	clock.Advance(cfg.State.Redis.RetryInterval + time.Second)
	for _, td := range batches[4:] {
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	assert.Equal(t, []componentstatus.Status{componentstatus.StatusRecoverableError, componentstatus.StatusOK}, host.statuses())
	assert.Equal(t, spans, sink.SpanCount(), "nothing lost")
}
