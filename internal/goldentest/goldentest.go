// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package goldentest runs a job processor over golden cases, as contrib's
// processors are tested: the batches of testdata/<case>/input.yaml go through
// a processor made by the factory, and what comes out must equal
// testdata/<case>/expected.yaml, compared with ptracetest or plogtest.
//
// Each ResourceSpans (ResourceLogs) of input.yaml is one batch, as one
// exporter request carried it, sent in file order; expected.yaml holds every
// batch that came out, in the order it came out. The processor's clock is a
// fake one that moves, before each batch, to one second after the batch's
// latest event (never back), as if each request arrived as its last job
// ended. Event times, alert times and windows therefore come out the same
// on every run, and the comparison ignores nothing.
//
// Run the tests with -update to rewrite expected.yaml from the current
// output (contrib's golden.WriteTraces/WriteLogs, which fail the run that
// writes); review the diff, then run again without it.
package goldentest // import "github.com/otelcol-jobs/otelcol-jobs/internal/goldentest"

import (
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
)

var update = flag.Bool("update", false, "rewrite the golden cases' expected.yaml from the current output")

// regenerate is the hint of a failed comparison.
const regenerate = "output differs from %s; if the change is intended, rewrite it with -update and review the diff"

// defaultStart is the clock of a case whose input holds no event time.
var defaultStart = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// Case is one folder of testdata.
type Case struct {
	// Name is the folder: testdata/<Name>/input.yaml and expected.yaml.
	Name string
	// Config is the processor's configuration.
	Config component.Config
	// ResolveAfter, when set, moves the clock this much further before the
	// last batch and waits until the processor's resolution timer has sent
	// a batch of its own on; then the last batch goes, so expected.yaml
	// shows whether the timer's records came once and on time.
	ResolveAfter time.Duration
	// CheckOnly marks a second configuration that must give the output of
	// the first (e.g. the state on Redis instead of in memory): it is
	// compared with expected.yaml but never rewrites it.
	CheckOnly bool
}

// writing reports whether the case rewrites its expected.yaml, and skips a
// CheckOnly case while the others do.
func (c Case) writing(t *testing.T) bool {
	if *update && c.CheckOnly {
		t.Skip("-update writes expected.yaml from the first configuration")
	}
	return *update
}

func (c Case) path(file string) string { return filepath.Join("testdata", c.Name, file) }

// Traces runs a traces case.
func Traces(t *testing.T, f processor.Factory, c Case) {
	t.Helper()
	input, err := golden.ReadTraces(c.path("input.yaml"))
	require.NoError(t, err)
	var batches []ptrace.Traces
	var latest []pcommon.Timestamp
	for _, rs := range input.ResourceSpans().All() {
		td := ptrace.NewTraces()
		rs.CopyTo(td.ResourceSpans().AppendEmpty())
		batches = append(batches, td)
		latest = append(latest, latestSpan(td))
	}
	require.NotEmpty(t, batches, "input.yaml holds no ResourceSpans")
	writing := c.writing(t)

	clock := clockwork.NewFakeClockAt(start(latest))
	sink := new(consumertest.TracesSink)
	p, err := f.CreateTraces(clockwork.AddToContext(context.Background(), clock), processortest.NewNopSettings(f.Type()), c.Config, sink)
	require.NoError(t, err)
	run(t, p)

	for i, td := range batches {
		if i == len(batches)-1 && c.ResolveAfter > 0 {
			resolve(t, clock, c.ResolveAfter, func() int { return len(sink.AllTraces()) })
		}
		step(clock, latest[i])
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}

	actual := ptrace.NewTraces()
	for _, td := range sink.AllTraces() {
		td.ResourceSpans().MoveAndAppendTo(actual.ResourceSpans())
	}
	if writing {
		require.NoError(t, golden.WriteTraces(t, c.path("expected.yaml"), actual))
		return
	}
	expected, err := golden.ReadTraces(c.path("expected.yaml"))
	require.NoError(t, err)
	require.NoError(t, ptracetest.CompareTraces(expected, actual), regenerate, c.path("expected.yaml"))
}

// Logs runs a logs case.
func Logs(t *testing.T, f processor.Factory, c Case) {
	t.Helper()
	input, err := golden.ReadLogs(c.path("input.yaml"))
	require.NoError(t, err)
	var batches []plog.Logs
	var latest []pcommon.Timestamp
	for _, rl := range input.ResourceLogs().All() {
		ld := plog.NewLogs()
		rl.CopyTo(ld.ResourceLogs().AppendEmpty())
		batches = append(batches, ld)
		latest = append(latest, latestRecord(ld))
	}
	require.NotEmpty(t, batches, "input.yaml holds no ResourceLogs")
	writing := c.writing(t)

	clock := clockwork.NewFakeClockAt(start(latest))
	sink := new(consumertest.LogsSink)
	p, err := f.CreateLogs(clockwork.AddToContext(context.Background(), clock), processortest.NewNopSettings(f.Type()), c.Config, sink)
	require.NoError(t, err)
	run(t, p)

	for i, ld := range batches {
		if i == len(batches)-1 && c.ResolveAfter > 0 {
			resolve(t, clock, c.ResolveAfter, func() int { return len(sink.AllLogs()) })
		}
		step(clock, latest[i])
		require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	}

	actual := plog.NewLogs()
	for _, ld := range sink.AllLogs() {
		ld.ResourceLogs().MoveAndAppendTo(actual.ResourceLogs())
	}
	if writing {
		require.NoError(t, golden.WriteLogs(t, c.path("expected.yaml"), actual))
		return
	}
	expected, err := golden.ReadLogs(c.path("expected.yaml"))
	require.NoError(t, err)
	require.NoError(t, plogtest.CompareLogs(expected, actual), regenerate, c.path("expected.yaml"))
}

// resolve moves the clock by d and waits until the processor's timer has
// sent a batch on by itself (sent() counts the batches that came out).
func resolve(t *testing.T, clock *clockwork.FakeClock, d time.Duration, sent func() int) {
	t.Helper()
	before := sent()
	clock.Advance(d)
	require.Eventually(t, func() bool { return sent() > before },
		10*time.Second, 10*time.Millisecond, "the resolution timer sends its records on")
}

func run(t *testing.T, p component.Component) {
	t.Helper()
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
}

// start is the clock before the first batch: the earliest of the batches'
// latest event times.
func start(latest []pcommon.Timestamp) time.Time {
	var first pcommon.Timestamp
	for _, ts := range latest {
		if ts != 0 && (first == 0 || ts < first) {
			first = ts
		}
	}
	if first == 0 {
		return defaultStart
	}
	return first.AsTime().Add(time.Second)
}

// step moves the clock to a second after latest, never back.
func step(clock *clockwork.FakeClock, latest pcommon.Timestamp) {
	if latest == 0 {
		return
	}
	if d := latest.AsTime().Add(time.Second).Sub(clock.Now()); d > 0 {
		clock.Advance(d)
	}
}

func latestSpan(td ptrace.Traces) pcommon.Timestamp {
	var latest pcommon.Timestamp
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				latest = max(latest, span.StartTimestamp(), span.EndTimestamp())
			}
		}
	}
	return latest
}

func latestRecord(ld plog.Logs) pcommon.Timestamp {
	var latest pcommon.Timestamp
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				latest = max(latest, lr.Timestamp(), lr.ObservedTimestamp())
			}
		}
	}
	return latest
}
