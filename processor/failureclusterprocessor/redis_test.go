// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadatatest"
)

// replica is one collector's processor over the shared Redis, driven
// directly (processTraces, sweep) so that a test knows when each is done.
type replica struct {
	p       *clusterProcessor
	counter *redisclient.Counter
}

func newReplicas(t *testing.T, srv *redistest.Server, clock clockwork.Clock, n int) []replica {
	t.Helper()
	out := make([]replica, n)
	for i := range out {
		cfg := redisclient.Config{Endpoint: srv.Addr()}
		client, err := cfg.NewClient(context.Background(), 2*time.Second)
		require.NoError(t, err)
		counter := new(redisclient.Counter)
		client.AddHook(counter)
		store := statestore.NewRedis(client, "fc-test:", 2*time.Second, statestore.WithClock(clock))
		pcfg := NewDefaultConfig()
		pcfg.State.Backend = statestore.BackendRedis // executions marked for dedupe, as in a collector
		p, err := newClusterProcessorWithStore(processortest.NewNopSettings(metadata.Type), pcfg, clock, store, nil)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })
		out[i] = replica{p: p, counter: counter}
	}
	return out
}

// outage is the workload: ChargeJob fails 30 times (fires past 10,
// escalates past 20), SyncJob 12 times, one database error fails four
// other classes twice each (a dependency outage), and a scattered class
// fails 5 times, among 60 successes; shuffled, in batches of 4 spans.
func outage(at time.Time) []ptrace.Traces {
	type exec struct{ class, errType, message string }
	var execs []exec
	add := func(n int, class, errType, message string) {
		for range n {
			execs = append(execs, exec{class, errType, message})
		}
	}
	add(30, "ChargeJob", "Faraday::ConnectionFailed", "Failed to open TCP connection to api.stripe.com:443 (Connection refused)")
	add(12, "SyncJob", "Faraday::ServerError", "the server responded with status 503")
	for i, class := range []string{"InvoiceJob", "ReportJob", "MailJob", "ExportJob"} {
		for k := range 2 {
			add(1, class, "PG::ConnectionBad", fmt.Sprintf("Timeout after %ds to 10.0.0.%d:5432", 30+k, i))
		}
	}
	add(5, "ScatteredJob", "ArgumentError", "wrong number of arguments")
	add(60, "ChargeJob", "", "")
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(execs), func(i, j int) { execs[i], execs[j] = execs[j], execs[i] })

	var batches []ptrace.Traces
	var ss ptrace.ScopeSpans
	for i, e := range execs {
		if i%4 == 0 {
			var td ptrace.Traces
			td, ss = newScopeSpans()
			batches = append(batches, td)
		}
		sidekiqSpan(ss, e.class, fmt.Sprintf("jid-%03d", i), at.Add(time.Duration(i)*time.Millisecond), e.errType, e.message)
	}
	return batches
}

// alertKey names an alert event for counting: rule, class or fingerprint,
// state and level.
func alertKey(attrs map[string]any) string {
	subject := attrs["jobqueue.job.class"]
	if attrs["alert.name"] == string(alert.DependencyFailure) {
		subject = attrs["alert.fingerprint"]
	}
	return fmt.Sprint(attrs["alert.name"], " ", subject, " ", attrs["alert.state"], " level ", attrs["alert.level"])
}

var (
	chargeFiring = "failure_cluster ChargeJob firing level 1"
	chargeUp     = "failure_cluster ChargeJob firing level 2"
	syncFiring   = "failure_cluster SyncJob firing level 1"
	dbFiring     = "dependency_failure PG::ConnectionBad: Timeout after <n>s to <addr> firing level 1"
)

// sweepAll runs every replica's resolution sweep and counts the records.
func sweepAll(t *testing.T, replicas []replica, got map[string]int) {
	t.Helper()
	for _, r := range replicas {
		for _, a := range r.p.sweep(context.Background()) {
			lr := newAlertAttrs(a)
			got[alertKey(lr)]++
		}
	}
}

func newAlertAttrs(a alert.Alert) map[string]any {
	td, ss := newScopeSpans()
	a.AddSpanEvent(httpSpan(ss))
	return spanAlerts([]ptrace.Traces{td})[0].attrs
}

// Three replicas behind a round-robin load balancer share one Redis: each
// alert is raised once overall, each resolution claimed once, and a batch
// costs one Redis round trip, also when an alert fires or escalates in it.
func TestScaleOutOverRedis(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	replicas := newReplicas(t, srv, clock, 3)
	got := map[string]int{}
	for i, td := range outage(t0.Add(-time.Minute)) {
		r := replicas[i%3]
		before := r.counter.RoundTrips()
		_, err := r.p.processTraces(context.Background(), td)
		require.NoError(t, err)
		assert.Equal(t, int64(1), r.counter.RoundTrips()-before, "batch %d", i)
		for _, a := range spanAlerts([]ptrace.Traces{td}) {
			got[alertKey(a.attrs)]++
		}
	}
	assert.Equal(t, map[string]int{chargeFiring: 1, chargeUp: 1, syncFiring: 1, dbFiring: 1}, got)

	// Five minutes on the database error is gone from every class; an hour
	// on, every failure has left the window. Every replica sweeps.
	clear(got)
	clock.Advance(5 * time.Minute)
	sweepAll(t, replicas, got)
	assert.Equal(t, map[string]int{"dependency_failure PG::ConnectionBad: Timeout after <n>s to <addr> resolved level 1": 1}, got)
	// An hour on: a ChargeJob success reaches each replica; the first
	// resolves the cluster in its batch's one round trip, the others find it
	// resolved. The sweep resolves SyncJob, which no event arrives for.
	clear(got)
	clock.Advance(time.Hour)
	for i, r := range replicas {
		td, ss := newScopeSpans()
		sidekiqSpan(ss, "ChargeJob", fmt.Sprintf("jid-ok-%d", i), clock.Now(), "", "")
		before := r.counter.RoundTrips()
		_, err := r.p.processTraces(context.Background(), td)
		require.NoError(t, err)
		assert.Equal(t, int64(1), r.counter.RoundTrips()-before, "replica %d", i)
		for _, a := range spanAlerts([]ptrace.Traces{td}) {
			got[alertKey(a.attrs)]++
		}
	}
	assert.Equal(t, map[string]int{"failure_cluster ChargeJob resolved level 2": 1}, got)
	clear(got)
	sweepAll(t, replicas, got)
	assert.Equal(t, map[string]int{"failure_cluster SyncJob resolved level 1": 1}, got)
}

// The same with the replicas running at once: the exactly-once answers
// come from the store, whatever the interleaving. A replica may raise
// ChargeJob's level 2 before another raised level 1; then level 1 is
// skipped, never raised twice.
func TestScaleOutOverRedisConcurrently(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	replicas := newReplicas(t, srv, clock, 3)
	batches := outage(t0.Add(-time.Minute))
	var wg sync.WaitGroup
	for k, r := range replicas {
		wg.Go(func() {
			for i := k; i < len(batches); i += len(replicas) {
				_, err := r.p.processTraces(context.Background(), batches[i])
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	got := map[string]int{}
	for _, td := range batches {
		for _, a := range spanAlerts([]ptrace.Traces{td}) {
			got[alertKey(a.attrs)]++
		}
	}
	assert.Equal(t, 1, got[chargeUp], "the top level, once")
	assert.LessOrEqual(t, got[chargeFiring], 1)
	delete(got, chargeFiring)
	assert.Equal(t, map[string]int{chargeUp: 1, syncFiring: 1, dbFiring: 1}, got)

	clear(got)
	clock.Advance(2 * time.Hour)
	var swept sync.WaitGroup
	var mu sync.Mutex
	for _, r := range replicas {
		swept.Go(func() {
			resolved := r.p.sweep(context.Background())
			mu.Lock()
			defer mu.Unlock()
			for _, a := range resolved {
				got[alertKey(newAlertAttrs(a))]++
			}
		})
	}
	swept.Wait()
	assert.Equal(t, map[string]int{
		"failure_cluster ChargeJob resolved level 2":                                          1,
		"failure_cluster SyncJob resolved level 1":                                            1,
		"dependency_failure PG::ConnectionBad: Timeout after <n>s to <addr> resolved level 1": 1,
	}, got)
}

// Redis down: batches go to local memory, alerts still fire, data passes,
// and the processor's telemetry says so; Redis back: batches go to it again.
func TestRedisOutage(t *testing.T) {
	srv := redistest.Start(t)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := NewDefaultConfig()
	cfg.State.Backend = statestore.BackendRedis
	cfg.State.Redis.Endpoint = srv.Addr()
	cfg.State.Redis.Timeout = time.Second
	clock := clockwork.NewFakeClockAt(t0)
	p, sink := newTraces(t, cfg, clock, metadatatest.NewSettings(tel))
	fallback := func() int64 {
		m, err := tel.GetMetric("otelcol_processor_failure_cluster_state_fallback")
		require.NoError(t, err)
		return m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
	}

	srv.Stop()
	td, ss := newScopeSpans()
	for i := range 11 {
		sidekiqSpan(ss, "PaymentJob", fmt.Sprintf("jid-%d", i), t0, "E", "boom")
	}
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	assert.Equal(t, 11, sink.SpanCount(), "the data passes")
	assert.Len(t, spanAlerts(sink.AllTraces()), 1, "decided in local memory")
	assert.Equal(t, int64(1), fallback())

	srv.Restart()
	clock.Advance(cfg.State.Redis.RetryInterval)
	td, ss = newScopeSpans()
	sidekiqSpan(ss, "PaymentJob", "jid-x", t0, "", "")
	require.NoError(t, p.ConsumeTraces(context.Background(), td))
	assert.Equal(t, int64(0), fallback(), "back on Redis")
}

// A Redis that refuses the connection's set-up (a wrong password, a db it
// lacks, a user without a command the store needs) is an outage like a
// server that is down: clusters still fire from local memory, the real
// cause is logged once, and the store returns to Redis once the server
// accepts it.
func TestRedisRefusesConnection(t *testing.T) {
	ctx := context.Background()
	for _, tc := range redistest.RefusedSetUps() {
		t.Run(tc.Name, func(t *testing.T) {
			srv, admin := tc.Start(t)

			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			set := metadatatest.NewSettings(tel)
			core, logs := observer.New(zap.InfoLevel)
			set.Logger = zap.New(core)
			cfg := NewDefaultConfig()
			cfg.State.Backend = statestore.BackendRedis
			cfg.State.Redis.Config = redisclient.Config{Endpoint: srv.Addr(), Username: tc.Username, Password: configopaque.String(tc.Password), DB: tc.DB}
			cfg.State.Redis.Timeout = 2 * time.Second
			clock := clockwork.NewFakeClockAt(t0)
			p, sink := newTraces(t, cfg, clock, set)
			fallback := func() int64 {
				m, err := tel.GetMetric("otelcol_processor_failure_cluster_state_fallback")
				require.NoError(t, err)
				return m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
			}

			for _, td := range outage(t0.Add(-time.Minute)) {
				require.NoError(t, p.ConsumeTraces(ctx, td))
			}
			got := map[string]int{}
			for _, a := range spanAlerts(sink.AllTraces()) {
				got[alertKey(a.attrs)]++
			}
			assert.Equal(t, map[string]int{chargeFiring: 1, chargeUp: 1, syncFiring: 1, dbFiring: 1}, got, "decided in local memory")
			assert.Equal(t, int64(1), fallback())
			warned := logs.FilterMessageSnippet("unavailable").All()
			require.Len(t, warned, 1, "the outage is logged once")
			assert.Contains(t, warned[0].ContextMap()["error"], tc.Cause)
			assert.Empty(t, logs.FilterMessageSnippet("state store failed").All(), "no op failures: %v", logs.All())

			if !tc.Accept(t, admin) {
				return
			}
			clock.Advance(cfg.State.Redis.RetryInterval)
			td, ss := newScopeSpans()
			sidekiqSpan(ss, "PaymentJob", "jid-x", clock.Now(), "E", "boom")
			require.NoError(t, p.ConsumeTraces(ctx, td))
			assert.Equal(t, int64(0), fallback(), "back on Redis")
			keys, err := admin.Keys(ctx, "*").Result()
			require.NoError(t, err)
			assert.NotEmpty(t, keys, "counting in Redis again")
		})
	}
}

// A traces pipeline and a logs pipeline share one Redis under the default
// key_prefix. 8 ChargeJob failures reach the store as their spans and as
// their log records (the same trace and span ids): they count once, so no
// cluster fires (10 is the threshold). 6 more, 3 as spans only and 3 as log
// records only, count too: the cluster fires once, at the 11th failure.
func TestSpansAndLogsCountOnce(t *testing.T) {
	srv := redistest.Start(t)
	cfg := NewDefaultConfig()
	cfg.State.Backend = statestore.BackendRedis
	cfg.State.Redis.Endpoint = srv.Addr()
	cfg.State.Redis.Timeout = 2 * time.Second
	clock := clockwork.NewFakeClockAt(t0)
	traces, spanSink := newTraces(t, cfg, clock)
	logs, logSink := newLogs(t, cfg, clock)
	ctx := context.Background()
	alerts := func() []string {
		var out []string
		for _, a := range spanAlerts(spanSink.AllTraces()) {
			out = append(out, fmt.Sprint(alertKey(a.attrs), " at ", a.attrs["alert.value"]))
		}
		for _, a := range logAlerts(logSink.AllLogs()) {
			out = append(out, fmt.Sprint(alertKey(a.attrs), " at ", a.attrs["alert.value"]))
		}
		return out
	}
	execution := func(i int, asSpan, asLog bool) {
		td, ss := newScopeSpans()
		jid, at := fmt.Sprintf("jid-%02d", i), t0.Add(-time.Minute+time.Duration(i)*time.Second)
		span := sidekiqSpan(ss, "ChargeJob", jid, at, "Stripe::APIConnectionError", "Could not connect to Stripe")
		ld := plog.NewLogs()
		lr := jobLog(ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords(), "ChargeJob", jid, at,
			"Stripe::APIConnectionError", "Could not connect to Stripe")
		lr.SetTraceID(span.TraceID())
		lr.SetSpanID(span.SpanID())
		if asSpan {
			require.NoError(t, traces.ConsumeTraces(ctx, td))
		}
		if asLog {
			require.NoError(t, logs.ConsumeLogs(ctx, ld))
		}
	}

	for i := range 8 {
		execution(i, true, true)
	}
	assert.Empty(t, alerts(), "8 failures, each seen twice")
	for i := 8; i < 14; i++ {
		execution(i, i%2 == 0, i%2 == 1)
	}
	assert.Equal(t, []string{"failure_cluster ChargeJob firing level 1 at 11"}, alerts())
}
