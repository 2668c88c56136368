// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package retry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

const window = 24 * time.Hour

// countingStore counts Apply calls (round trips for a Redis store) and can
// fail them.
type countingStore struct {
	statestore.Store
	applies int
	fail    error
}

func (s *countingStore) Apply(ctx context.Context, b *statestore.Batch) error {
	s.applies++
	if s.fail != nil {
		return s.fail
	}
	return s.Store.Apply(ctx, b)
}

type fixture struct {
	clock *clockwork.FakeClock
	store *countingStore
	d     *Detector
}

func newFixture(t *testing.T, rules ...Rule) *fixture {
	t.Helper()
	return newFixtureWithFactor(t, 2, rules...)
}

func newFixtureWithFactor(t *testing.T, factor float64, rules ...Rule) *fixture {
	t.Helper()
	clock := clockwork.NewFakeClockAt(t0)
	store := &countingStore{Store: statestore.NewMemory(1000, statestore.WithClock(clock))}
	rules = append(rules, Rule{MaxRetries: 3, Severity: alert.SeverityWarn})
	d, err := New(store, window, factor, rules, 0)
	require.NoError(t, err)
	return &fixture{clock: clock, store: store, d: d}
}

// detect runs one batch and returns the retries of each run and the alerts.
func (f *fixture) detect(t *testing.T, runs ...Run) ([]int64, []Found) {
	t.Helper()
	found, err := f.d.Detect(context.Background(), f.clock.Now(), runs)
	require.NoError(t, err)
	retries := make([]int64, len(runs))
	for i := range runs {
		retries[i] = runs[i].Retries
	}
	return retries, found
}

// run is an execution of job id of class HardJob at the fixture's now.
func (f *fixture) run(id string, attempt int, outcome jobevent.Outcome) Run {
	ev := jobevent.Event{System: "sidekiq", ID: id, Class: "HardJob", Queue: "critical", Attempt: attempt, Outcome: outcome,
		Time: f.clock.Now(), TraceID: pcommon.TraceID{byte(attempt), 1}}
	if outcome == jobevent.OutcomeFailure {
		ev.ErrorType, ev.ErrorMessage = "Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket>"
	}
	return Run{Event: ev}
}

const (
	failed    = jobevent.OutcomeFailure
	succeeded = jobevent.OutcomeSuccess
)

// summary is what a test asserts of an alert.
type summary struct {
	state    alert.State
	retries  float64
	level    int64 // firing only
	severity alert.Severity
}

func summarize(found []Found) []summary {
	var out []summary
	for _, f := range found {
		s := summary{state: f.Alert.State, retries: f.Alert.Value, severity: f.Alert.Severity}
		for _, a := range f.Alert.Attributes {
			for l := int64(1); l < 10; l++ {
				if a == alert.Int("alert.escalation_level", l) {
					s.level = l
				}
			}
		}
		out = append(out, s)
	}
	return out
}

func TestAttemptNumbers(t *testing.T) {
	f := newFixture(t)
	var fired []summary
	for attempt := 1; attempt <= 14; attempt++ {
		f.clock.Advance(time.Minute)
		retries, found := f.detect(t, f.run("j1", attempt, failed))
		assert.Equal(t, []int64{int64(attempt - 1)}, retries, "attempt %d", attempt)
		fired = append(fired, summarize(found)...)
	}
	assert.Equal(t, []summary{
		{alert.StateFiring, 4, 1, alert.SeverityWarn},  // 4 > 3
		{alert.StateFiring, 7, 2, alert.SeverityWarn},  // 7 > 6
		{alert.StateFiring, 13, 3, alert.SeverityWarn}, // 13 > 12
	}, fired, "once when crossed, then once per doubling")

	_, found := f.detect(t, f.run("j1", 15, succeeded))
	require.Len(t, found, 1)
	a := found[0].Alert
	assert.Equal(t, summary{alert.StateResolved, 14, 0, alert.SeverityWarn}, summarize(found)[0])
	assert.Equal(t, alert.NewID(alert.ExcessiveRetries, "sidekiq", "HardJob", "j1"), a.ID)
	assert.Equal(t, "sidekiq job HardJob j1 succeeded after 14 retries", a.Summary)

	_, found = f.detect(t, f.run("j1", 16, succeeded))
	assert.Empty(t, found, "resolved once")
}

// The escalation factor sets the levels: 3 escalates when the retries
// pass 9 and 27, 1 never escalates.
func TestEscalationFactor(t *testing.T) {
	for _, tt := range []struct {
		factor float64
		want   []summary
	}{
		{3, []summary{
			{alert.StateFiring, 4, 1, alert.SeverityWarn},  // 4 > 3
			{alert.StateFiring, 10, 2, alert.SeverityWarn}, // 10 > 9
			{alert.StateFiring, 28, 3, alert.SeverityWarn}, // 28 > 27
		}},
		{1, []summary{{alert.StateFiring, 4, 1, alert.SeverityWarn}}},
	} {
		f := newFixtureWithFactor(t, tt.factor)
		var fired []summary
		for attempt := 1; attempt <= 30; attempt++ {
			f.clock.Advance(time.Minute)
			_, found := f.detect(t, f.run("j1", attempt, failed))
			fired = append(fired, summarize(found)...)
		}
		assert.Equal(t, tt.want, fired, "factor %v", tt.factor)
	}
}

func TestAttemptNumbersAlertContent(t *testing.T) {
	f := newFixture(t)
	_, found := f.detect(t, f.run("j1", 4, failed), f.run("j1", 5, failed), f.run("j2", 1, failed))
	require.Len(t, found, 1)
	assert.Equal(t, 1, found[0].Run)
	a := found[0].Alert
	assert.Equal(t, alert.Alert{
		Name: alert.ExcessiveRetries, State: alert.StateFiring, Severity: alert.SeverityWarn,
		ID:      alert.NewID(alert.ExcessiveRetries, "sidekiq", "HardJob", "j1"),
		Summary: "sidekiq job HardJob j1 retried 4 times > 3: Net::ReadTimeout",
		Time:    t0, Threshold: 3, Value: 4,
		System: "sidekiq", Queue: "critical", Class: "HardJob", JobID: "j1", ErrorType: "Net::ReadTimeout",
		TraceIDs:   []pcommon.TraceID{{5, 1}, {4, 1}},
		Attributes: []alert.Attribute{alert.Int("alert.escalation_level", 1)},
	}, a, "the batch's other runs of the job are examples")
}

func TestSuccessWithoutAlertResolvesNothing(t *testing.T) {
	f := newFixture(t)
	_, found := f.detect(t, f.run("j1", 3, failed), f.run("j1", 4, succeeded))
	assert.Empty(t, found)
	_, found = f.detect(t, f.run("j2", 9, succeeded))
	assert.Empty(t, found, "a success past the threshold never seen failing")
}

func TestCountingByID(t *testing.T) {
	f := newFixture(t)
	var got []int64
	var fired []summary
	for range 8 {
		f.clock.Advance(time.Minute)
		retries, found := f.detect(t, f.run("j1", 0, failed))
		got = append(got, retries...)
		fired = append(fired, summarize(found)...)
	}
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6, 7}, got)
	assert.Equal(t, []summary{
		{alert.StateFiring, 4, 1, alert.SeverityWarn},
		{alert.StateFiring, 7, 2, alert.SeverityWarn},
	}, fired)

	assert.Equal(t, int64(2), f.store.Stats().Entries, "the run counter and the alert mark")
	retries, found := f.detect(t, f.run("j1", 0, succeeded))
	assert.Equal(t, []int64{8}, retries)
	assert.Equal(t, []summary{{alert.StateResolved, 8, 0, alert.SeverityWarn}}, summarize(found))
	assert.Zero(t, f.store.Stats().Entries, "a job that succeeded is forgotten")

	retries, _ = f.detect(t, f.run("j2", 0, succeeded), f.run("j1", 0, failed))
	assert.Equal(t, []int64{0, 0}, retries, "a first run that succeeds holds nothing; j1 starts afresh")
	assert.Equal(t, int64(1), f.store.Stats().Entries)
}

func TestCountingByIDInOneBatch(t *testing.T) {
	f := newFixture(t)
	runs := []Run{f.run("j1", 0, failed), f.run("other", 0, failed)}
	for range 5 {
		runs = append(runs, f.run("j1", 0, failed))
	}
	retries, found := f.detect(t, runs...)
	assert.Equal(t, []int64{0, 0, 1, 2, 3, 4, 5}, retries)
	assert.Equal(t, []summary{{alert.StateFiring, 4, 1, alert.SeverityWarn}}, summarize(found), "level 1 once, by the first run past it")
	assert.Equal(t, 5, found[0].Run)
	assert.Equal(t, 1, f.store.applies, "the counters and the claims on them: one batch")
}

func TestRoundTrips(t *testing.T) {
	f := newFixture(t)
	f.detect(t, f.run("a", 1, succeeded), f.run("b", 2, failed))
	assert.Equal(t, 0, f.store.applies, "attempt numbers below the threshold need no state")
	f.detect(t, f.run("a", 0, succeeded), f.run("b", 0, failed), f.run("c", 7, failed), f.run("d", 2, succeeded))
	assert.Equal(t, 1, f.store.applies, "one batch of ops")
	// Jobs counted by id that fire, escalate and resolve in a batch: still one.
	var fired []summary
	for _, outcome := range []jobevent.Outcome{failed, failed, failed, failed, failed, failed, failed, failed, succeeded} {
		f.store.applies = 0
		_, found := f.detect(t, f.run("e", 0, outcome), f.run("e", 0, outcome), f.run("c", 9, outcome))
		assert.Equal(t, 1, f.store.applies)
		fired = append(fired, summarize(found)...)
	}
	assert.Equal(t, []summary{
		{alert.StateFiring, 8, 2, alert.SeverityWarn}, // c
		{alert.StateFiring, 4, 1, alert.SeverityWarn}, // e
		{alert.StateFiring, 7, 2, alert.SeverityWarn},
		{alert.StateFiring, 13, 3, alert.SeverityWarn},
		{alert.StateResolved, 16, 0, alert.SeverityWarn},
		{alert.StateResolved, 8, 0, alert.SeverityWarn},
	}, fired)
}

func TestClassOverrides(t *testing.T) {
	f := newFixture(t,
		Rule{Class: regexpFilter(`^Billing::`), MaxRetries: 1, Severity: alert.SeverityError},
		Rule{Class: regexpFilter(`Job$`), MaxRetries: 10, Severity: alert.SeverityInfo},
		Rule{Class: regexpFilter(`^Billing::Charge`), MaxRetries: 100, Severity: alert.SeverityFatal},
	)
	at := func(class string, attempt int) []summary {
		r := f.run(class+"-id", attempt, failed)
		r.Class = class
		_, found := f.detect(t, r)
		return summarize(found)
	}
	assert.Equal(t, []summary{{alert.StateFiring, 2, 1, alert.SeverityError}}, at("Billing::ChargeJob", 3), "first match wins")
	assert.Empty(t, at("SendEmailJob", 11))
	assert.Equal(t, []summary{{alert.StateFiring, 11, 1, alert.SeverityInfo}}, at("SendEmailJob", 12))
	assert.Equal(t, []summary{{alert.StateFiring, 4, 1, alert.SeverityWarn}}, at("Sync", 5), "the default")
}

func TestWindow(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		f.detect(t, f.run("j1", 0, failed))
		f.clock.Advance(time.Hour)
	}
	retries, _ := f.detect(t, f.run("j1", 0, failed))
	assert.Equal(t, []int64{3}, retries)

	// The counter lives for the window from the job's first run.
	f.clock.Advance(window - 3*time.Hour + time.Second)
	retries, _ = f.detect(t, f.run("j1", 0, failed))
	assert.Equal(t, []int64{0}, retries, "a new window")

	// Event time, not arrival: a run that happened 23h ago starts a window
	// that ends in 1h.
	f.clock.Advance(time.Minute)
	retries, _ = f.detect(t, f.run("j1", 0, failed))
	assert.Equal(t, []int64{1}, retries, "still the new window")
	old := f.run("j2", 0, failed)
	old.Time = f.clock.Now().Add(-23 * time.Hour)
	retries, _ = f.detect(t, old)
	assert.Equal(t, []int64{0}, retries)
	f.clock.Advance(time.Hour + time.Second)
	retries, _ = f.detect(t, f.run("j2", 0, failed))
	assert.Equal(t, []int64{0}, retries, "its window is over")

	tooOld := f.run("j3", 0, failed)
	tooOld.Time = f.clock.Now().Add(-window)
	retries, found := f.detect(t, tooOld, tooOld, tooOld, tooOld, tooOld)
	assert.Equal(t, []int64{-1, -1, -1, -1, -1}, retries, "runs older than the window are not counted")
	assert.Empty(t, found)
}

func TestNestedInstrumentation(t *testing.T) {
	// Sidekiq's span and ActiveJob's span inside it, for each of 5 runs; the
	// ActiveJob span ends first, so it comes first.
	f := newFixture(t)
	var runs []Run
	for i := range 5 {
		outer, inner := f.run("jid-1", 0, failed), f.run("jid-1", 0, failed)
		outer.SpanID = pcommon.SpanID{byte(i), 1}
		inner.SpanID, inner.ParentSpanID = pcommon.SpanID{byte(i), 2}, outer.SpanID
		runs = append(runs, inner, outer)
	}
	retries, found := f.detect(t, runs...)
	assert.Equal(t, []int64{0, 0, 1, 1, 2, 2, 3, 3, 4, 4}, retries, "each run counted once")
	require.Len(t, found, 1)
	assert.Equal(t, 9, found[0].Run, "the outer span raises the alert")
}

func TestRunsWithoutID(t *testing.T) {
	f := newFixture(t)
	r := f.run("", 9, failed)
	retries, found := f.detect(t, r, r)
	assert.Equal(t, []int64{-1, -1}, retries)
	assert.Empty(t, found)
	assert.Zero(t, f.store.applies)
}

func TestStoreFailure(t *testing.T) {
	f := newFixture(t)
	f.store.fail = fmt.Errorf("boom: %w", statestore.ErrUnavailable)
	runs := []Run{f.run("j1", 0, failed), f.run("j2", 9, failed)}
	found, err := f.d.Detect(context.Background(), f.clock.Now(), runs)
	require.ErrorIs(t, err, statestore.ErrUnavailable)
	assert.Empty(t, found)
	assert.Equal(t, int64(-1), runs[0].Retries, "unknown without the store")
	assert.Equal(t, int64(8), runs[1].Retries, "known from the attempt")
}

func TestHugeStrings(t *testing.T) {
	f := newFixture(t)
	huge := string(make([]byte, 10<<20))
	var fired []Found
	for attempt := 1; attempt <= 5; attempt++ {
		r := f.run(huge, 0, failed)
		r.Class, r.ErrorType = huge, huge
		_, found := f.detect(t, r)
		fired = append(fired, found...)
	}
	require.Len(t, fired, 1)
	assert.Less(t, len(fired[0].Alert.Summary), 400, "the summary is cut")
	assert.Less(t, f.store.Stats().Bytes, int64(1000), "keys are hashes, not ids")
}

func TestNew(t *testing.T) {
	store := statestore.NewMemory(10)
	_, err := New(store, window, 2, nil, 0)
	assert.Error(t, err)
	_, err = New(store, window, 2, []Rule{{Class: regexpFilter("x")}}, 0)
	assert.Error(t, err)
	_, err = New(store, 0, 2, []Rule{{}}, 0)
	assert.Error(t, err)
	_, err = New(store, window, 0.5, []Rule{{}}, 0)
	assert.ErrorContains(t, err, "escalation factor must be at least 1")
}

func TestConcurrentDetect(t *testing.T) {
	f := newFixture(t)
	f.store.Store = statestore.NewMemory(1000) // countingStore is not concurrency-safe; the memory store is
	d, err := New(f.store.Store, window, 2, []Rule{{MaxRetries: 3, Severity: alert.SeverityWarn}}, 0)
	require.NoError(t, err)
	errs := make(chan error, 8)
	fired := make(chan int, 8)
	for g := range 8 {
		go func() {
			n := 0
			for i := range 100 {
				r := f.run(fmt.Sprintf("g%d-%d", g, i%10), 0, failed)
				found, err := d.Detect(context.Background(), f.clock.Now(), []Run{r})
				if err != nil {
					errs <- err
					return
				}
				n += len(found)
			}
			errs <- nil
			fired <- n
		}()
	}
	total := 0
	for range 8 {
		require.NoError(t, <-errs)
		total += <-fired
	}
	// 80 jobs, 10 runs each: retries 4 and 7 fire.
	assert.Equal(t, 80*2, total)
}

func TestFireAndResolveInOneBatch(t *testing.T) {
	f := newFixture(t)
	loop := func(attempts bool, id string, failures int) []Run {
		var runs []Run
		for i := 1; i <= failures+1; i++ {
			outcome, attempt := failed, 0
			if i > failures {
				outcome = succeeded
			}
			if attempts {
				attempt = i
			}
			runs = append(runs, f.run(id, attempt, outcome))
		}
		return runs
	}
	for _, attempts := range []bool{true, false} {
		retries, found := f.detect(t, loop(attempts, fmt.Sprint("j-", attempts), 5)...)
		assert.Equal(t, []int64{0, 1, 2, 3, 4, 5}, retries)
		assert.Equal(t, []summary{
			{alert.StateFiring, 4, 1, alert.SeverityWarn},
			{alert.StateResolved, 5, 0, alert.SeverityWarn},
		}, summarize(found), "attempt numbers: %v", attempts)
	}

	// Counted by id: the job fired before; in this batch it escalates, then
	// succeeds. One resolution.
	_, found := f.detect(t, loop(false, "k", 5)[:5]...)
	assert.Equal(t, []summary{{alert.StateFiring, 4, 1, alert.SeverityWarn}}, summarize(found))
	_, found = f.detect(t, loop(false, "k", 3)...)
	assert.Equal(t, []summary{
		{alert.StateFiring, 7, 2, alert.SeverityWarn},
		{alert.StateResolved, 8, 0, alert.SeverityWarn},
	}, summarize(found))
	_, found = f.detect(t, f.run("k", 0, succeeded))
	assert.Empty(t, found)
}

func regexpFilter(pattern string) filter.Filter {
	return filter.CreateFilter([]filter.Config{{Regex: pattern}})
}
