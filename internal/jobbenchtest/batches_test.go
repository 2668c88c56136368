// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobbenchtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// events extracts every job execution of td.
func events(t *testing.T, td ptrace.Traces) (evs []jobevent.Event, spans int) {
	extractor, err := jobevent.NewExtractor(jobevent.Config{})
	require.NoError(t, err)
	x := extractor.At(time.Now())
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				spans++
				var ev jobevent.Event
				if x.FromSpan(ss.Scope(), span, &ev) {
					evs = append(evs, ev)
				}
			}
		}
	}
	return evs, spans
}

func TestJobSpans(t *testing.T) {
	captures := JobSpans(t)
	require.Len(t, captures, 3)
	for i, want := range []int{80, 87, 17} { // River, AppSignal BullMQ, bullmq-otel
		evs, spans := events(t, captures[i])
		assert.Equal(t, want, spans, JobGlobs[i])
		assert.Len(t, evs, spans, "only executions")
	}
}

func TestJobBatch(t *testing.T) {
	td := JobBatch(t, BatchSize)
	evs, spans := events(t, td)
	require.Equal(t, BatchSize, spans)
	require.Len(t, evs, BatchSize, "every span is an execution")

	runs := map[string]int{} // per job (system, class, id) in the batch
	var last time.Time
	for _, ev := range evs {
		runs[ev.System+"/"+ev.Class+"/"+ev.ID]++
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	assert.WithinDuration(t, time.Now(), last, time.Minute, "shifted to now")
	// A full copy of the 184 executions is 75 River, 77 AppSignal and 13
	// bullmq-otel jobs, each run as often as in its capture.
	copies := BatchSize / 184
	assert.Greater(t, len(runs), copies*(75+77+13))
	assert.Less(t, len(runs), (copies+1)*(75+77+13))
	assert.Equal(t, 6, runs["river/sync_inventory/51"], "copy 0 keeps River's ids")
	assert.Equal(t, 6, runs["river/sync_inventory/1051"], "job 51 of copy 1 is job 1051")
	assert.Equal(t, 4, runs["bullmq/sync-inventory/sync-inventory-42-2.1"], "bullmq-otel's retry loop, copy 1")
	assert.Equal(t, 6, runs["bullmq/charge-card/charge-card-7-1.1"], "AppSignal's retry loop, copy 1")
}

func TestMixedBatch(t *testing.T) {
	td := MixedBatch(t, BatchSize, 10)
	evs, spans := events(t, td)
	assert.Equal(t, BatchSize, spans)
	assert.Len(t, evs, BatchSize/10)
	assert.Equal(t, BatchSize/10, Floor(td), "the floor finds the same jobs")
	x, err := jobevent.NewExtractor(jobevent.Config{})
	require.NoError(t, err)
	assert.Equal(t, BatchSize/10, Extract(x, td))
}

func TestFailedBatch(t *testing.T) {
	td := FailedBatch(t, 1000)
	evs, spans := events(t, td)
	require.Equal(t, 1000, spans)
	require.Len(t, evs, 1000)
	messages := map[string]bool{}
	for _, ev := range evs {
		assert.Equal(t, jobevent.OutcomeFailure, ev.Outcome, "%s/%s/%s", ev.System, ev.Class, ev.ID)
		assert.NotEmpty(t, ev.ErrorMessage)
		messages[ev.ErrorMessage] = true
	}
	assert.Greater(t, len(messages), 3, "the captures' different failures")
}

func TestYardsticks(t *testing.T) {
	td := JobBatch(t, BatchSize)
	assert.Equal(t, BatchSize, Floor(td))

	c := NewMapCounter(100_000)
	jobs := BatchSize - c.Count(td)
	assert.Positive(t, jobs)
	assert.Equal(t, BatchSize, c.Count(td), "the second pass sees every run again")

	small := NewMapCounter(10)
	small.Count(td)
	assert.LessOrEqual(t, len(small.runs), 10, "bounded")

	sm := NewSpanMetrics(t)
	require.NoError(t, sm.ConsumeTraces(context.Background(), td))
}

func TestWithoutAttemptsAndRenumberer(t *testing.T) {
	td := JobBatch(t, 500)
	WithoutAttempts(td)
	evs, _ := events(t, td)
	require.Len(t, evs, 500)
	ids := map[string]bool{}
	for _, ev := range evs {
		assert.Zero(t, ev.Attempt, "%s/%s", ev.System, ev.ID)
		ids[ev.System+"/"+ev.ID] = true
	}

	r := NewRenumberer(td)
	span := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	span.Events().AppendEmpty().SetName(alert.EventName)
	r.Next()
	assert.Zero(t, span.Events().Len(), "alert events dropped")
	evs, _ = events(t, td)
	for _, ev := range evs {
		assert.False(t, ids[ev.System+"/"+ev.ID], "%s/%s is new", ev.System, ev.ID)
	}
	assert.Equal(t, 6, func() int {
		n := 0
		for _, ev := range evs {
			if ev.ID == "1000000051" {
				n++
			}
		}
		return n
	}(), "River job 51 is job 1000000051, its runs still one job")
}
