// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/servicegraphconnector"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// enqueueBatch is n spans or a few more: copies of the two real captures of
// jobs enqueueing jobs, each copy in traces of its own.
func enqueueBatch(tb testing.TB, n int) ptrace.Traces {
	tb.Helper()
	var src []ptrace.Traces
	for _, dir := range []string{"bullmq-otel-enqueue", "river-otelriver-enqueue"} {
		src = append(src, capture(tb, dir)...)
	}
	out := ptrace.NewTraces()
	for c := 0; out.SpanCount() < n; c++ {
		for _, td := range src {
			cp := ptrace.NewTraces()
			td.CopyTo(cp)
			setTraceIDs(cp, 12, uint32(c))
			cp.ResourceSpans().MoveAndAppendTo(out.ResourceSpans())
		}
	}
	return out
}

// setTraceIDs writes v into bytes at..at+3 of every trace id of td, links
// included: a copy of a workflow, or a new generation of the same batch.
func setTraceIDs(td ptrace.Traces, at int, v uint32) {
	jobbenchtest.ForEachSpan(td, func(s ptrace.Span) {
		t := s.TraceID()
		binary.BigEndian.PutUint32(t[at:], v)
		s.SetTraceID(t)
		for _, l := range s.Links().All() {
			t := l.TraceID()
			binary.BigEndian.PutUint32(t[at:], v)
			l.SetTraceID(t)
		}
	})
}

// benchPending is both connectors' store of pending halves in the
// benchmark: room for every half of every run, so that both do their whole
// work on every span (with their default 1,000 and 10,000, a batch of
// 10,000 spans a run fills them, and they time dropping halves).
const benchPending = 1_000_000

func newServiceGraph(tb testing.TB) consumer.Traces {
	tb.Helper()
	f := servicegraphconnector.NewFactory()
	ctx := context.Background()
	cfg := f.CreateDefaultConfig().(*servicegraphconnector.Config)
	cfg.Store.MaxItems = benchPending
	c, err := f.CreateTracesToMetrics(ctx, connectortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	require.NoError(tb, err)
	require.NoError(tb, c.Start(ctx, componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, c.Shutdown(context.Background())) })
	return c
}

func newBenchConnector(tb testing.TB, cfg *Config, clock clockwork.Clock, logs bool) *jobGraph {
	tb.Helper()
	ctx := clockwork.AddToContext(context.Background(), clock)
	set := connectortest.NewNopSettings(metadata.Type)
	var c any
	var err error
	if logs {
		c, err = createTracesToLogs(ctx, set, cfg, consumertest.NewNop())
	} else {
		c, err = createTracesToMetrics(ctx, set, cfg, consumertest.NewNop())
	}
	require.NoError(tb, err)
	g := c.(*jobGraph)
	// Not started: its once-a-second tick (expiry, metrics flush) is no
	// per-span cost, and would run beside the timed batches.
	tb.Cleanup(func() { require.NoError(tb, g.Shutdown(context.Background())) })
	return g
}

// BenchmarkJobGraph is the connector's cost per span against contrib's
// servicegraph connector on the same batches: the job processors' mixed
// (1 span in 10 a job execution, the rest HTTP client spans) and jobs
// batches, and enqueues (copies of the real BullMQ and River captures of
// jobs that enqueue jobs: executions, producer spans, bookkeeping spans).
// Each run gets new trace ids (outside the timer), so every enqueue and
// every pending half is new. Both connectors flush metrics every minute
// (their default) and hold up to benchPending halves; job_graph's clock
// moves past pending_ttl between runs, so each run also expires the
// previous run's halves, as servicegraph's store expires its own every 2 s.
// job_graph_logs is the traces -> logs instance, which also keeps the edge
// set in the state store and looks for cycles.
func BenchmarkJobGraph(b *testing.B) {
	batches := []struct {
		name string
		td   ptrace.Traces
	}{
		{"mixed", jobbenchtest.MixedBatch(b, jobbenchtest.BatchSize, 10)},
		{"jobs", jobbenchtest.JobBatch(b, jobbenchtest.BatchSize)},
		{"enqueues", enqueueBatch(b, jobbenchtest.BatchSize)},
	}
	srv := redistest.Start(b)
	for _, bt := range batches {
		spans := bt.td.SpanCount()
		var gen uint32
		clock := clockwork.NewFakeClock()
		cfg := func() *Config {
			c := NewDefaultConfig()
			c.MaxPending = benchPending
			return c
		}
		fresh := func() {
			gen++
			setTraceIDs(bt.td, 8, gen)
			clock.Advance(cfg().PendingTTL)
		}
		run := func(b *testing.B, c consumer.Traces) {
			jobbenchtest.PerSpanWithSetup(b, spans, fresh, func() {
				if err := c.ConsumeTraces(context.Background(), bt.td); err != nil {
					b.Fatal(err)
				}
			})
		}
		b.Run(bt.name+"/servicegraph", func(b *testing.B) { run(b, newServiceGraph(b)) })
		b.Run(bt.name+"/job_graph", func(b *testing.B) {
			c := newBenchConnector(b, cfg(), clock, false)
			run(b, c)
			if bt.name == "enqueues" && c.edges.Len() == 0 {
				b.Fatal("no edge found: the benchmark timed a no-op")
			}
		})
		b.Run(bt.name+"/job_graph_logs_memory", func(b *testing.B) { run(b, newBenchConnector(b, cfg(), clock, true)) })
		b.Run(bt.name+"/job_graph_logs_redis", func(b *testing.B) {
			rcfg := cfg()
			rcfg.State.Backend = statestore.BackendRedis
			rcfg.State.Redis.Endpoint = srv.Addr()
			rcfg.State.Redis.KeyPrefix = b.Name() + ":"
			c := newBenchConnector(b, rcfg, clock, true)
			counter := useCountedRedis(b, c, srv, b.Name()+":")
			run(b, c)
			// One per batch; the connector is not started, so no tick adds any.
			if rt := counter.RoundTrips(); rt != int64(b.N) {
				b.Fatalf("%d Redis round trips for %d batches", rt, b.N)
			}
		})
	}
}

// Spans that are no job execution and no producer span cost no allocation:
// the HTTP spans of the mixed batch, as CLIENT, INTERNAL, SERVER and
// PRODUCER spans.
func TestNonJobSpansDoNotAllocate(t *testing.T) {
	td := jobbenchtest.MixedBatch(t, 10_000, 10)
	for _, rs := range td.ResourceSpans().All() {
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool {
			return ss.Scope().Name() != "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
		})
	}
	kinds := []ptrace.SpanKind{ptrace.SpanKindClient, ptrace.SpanKindInternal, ptrace.SpanKindServer, ptrace.SpanKindProducer}
	i := 0
	jobbenchtest.ForEachSpan(td, func(s ptrace.Span) { s.SetKind(kinds[i%4]); i++ })
	require.Equal(t, 9000, td.SpanCount())
	for _, logs := range []bool{false, true} {
		c := newBenchConnector(t, NewDefaultConfig(), clockwork.NewRealClock(), logs)
		require.NoError(t, c.ConsumeTraces(context.Background(), td)) // the first sync reads the state store
		allocs := testing.AllocsPerRun(20, func() {
			if err := c.ConsumeTraces(context.Background(), td); err != nil {
				t.Fatal(err)
			}
		})
		require.Zero(t, allocs, "logs instance: %v", logs)
	}
}
