// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/metadata"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

// pair is a metrics instance and a logs instance on one config and clock,
// as a collector with both pipelines has them. Neither is started: tests
// call tick themselves.
type pair struct {
	metrics, logs *jobGraph
	metricSink    *consumertest.MetricsSink
	logSink       *consumertest.LogsSink
	clock         *clockwork.FakeClock
}

func newPair(t *testing.T, cfg *Config) *pair {
	t.Helper()
	p := &pair{metricSink: new(consumertest.MetricsSink), logSink: new(consumertest.LogsSink), clock: clockwork.NewFakeClockAt(t0)}
	ctx := clockwork.AddToContext(context.Background(), p.clock)
	set := connectortest.NewNopSettings(metadata.Type)
	m, err := createTracesToMetrics(ctx, set, cfg, p.metricSink)
	require.NoError(t, err)
	l, err := createTracesToLogs(ctx, set, cfg, p.logSink)
	require.NoError(t, err)
	p.metrics, p.logs = m.(*jobGraph), l.(*jobGraph)
	t.Cleanup(func() {
		require.NoError(t, p.metrics.Shutdown(context.Background()))
		require.NoError(t, p.logs.Shutdown(context.Background()))
	})
	return p
}

func testConfig() *Config {
	cfg := NewDefaultConfig()
	cfg.MetricsFlushInterval = 0 // metrics after every batch
	return cfg
}

func (p *pair) consume(t *testing.T, td ptrace.Traces) {
	t.Helper()
	require.NoError(t, p.metrics.ConsumeTraces(context.Background(), td))
	require.NoError(t, p.logs.ConsumeTraces(context.Background(), td))
}

func (p *pair) tick() {
	p.metrics.tick(context.Background())
	p.logs.tick(context.Background())
}

// edges are the latest jobqueue.graph.enqueues points as
// "system parent -> child @queue" -> count.
func (p *pair) edges(t *testing.T) map[string]int64 {
	t.Helper()
	all := p.metricSink.AllMetrics()
	if len(all) == 0 {
		return nil
	}
	out := map[string]int64{}
	m := all[len(all)-1].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	require.Equal(t, MetricEnqueues, m.Name())
	require.Equal(t, "{job}", m.Unit())
	require.True(t, m.Sum().IsMonotonic())
	for _, dp := range m.Sum().DataPoints().All() {
		a := dp.Attributes().AsRaw()
		out[fmt.Sprintf("%v %v -> %v @%v", a[AttrSystem], a[AttrClass], a[AttrChildClass], a[AttrChildQueue])] = dp.IntValue()
	}
	return out
}

// alertRec is one alert record, reduced to what the tests compare.
type alertRec struct {
	state, cycle, counts string
}

func (p *pair) alerts() []alertRec {
	var out []alertRec
	for _, ld := range p.logSink.AllLogs() {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					out = append(out, alertRec{str(lr, "alert.state"), str(lr, AttrCycle), str(lr, AttrCycleCounts)})
				}
			}
		}
	}
	return out
}

func str(lr plog.LogRecord, key string) string {
	v, _ := lr.Attributes().Get(key)
	return v.AsString()
}

// span describes one span of a synthetic trace.
type span struct {
	kind          ptrace.SpanKind
	scope, name   string
	trace         byte
	id, parent    byte
	links         [][2]byte // trace, span
	attrs         map[string]any
	resourceAttrs map[string]any
}

// traces builds a batch of spans, one resource and scope per span.
func traces(t *testing.T, spans ...span) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	for _, s := range spans {
		rs := td.ResourceSpans().AppendEmpty()
		require.NoError(t, rs.Resource().Attributes().FromRaw(s.resourceAttrs))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName(s.scope)
		sp := ss.Spans().AppendEmpty()
		sp.SetKind(s.kind)
		sp.SetName(s.name)
		sp.SetTraceID(pcommon.TraceID{s.trace, 0xee})
		sp.SetSpanID(pcommon.SpanID{s.id, 0xee})
		if s.parent != 0 {
			sp.SetParentSpanID(pcommon.SpanID{s.parent, 0xee})
		}
		for _, l := range s.links {
			link := sp.Links().AppendEmpty()
			link.SetTraceID(pcommon.TraceID{l[0], 0xee})
			link.SetSpanID(pcommon.SpanID{l[1], 0xee})
		}
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Second)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(t0.Add(-time.Second / 2)))
		require.NoError(t, sp.Attributes().FromRaw(s.attrs))
	}
	return td
}

// capturesDir holds the shared OTLP captures.
var capturesDir = filepath.Join("..", "..", "testdata", "otlp")

// capture reads the raw OTLP request bodies of a capture under testdata/otlp.
func capture(t testing.TB, dir string) []ptrace.Traces {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, dir, "*_v1_traces.binpb"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	slices.Sort(files)
	var out []ptrace.Traces
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b)
		require.NoError(t, err)
		out = append(out, td)
	}
	return out
}
