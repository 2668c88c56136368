// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadatatest"
)

// BenchmarkFailureCluster runs the failure_cluster processor and its
// yardsticks on the same 10,000-span batches built from the real captures
// as job_retry's (docs/benchmarks.md):
//
//	mixed   1 span in 10 a job execution, the rest HTTP client spans
//	jobs    every span a job execution (the captures' mix: 30 of 184 failed)
//	failed  every span a failed job execution, as during an outage
//
// Yardsticks: floor (a loop that only reads the job attributes),
// map_counter (floor + a run counter per job in a Go map) and contrib's
// span_metrics connector; extract is the processor's own first step alone
// (internal/jobevent on every span, the clock read once per batch), to tell
// its cost from the detector's. Between runs, with the timer stopped, the
// batch loses what the processor added (annotations, alert events), so each
// run sees it as it came in: its clusters fire once and stay firing, the
// steady state of an incident, and every failure of them is annotated
// again. Over Redis its executions are marked by their trace and span ids:
// from the second run on, the store finds the marks and reads the counts
// rather than adding to them (the same work). The annotations then reuse the attribute capacity left by the
// removed ones, so allocs/span leaves out the growth a freshly decoded span
// may need for them.
func BenchmarkFailureCluster(b *testing.B) {
	batches := []struct {
		name string
		td   ptrace.Traces
	}{
		{"mixed", jobbenchtest.MixedBatch(b, jobbenchtest.BatchSize, 10)},
		{"jobs", jobbenchtest.JobBatch(b, jobbenchtest.BatchSize)},
		{"failed", jobbenchtest.FailedBatch(b, jobbenchtest.BatchSize)},
	}
	for _, bt := range batches {
		b.Run(bt.name+"/floor", func(b *testing.B) {
			jobbenchtest.PerSpan(b, jobbenchtest.BatchSize, func() { jobbenchtest.Floor(bt.td) })
		})
		b.Run(bt.name+"/map_counter", func(b *testing.B) {
			c := jobbenchtest.NewMapCounter(statestore.NewDefaultConfig().MaxEntries)
			jobbenchtest.PerSpan(b, jobbenchtest.BatchSize, func() { c.Count(bt.td) })
		})
		b.Run(bt.name+"/span_metrics", func(b *testing.B) {
			sm := jobbenchtest.NewSpanMetrics(b)
			jobbenchtest.PerSpan(b, jobbenchtest.BatchSize, func() { _ = sm.ConsumeTraces(context.Background(), bt.td) })
		})
		b.Run(bt.name+"/extract", func(b *testing.B) {
			x, err := jobevent.NewExtractor(jobevent.Config{})
			require.NoError(b, err)
			jobbenchtest.PerSpan(b, jobbenchtest.BatchSize, func() { jobbenchtest.Extract(x, bt.td) })
		})
		fresh := func() { unannotate(bt.td) }
		b.Run(bt.name+"/failure_cluster_memory", func(b *testing.B) {
			tel := benchTelemetry(b)
			p, _ := newTraces(b, NewDefaultConfig(), clockwork.NewRealClock(), metadatatest.NewSettings(tel))
			jobbenchtest.PerSpanWithSetup(b, jobbenchtest.BatchSize, fresh, func() {
				if err := p.ConsumeTraces(context.Background(), bt.td); err != nil {
					b.Fatal(err)
				}
			})
			requireDetected(b, tel, bt.td)
		})
		b.Run(bt.name+"/failure_cluster_redis", func(b *testing.B) {
			tel := benchTelemetry(b)
			p, counter := newRedisBench(b, metadatatest.NewSettings(tel))
			jobbenchtest.PerSpanWithSetup(b, jobbenchtest.BatchSize, fresh, func() { _, _ = p.processTraces(context.Background(), bt.td) })
			b.ReportMetric(float64(counter.RoundTrips())/float64(b.N), "roundtrips/batch")
			requireDetected(b, tel, bt.td)
		})
	}
}

// unannotate removes what the processor adds to a batch: the annotations
// and the alert events.
func unannotate(td ptrace.Traces) {
	jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
		span.Attributes().Remove(AttrClusterID)
		span.Attributes().Remove(AttrDependencyID)
		span.Events().RemoveIf(func(ev ptrace.SpanEvent) bool { return ev.Name() == alert.EventName })
	})
}

func benchTelemetry(b *testing.B) *componenttest.Telemetry {
	tel := componenttest.NewTelemetry()
	b.Cleanup(func() { require.NoError(b, tel.Shutdown(context.Background())) })
	return tel
}

// requireDetected fails a benchmark that timed a no-op: a run whose state
// operations failed (the processor passes the data on regardless), that
// raised no alert (every batch holds a cluster, which fires in the first
// run), or whose last run annotated no failure with its firing cluster.
func requireDetected(b *testing.B, tel *componenttest.Telemetry, td ptrace.Traces) {
	b.Helper()
	if n := sumOf(tel, "otelcol_processor_failure_cluster_state_errors"); n > 0 {
		b.Fatalf("%d batches failed in the state store", n)
	}
	if sumOf(tel, "otelcol_processor_failure_cluster_alerts") == 0 {
		b.Fatal("no alert raised")
	}
	annotated := 0
	jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
		if _, ok := span.Attributes().Get(AttrClusterID); ok {
			annotated++
		}
	})
	if annotated == 0 {
		b.Fatal("no failure annotated with its cluster")
	}
}

// sumOf adds up the data points of a counter; 0 when it never counted.
func sumOf(tel *componenttest.Telemetry, name string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0 // not recorded
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// newRedisBench is the processor over a real Redis store whose client counts
// round trips.
func newRedisBench(b *testing.B, set processor.Settings) (*clusterProcessor, *redisclient.Counter) {
	srv := redistest.Start(b)
	cfg := NewDefaultConfig()
	cfg.State.Backend = statestore.BackendRedis // executions marked for dedupe, as in a collector
	cfg.State.Redis.Endpoint = srv.Addr()
	client, err := cfg.State.Redis.NewClient(context.Background(), 2*time.Second)
	require.NoError(b, err)
	counter := new(redisclient.Counter)
	client.AddHook(counter)
	p, err := newClusterProcessorWithStore(set, cfg, clockwork.NewRealClock(),
		statestore.NewRedis(client, cfg.State.Redis.KeyPrefix, 2*time.Second), nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.shutdown(context.Background())) })
	return p, counter
}

// Spans that are not job executions cost no allocation: a batch of them
// passes through untouched.
func TestNonJobSpansDoNotAllocate(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	p, err := newClusterProcessor(context.Background(), processortest.NewNopSettings(metadata.Type), NewDefaultConfig(), clock)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })
	td, ss := newScopeSpans()
	for range 1000 {
		httpSpan(ss)
	}
	_, _ = p.processTraces(context.Background(), td) // warm the pool
	allocs := testing.AllocsPerRun(100, func() { _, _ = p.processTraces(context.Background(), td) })
	assert.Zero(t, allocs)
}
