// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is on a bucket boundary of every window used here.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func testConfig() Config {
	return Config{
		Window: time.Hour, Buckets: 12, MinFailures: 10, EscalationFactor: 2, Severity: alert.SeverityWarn,
		MinClasses: 3, DependencyWindow: 5 * time.Minute, DependencySeverity: alert.SeverityError,
		MaxClasses: 1000, MaxFingerprints: 1000,
	}
}

type harness struct {
	d     *Detector
	clock *clockwork.FakeClock
	store statestore.Store
}

func newHarness(t testing.TB, cfg Config) *harness {
	clock := clockwork.NewFakeClockAt(t0)
	store := statestore.NewMemory(100_000, statestore.WithClock(clock))
	return newHarnessOver(t, cfg, clock, store)
}

func newHarnessOver(t testing.TB, cfg Config, clock *clockwork.FakeClock, store statestore.Store) *harness {
	d, err := New(cfg, store, clock)
	require.NoError(t, err)
	return &harness{d: d, clock: clock, store: store}
}

// observe runs one batch and returns a copy of its records and the batch.
func (h *harness) observe(t testing.TB, events ...jobevent.Event) ([]Record, *Batch) {
	t.Helper()
	b := h.d.NewBatch()
	b.Begin(h.clock.Now())
	for i := range events {
		b.Add(&events[i])
	}
	require.NoError(t, b.Observe(context.Background()))
	return append([]Record(nil), b.Records()...), b
}

func (h *harness) sweep(t testing.TB) []alert.Alert {
	t.Helper()
	out, err := h.d.Sweep(context.Background())
	require.NoError(t, err)
	return out
}

var traceSeq atomic.Uint32

func execution(class string, outcome jobevent.Outcome, errType, message string, at time.Time) jobevent.Event {
	n := traceSeq.Add(1)
	ev := jobevent.Event{
		System: "sidekiq", Class: class, Queue: "default", Outcome: outcome, Time: at,
		TraceID: pcommon.TraceID{1, byte(n), byte(n >> 8), byte(n >> 16)},
	}
	if outcome == jobevent.OutcomeFailure {
		ev.ErrorType, ev.ErrorMessage = errType, message
	}
	return ev
}

func failures(n int, class, errType, message string, at time.Time) []jobevent.Event {
	out := make([]jobevent.Event, n)
	for i := range out {
		out[i] = execution(class, jobevent.OutcomeFailure, errType, message, at)
	}
	return out
}

func successes(n int, class string, at time.Time) []jobevent.Event {
	out := make([]jobevent.Event, n)
	for i := range out {
		out[i] = execution(class, jobevent.OutcomeSuccess, "", "", at)
	}
	return out
}

func attr(a alert.Alert, key string) any {
	lr := plog.NewLogRecord()
	a.FillLogRecord(lr)
	v, ok := lr.Attributes().Get(key)
	if !ok {
		return nil
	}
	return v.AsRaw()
}

func TestClassClusterFiresOnce(t *testing.T) {
	h := newHarness(t, testConfig())
	at := t0.Add(-time.Minute)

	recs, _ := h.observe(t, failures(10, "PaymentJob", "Net::ReadTimeout", "timed out", at)...)
	assert.Empty(t, recs, "10 failures do not exceed min_failures 10")

	batch := append(failures(3, "PaymentJob", "Net::ReadTimeout", "timed out", at),
		failures(1, "PaymentJob", "PG::ConnectionBad", "could not connect", at)...)
	recs, b := h.observe(t, batch...)
	require.Len(t, recs, 1)
	r := recs[0]
	assert.Equal(t, 3, r.Event, "the class's last failure in the batch")
	a := r.Alert
	assert.Equal(t, alert.FailureCluster, a.Name)
	assert.Equal(t, alert.StateFiring, a.State)
	assert.Equal(t, alert.SeverityWarn, a.Severity)
	assert.Equal(t, alert.NewID(alert.FailureCluster, "sidekiq", "PaymentJob", ""), a.ID)
	assert.Equal(t, "PaymentJob", a.Class)
	assert.Equal(t, "default", a.Queue)
	assert.Equal(t, "sidekiq", a.System)
	assert.Equal(t, "Net::ReadTimeout", a.ErrorType)
	assert.Equal(t, 14.0, a.Value)
	assert.Equal(t, 10.0, a.Threshold)
	assert.Len(t, a.TraceIDs, alert.MaxExampleTraceIDs)
	assert.Equal(t, int64(14), attr(a, AttrFailures))
	assert.Equal(t, int64(14), attr(a, AttrExecutions))
	assert.InDelta(t, 13.0/14, attr(a, AttrErrorShare), 1e-9)
	assert.Equal(t, "2026-11-27T11:59:00.000Z", attr(a, AttrFirstFailure))
	assert.Equal(t, "2026-11-27T11:59:00.000Z", attr(a, AttrLastFailure))
	assert.Equal(t, "1h", attr(a, AttrWindow))
	assert.Equal(t, int64(1), attr(a, AttrLevel))
	assert.Equal(t, "job class PaymentJob failing: 14 failures in the last 1h (threshold 10); 93% Net::ReadTimeout", a.Summary)
	for i := range batch {
		assert.Equal(t, a.ID, b.ClusterID(i), "failure %d belongs to the cluster", i)
	}

	// Growing below the next level, and the timer: nothing new.
	recs, _ = h.observe(t, failures(5, "PaymentJob", "Net::ReadTimeout", "timed out", at)...)
	assert.Empty(t, recs)
	assert.Empty(t, h.sweep(t))
	assert.Len(t, h.d.classes.firing, 1, "known to be firing")
}

func TestScatteredFailuresDoNotFire(t *testing.T) {
	h := newHarness(t, testConfig())
	var batch []jobevent.Event
	for i := range 30 { // 30 failures over 6 classes, 5 each, all different errors
		batch = append(batch, execution(fmt.Sprintf("Job%d", i%6), jobevent.OutcomeFailure, "E", fmt.Sprintf("boom %c", 'a'+i), t0))
	}
	recs, b := h.observe(t, batch...)
	assert.Empty(t, recs)
	for i := range batch {
		assert.Empty(t, b.ClusterID(i))
	}
}

func TestEscalation(t *testing.T) {
	h := newHarness(t, testConfig()) // factor 2: levels past 10, 20, 40
	at := t0.Add(-time.Minute)
	var levels []int64
	var values []float64
	for range 9 {
		recs, _ := h.observe(t, failures(5, "SyncJob", "E", "boom", at)...)
		for _, r := range recs {
			assert.Equal(t, alert.StateFiring, r.Alert.State)
			levels = append(levels, attr(r.Alert, AttrLevel).(int64))
			values = append(values, r.Alert.Value)
		}
	}
	assert.Equal(t, []int64{1, 2, 3}, levels)
	assert.Equal(t, []float64{15, 25, 45}, values, "counts at the time of each record")
}

func TestEscalationFactorOneNeverEscalates(t *testing.T) {
	cfg := testConfig()
	cfg.EscalationFactor = 1
	h := newHarness(t, cfg)
	n := 0
	for range 10 {
		recs, _ := h.observe(t, failures(10, "SyncJob", "E", "boom", t0)...)
		n += len(recs)
	}
	assert.Equal(t, 1, n)
}

func TestResolutionOnTimer(t *testing.T) {
	h := newHarness(t, testConfig())
	recs, _ := h.observe(t, failures(12, "PaymentJob", "Net::ReadTimeout", "timed out", t0.Add(-time.Minute))...)
	require.Len(t, recs, 1)
	id := recs[0].Alert.ID

	// 11:59's bucket is 11:55-12:00: it leaves the window at 12:55.
	h.clock.Advance(54*time.Minute + 59*time.Second)
	assert.Empty(t, h.sweep(t), "still 12 failures in the window")

	h.clock.Advance(time.Second)
	resolved := h.sweep(t)
	require.Len(t, resolved, 1)
	a := resolved[0]
	assert.Equal(t, alert.StateResolved, a.State)
	assert.Equal(t, id, a.ID)
	assert.Equal(t, "PaymentJob", a.Class)
	assert.Equal(t, "default", a.Queue)
	assert.Equal(t, 0.0, a.Value, "the final count")
	assert.Equal(t, int64(1), attr(a, AttrLevel))
	assert.Equal(t, "2026-11-27T11:59:00.000Z", attr(a, AttrLastFailure))
	assert.Equal(t, h.clock.Now(), a.Time)
	assert.Equal(t, "job class PaymentJob recovered: 0 failures in the last 1h (resolves below 5)", a.Summary)
	assert.Empty(t, h.sweep(t), "resolved once")
	assert.Empty(t, h.d.classes.firing)

	// A new burst fires again.
	recs, _ = h.observe(t, failures(11, "PaymentJob", "E", "boom", h.clock.Now())...)
	require.Len(t, recs, 1)
	assert.Equal(t, alert.StateFiring, recs[0].Alert.State)
}

func TestResolutionHysteresis(t *testing.T) {
	cfg := testConfig()
	cfg.Window, cfg.Buckets = 10*time.Minute, 10 // 1-minute buckets
	h := newHarness(t, cfg)
	for m := range 6 { // 2 failures a minute for 6 minutes: 12 > 10 fires
		recs, _ := h.observe(t, failures(2, "Job", "E", "boom", t0.Add(time.Duration(m)*time.Minute))...)
		assert.Len(t, recs, map[bool]int{true: 1, false: 0}[m == 5], "minute %d", m)
		h.clock.Advance(time.Minute)
	}
	// 12:06. As old buckets leave the window the count falls by 2 a
	// minute; it resolves below half the threshold (5), not at it.
	h.clock.Advance(4 * time.Minute)
	assert.Empty(t, h.sweep(t), "12:10: 10 failures left")
	h.clock.Advance(2 * time.Minute)
	assert.Empty(t, h.sweep(t), "12:12: 6 failures left")
	h.clock.Advance(time.Minute)
	resolved := h.sweep(t)
	require.Len(t, resolved, 1, "12:13: 4 failures left")
	assert.Equal(t, 4.0, resolved[0].Value)
}

func TestResolutionOnBatch(t *testing.T) {
	h := newHarness(t, testConfig())
	recs, _ := h.observe(t, failures(11, "PaymentJob", "E", "boom", t0)...)
	require.Len(t, recs, 1)

	// An hour on, the next execution of the class (a success) resolves it:
	// no timer needed.
	h.clock.Advance(time.Hour)
	batch := append(successes(2, "OtherJob", h.clock.Now()), successes(3, "PaymentJob", h.clock.Now())...)
	recs, _ = h.observe(t, batch...)
	require.Len(t, recs, 1)
	a := recs[0].Alert
	assert.Equal(t, alert.StateResolved, a.State)
	assert.Equal(t, 4, recs[0].Event, "the class's last execution")
	assert.Equal(t, 0.0, a.Value)
	assert.Equal(t, int64(3), attr(a, AttrExecutions))
	assert.Equal(t, "E", a.ErrorType, "the dominant error of the last two windows")
	assert.Empty(t, h.sweep(t), "resolved once")
}

func TestRatioRule(t *testing.T) {
	cfg := testConfig()
	cfg.MinFailureRatio, cfg.MinExecutions = 0.5, 30
	h := newHarness(t, cfg)
	at := t0.Add(-time.Minute)

	// 12 failures in 112 executions: a ratio of 0.11.
	recs, _ := h.observe(t, append(failures(12, "BusyJob", "E", "boom", at), successes(100, "BusyJob", at)...)...)
	assert.Empty(t, recs, "many failures, but a small share")

	// 12 failures in 20 executions: ratio 0.6, but below min_executions.
	recs, _ = h.observe(t, append(failures(12, "RareJob", "E", "boom", at), successes(8, "RareJob", at)...)...)
	assert.Empty(t, recs, "too few executions to judge a ratio")

	// 10 more executions, 9 of them failures: 21 of 30.
	recs, _ = h.observe(t, append(failures(9, "RareJob", "E", "boom", at), successes(1, "RareJob", at)...)...)
	require.Len(t, recs, 1)
	a := recs[0].Alert
	assert.Equal(t, "RareJob", a.Class)
	assert.Equal(t, int64(30), attr(a, AttrExecutions))
	assert.InDelta(t, 0.7, attr(a, AttrFailureRatio), 1e-9)
	assert.Contains(t, a.Summary, "70% of 30 executions")

	// The ratio falling below half of 0.5 resolves it, however many
	// failures: 21 of 90.
	recs, _ = h.observe(t, successes(60, "RareJob", at)...)
	require.Len(t, recs, 1)
	assert.Equal(t, alert.StateResolved, recs[0].Alert.State)
}

func TestWindowEdge(t *testing.T) {
	// A 1h window of 12 buckets at 12:00 counts the buckets from 11:05 on:
	// 11:04:59.999 is outside, 11:05 inside.
	h := newHarness(t, testConfig())
	batch := append(failures(10, "EdgeJob", "E", "boom", t0.Add(-55*time.Minute)),
		execution("EdgeJob", jobevent.OutcomeFailure, "E", "boom", t0.Add(-55*time.Minute-time.Millisecond)))
	recs, _ := h.observe(t, batch...)
	assert.Empty(t, recs, "the 11th failure is just outside the window")

	recs, _ = h.observe(t, failures(1, "EdgeJob", "E", "boom", t0.Add(-55*time.Minute))...)
	require.Len(t, recs, 1)
	assert.Equal(t, 11.0, recs[0].Alert.Value)
	assert.Equal(t, "2026-11-27T11:05:00.000Z", attr(recs[0].Alert, AttrFirstFailure))

	// The 11:05 bucket leaves the window at 12:05, all of it at once.
	h.clock.Advance(5*time.Minute - time.Millisecond)
	assert.Empty(t, h.sweep(t))
	h.clock.Advance(time.Millisecond)
	require.Len(t, h.sweep(t), 1)
}

func TestFutureEventsCountAsNow(t *testing.T) {
	h := newHarness(t, testConfig())
	recs, _ := h.observe(t, failures(11, "Job", "E", "boom", t0.Add(24*time.Hour))...)
	require.Len(t, recs, 1)
	assert.True(t, t0.Equal(recs[0].Alert.Time), "%v", recs[0].Alert.Time)
}

func TestDependencyFailure(t *testing.T) {
	h := newHarness(t, testConfig())
	at := t0.Add(-time.Minute)
	outage := func(class string, n int) jobevent.Event {
		return execution(class, jobevent.OutcomeFailure, "PG::ConnectionBad",
			fmt.Sprintf("connection to server at \"10.0.0.%d\", port 5432 failed after %dms", n, 100+n), at)
	}
	recs, _ := h.observe(t, outage("BillingJob", 1), outage("InvoiceJob", 2), outage("BillingJob", 3))
	assert.Empty(t, recs, "two classes")

	recs, b := h.observe(t, outage("ReportJob", 4), execution("ReportJob", jobevent.OutcomeFailure, "Other", "unrelated", at))
	require.Len(t, recs, 1)
	a := recs[0].Alert
	assert.Equal(t, alert.DependencyFailure, a.Name)
	assert.Equal(t, alert.StateFiring, a.State)
	assert.Equal(t, alert.SeverityError, a.Severity)
	assert.Equal(t, 0, recs[0].Event)
	assert.Equal(t, "PG::ConnectionBad", a.ErrorType)
	assert.Equal(t, 3.0, a.Value)
	assert.Equal(t, 3.0, a.Threshold)
	print := "PG::ConnectionBad: connection to server at <q>, port <n> failed after <n>ms"
	assert.Equal(t, print, attr(a, AttrFingerprint))
	assert.Equal(t, alert.NewID(alert.DependencyFailure, print), a.ID)
	assert.Equal(t, "5m", attr(a, AttrWindow))
	assert.Equal(t, int64(3), attr(a, AttrClasses))
	names := attr(a, AttrClassNames).(string)
	for _, class := range []string{"BillingJob", "InvoiceJob", "ReportJob"} {
		assert.Contains(t, names, class)
	}
	assert.Contains(t, attr(a, AttrErrorMessage), "connection to server at \"10.0.0.1\"")
	assert.Equal(t, a.ID, b.DependencyID(0))
	assert.Empty(t, b.DependencyID(1), "another error")

	// Two more classes: 5 > 2*2 escalates.
	recs, _ = h.observe(t, outage("MailJob", 5))
	assert.Empty(t, recs)
	recs, _ = h.observe(t, outage("SyncJob", 6))
	require.Len(t, recs, 1)
	assert.Equal(t, int64(2), attr(recs[0].Alert, AttrLevel))

	// Five minutes after the failures (at 11:59) the classes are gone.
	h.clock.Advance(4*time.Minute - time.Millisecond)
	assert.Empty(t, h.sweep(t))
	h.clock.Advance(time.Millisecond)
	resolved := h.sweep(t)
	require.Len(t, resolved, 1)
	assert.Equal(t, alert.StateResolved, resolved[0].State)
	assert.Equal(t, alert.DependencyFailure, resolved[0].Name)
	assert.Equal(t, 0.0, resolved[0].Value)
}

func TestDependencyOff(t *testing.T) {
	cfg := testConfig()
	cfg.MinClasses = 0
	h := newHarness(t, cfg)
	var batch []jobevent.Event
	for i := range 10 {
		batch = append(batch, execution(fmt.Sprintf("Job%d", i), jobevent.OutcomeFailure, "E", "boom", t0))
	}
	recs, _ := h.observe(t, batch...)
	assert.Empty(t, recs)
	assert.Equal(t, 1, h.d.Stats().Fingerprints, "only error types are tracked")
}

func TestDuplicateExecutions(t *testing.T) {
	// The Sidekiq and the ActiveJob span of one run: same class, id and
	// attempt. Counted once, annotated both.
	h := newHarness(t, testConfig())
	var batch []jobevent.Event
	for i := range 11 {
		for range 2 {
			ev := execution("SendEmailJob", jobevent.OutcomeFailure, "Net::ReadTimeout", "timed out", t0)
			ev.ID = fmt.Sprintf("jid-%d", i)
			batch = append(batch, ev)
		}
	}
	recs, b := h.observe(t, batch[:20]...)
	assert.Empty(t, recs, "10 runs")
	recs, b = h.observe(t, batch[20:]...)
	require.Len(t, recs, 1, "the 11th run")
	assert.Equal(t, 11.0, recs[0].Alert.Value)
	assert.Equal(t, recs[0].Alert.ID, b.ClusterID(1), "the duplicate span is annotated too")
	assert.Equal(t, 1, b.Failures())
}

func TestClasslessEventsClusterPerQueue(t *testing.T) {
	h := newHarness(t, testConfig())
	batch := failures(11, "", "E", "boom", t0)
	for i := range batch {
		batch[i].System, batch[i].Queue = "rabbitmq", "orders"
	}
	recs, _ := h.observe(t, batch...)
	require.Len(t, recs, 1)
	a := recs[0].Alert
	assert.Empty(t, a.Class)
	assert.Equal(t, "orders", a.Queue)
	assert.Equal(t, alert.NewID(alert.FailureCluster, "rabbitmq", "", "orders"), a.ID)
	assert.True(t, strings.HasPrefix(a.Summary, "queue orders failing"), a.Summary)
}

func TestIgnoredEvents(t *testing.T) {
	h := newHarness(t, testConfig())
	batch := failures(11, "Job", "E", "boom", t0.Add(-2*time.Hour)) // older than the window
	unknown := execution("Job", jobevent.OutcomeUnknown, "", "", t0)
	batch = append(batch, unknown)
	recs, b := h.observe(t, batch...)
	assert.Empty(t, recs)
	assert.Equal(t, 12, b.Len())
	assert.Zero(t, b.Failures())
}

func TestReplicasShareOneStore(t *testing.T) {
	// Two detectors over one store: the shared state decides, each cluster
	// fires and resolves once, and a replica learns on its timer that the
	// other resolved a cluster, so it can fire the next one.
	clock := clockwork.NewFakeClockAt(t0)
	store := statestore.NewMemory(100_000, statestore.WithClock(clock))
	a := newHarnessOver(t, testConfig(), clock, store)
	b := newHarnessOver(t, testConfig(), clock, store)

	type rec struct {
		replica string
		value   float64
		level   int64
	}
	var got []rec
	for i := range 6 { // 4 failures a batch, alternating replicas
		r, name := a, "a"
		if i%2 == 1 {
			r, name = b, "b"
		}
		recs, _ := r.observe(t, failures(4, "Job", "E", "boom", clock.Now())...)
		for _, x := range recs {
			got = append(got, rec{name, x.Alert.Value, attr(x.Alert, AttrLevel).(int64)})
		}
	}
	assert.Equal(t, []rec{{"a", 12, 1}, {"b", 24, 2}}, got, "b learned level 1 from the store at 16 and escalated at 24")

	clock.Advance(time.Hour)
	assert.Len(t, a.sweep(t), 1)
	assert.Empty(t, b.sweep(t), "resolved once")

	// b's timer taught it the cluster ended: a new burst fires on b alone.
	recs, _ := b.observe(t, failures(11, "Job", "E", "boom", clock.Now())...)
	require.Len(t, recs, 1)
	assert.Equal(t, alert.StateFiring, recs[0].Alert.State)
}

func TestEscalationOnABatchWithoutFailures(t *testing.T) {
	// Replica b knows the cluster fires at level 1. Failures that reached
	// the window without a claim (written here straight to the store) take
	// the class to 21; b's next batch, successes only, escalates it, on its
	// last execution.
	clock := clockwork.NewFakeClockAt(t0)
	store := statestore.NewMemory(100_000, statestore.WithClock(clock))
	a := newHarnessOver(t, testConfig(), clock, store)
	b := newHarnessOver(t, testConfig(), clock, store)
	recs, _ := a.observe(t, failures(11, "Job", "E", "boom", t0)...)
	require.Len(t, recs, 1)
	recs, _ = b.observe(t, failures(1, "Job", "E", "boom", t0)...)
	require.Empty(t, recs, "b learns level 1")

	var ops statestore.Batch
	ops.WindowAdd("fc:f:"+recs0ID(t, a), b.d.window, t0, 9)
	require.NoError(t, store.Apply(context.Background(), &ops))

	recs, _ = b.observe(t, successes(3, "Job", t0)...)
	require.Len(t, recs, 1)
	assert.Equal(t, 2, recs[0].Event, "the last execution")
	assert.Equal(t, int64(2), attr(recs[0].Alert, AttrLevel))
	assert.Equal(t, 21.0, recs[0].Alert.Value)
	assert.True(t, t0.Equal(recs[0].Alert.Time))
}

// recs0ID is the id of the one class h tracks.
func recs0ID(t *testing.T, h *harness) string {
	t.Helper()
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	require.Equal(t, 1, h.d.classes.Len())
	_, st, _ := h.d.classes.GetOldest()
	return st.id
}

// Two detectors over one store that marks executions (a traces and a logs
// pipeline on one Redis): executions seen by both count once in the
// failures, the executions and the error types; the others count too.
func TestDedupeAcrossDetectors(t *testing.T) {
	cfg := testConfig()
	cfg.Dedupe = 10 * time.Minute
	clock := clockwork.NewFakeClockAt(t0)
	store := statestore.NewMemory(100_000, statestore.WithClock(clock))
	spans, logs := newHarnessOver(t, cfg, clock, store), newHarnessOver(t, cfg, clock, store)
	at := t0.Add(-time.Minute)
	seen := append(failures(8, "PaymentJob", "Net::ReadTimeout", "timed out", at), successes(4, "PaymentJob", at)...)
	more := failures(3, "PaymentJob", "Errno::ECONNREFUSED", "refused", at)
	for i := range seen {
		seen[i].SpanID = pcommon.SpanID{1, byte(i)}
	}
	for i := range more {
		more[i].SpanID = pcommon.SpanID{2, byte(i)}
	}

	recs, _ := spans.observe(t, seen...)
	assert.Empty(t, recs)
	recs, _ = logs.observe(t, seen...)
	assert.Empty(t, recs, "the same 8 failures, counted once")
	recs, _ = logs.observe(t, more...)
	require.Len(t, recs, 1)
	a := recs[0].Alert
	assert.Equal(t, int64(11), attr(a, AttrFailures))
	assert.Equal(t, int64(15), attr(a, AttrExecutions))
	assert.Equal(t, "Net::ReadTimeout", a.ErrorType)
	assert.InDelta(t, 8.0/11, attr(a, AttrErrorShare), 1e-9, "the error types counted once too")
}
