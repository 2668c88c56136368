// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobbenchtest // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"

import (
	"context"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
)

// The job attributes of the captured conventions (River, AppSignal BullMQ,
// bullmq-otel), looked up by the yardsticks in this order.
var (
	classKeys   = []string{"kind", "messaging.bullmq.job.name", "bullmq.job.name"}
	attemptKeys = []string{"attempt", "messaging.bullmq.job.attempts", "bullmq.job.attempts.made"}
)

func first(attrs pcommon.Map, keys []string) (pcommon.Value, bool) {
	for _, k := range keys {
		if v, ok := attrs.Get(k); ok {
			return v, true
		}
	}
	return pcommon.Value{}, false
}

// job reads a span's job attributes. It knows no convention beyond the key
// lists above: it is what any job-aware component must at least do.
type job struct {
	id, class pcommon.Value
	attempt   int64
	failed    bool
}

func readJob(span ptrace.Span, j *job) bool {
	if span.Kind() != ptrace.SpanKindConsumer {
		return false
	}
	attrs := span.Attributes()
	id, ok := first(attrs, idKeys)
	if !ok {
		return false
	}
	j.id = id
	j.class, _ = first(attrs, classKeys)
	j.attempt = 0
	if a, ok := first(attrs, attemptKeys); ok {
		j.attempt = a.Int()
	}
	j.failed = span.Status().Code() == ptrace.StatusCodeError
	return true
}

// Floor is the cost floor of a job-aware processor: it walks the batch and
// reads the job id, class, attempt and status of every CONSUMER span. It
// returns the number of job spans.
func Floor(td ptrace.Traces) int {
	n := 0
	var j job
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				if readJob(span, &j) {
					n++
				}
			}
		}
	}
	return n
}

// Extract runs the shared extractor (internal/jobevent) over every span of
// the batch, scope by scope as the processors do, and returns the number of
// job executions: the part of a job processor's cost that is recognising
// executions, whatever it then does.
func Extract(extractor *jobevent.Extractor, td ptrace.Traces) int {
	x := extractor.At(time.Now()) // the clock read once per batch, as the processors do
	n := 0
	var ev jobevent.Event
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			scope := x.Scope(ss.Scope())
			if scope.Skip() {
				continue
			}
			for _, span := range ss.Spans().All() {
				if scope.FromSpan(span, &ev) {
					n++
				}
			}
		}
	}
	return n
}

// MapCounter is Floor plus the seed's retry counter kept in a Go map: runs
// per job (class and id). The map is cleared when it reaches its limit.
// Counting a job seen before allocates nothing.
type MapCounter struct {
	runs  map[string]*int
	key   []byte
	limit int
}

// NewMapCounter returns a counter of at most limit jobs.
func NewMapCounter(limit int) *MapCounter {
	return &MapCounter{runs: make(map[string]*int), limit: limit}
}

// Count counts the runs of the batch's jobs and returns how many of them
// were retries (a job seen before).
func (c *MapCounter) Count(td ptrace.Traces) int {
	retries := 0
	var j job
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				if !readJob(span, &j) {
					continue
				}
				c.key = append(append(c.key[:0], j.class.Str()...), 0)
				if j.id.Type() == pcommon.ValueTypeInt {
					c.key = strconv.AppendInt(c.key, j.id.Int(), 10)
				} else {
					c.key = append(c.key, j.id.Str()...)
				}
				if n := c.runs[string(c.key)]; n != nil {
					*n++
					retries++
					continue
				}
				if len(c.runs) >= c.limit {
					clear(c.runs)
				}
				c.runs[string(c.key)] = new(int)
			}
		}
	}
	return retries
}

// NewSpanMetrics returns contrib's span_metrics connector, created by its
// factory with the demo's dimensions (messaging.destination.name,
// messaging.system) and started; it feeds a nop consumer and is shut down
// when the test ends. Its flush runs on its own 60 s ticker, so a benchmark
// measures what it does per span.
func NewSpanMetrics(tb testing.TB) consumer.Traces {
	tb.Helper()
	f := spanmetricsconnector.NewFactory()
	cfg := f.CreateDefaultConfig().(*spanmetricsconnector.Config)
	cfg.Dimensions = []spanmetricsconnector.Dimension{{Name: "messaging.destination.name"}, {Name: "messaging.system"}}
	ctx := context.Background()
	c, err := f.CreateTracesToMetrics(ctx, connectortest.NewNopSettings(f.Type()), cfg, consumertest.NewNop())
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Start(ctx, componenttest.NewNopHost()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Shutdown(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return c
}

// PerSpan runs op b.N times, op handling one batch of spans spans, and
// reports ns/span and allocs/span next to the usual per-op figures, and
// cpu-ns/span: the CPU time the process spent (all threads, GC included),
// steadier than wall time on a shared machine.
func PerSpan(b *testing.B, spans int, op func()) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := cpuTime()
	b.ResetTimer()
	for range b.N {
		op()
	}
	b.StopTimer()
	cpu = cpuTime() - cpu
	runtime.ReadMemStats(&after)
	report(b, spans, after.Mallocs-before.Mallocs, cpu)
}

// PerSpanWithSetup is PerSpan with setup run before each op, timer stopped
// and allocations and CPU time not counted (e.g. Renumberer.Next).
func PerSpanWithSetup(b *testing.B, spans int, setup, op func()) {
	b.Helper()
	var before, after runtime.MemStats
	var mallocs uint64
	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		setup()
		runtime.ReadMemStats(&before)
		start := cpuTime()
		b.StartTimer()
		op()
		b.StopTimer()
		cpu += cpuTime() - start
		runtime.ReadMemStats(&after)
		mallocs += after.Mallocs - before.Mallocs
	}
	report(b, spans, mallocs, cpu)
}

func report(b *testing.B, spans int, mallocs uint64, cpu time.Duration) {
	n := float64(b.N) * float64(spans)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/span")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/span")
	b.ReportMetric(float64(mallocs)/n, "allocs/span")
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
