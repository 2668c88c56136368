// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
)

// These tests replay the real captures in testdata/otlp, request by request
// in the order they were sent, through a processor made by the factory, and
// compare what it finds with each capture's own record of the workload.

func readTruth(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(jobbenchtest.CapturesDir(), path))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// replay sends every capture file matching glob through a processor with
// cfg and returns what came out.
func replay(t *testing.T, cfg *Config, glob string) []ptrace.Traces {
	t.Helper()
	p, sink := newTraces(t, cfg, clockwork.NewFakeClockAt(captureNow))
	in := jobbenchtest.ReadTraces(t, glob)
	spans := 0
	for _, td := range in {
		spans += td.SpanCount()
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
	}
	assert.Equal(t, spans, sink.SpanCount(), "every span passes")
	return sink.AllTraces()
}

// jobSpan is a job span's identity and annotation in replayed output.
type jobSpan struct {
	id         string
	attempt    int64
	retryCount int64
}

// wantAlert is what a test expects of an alert event: the span's job and
// attempt, and the event's attributes except the example trace ids, which
// are checked apart.
type wantAlert struct {
	id      string
	attempt int64
	attrs   map[string]any
}

func alertAttrs(state, system, queue, class, id, errorType, summary string, value float64, level int64) map[string]any {
	m := map[string]any{
		"alert.name": "excessive_retries", "alert.state": state,
		"alert.id":        alert.NewID(alert.ExcessiveRetries, system, class, id),
		"alert.threshold": 3.0, "alert.value": value,
		"messaging.system": system, "messaging.destination.name": queue, "jobqueue.job.class": class, "messaging.message.id": id,
		"alert.severity": "WARN", "alert.summary": summary,
	}
	if state == "firing" {
		m["error.type"] = errorType
		m["alert.escalation_level"] = level
	}
	return m
}

// checkAlerts compares the alert events with want, and checks that each
// event's example traces are its own span's first, then other runs of the
// same job.
func checkAlerts(t *testing.T, out []ptrace.Traces, idKey, attemptKey string, attemptOffset int64, want []wantAlert) {
	t.Helper()
	traces := map[string]map[pcommon.TraceID]bool{} // job id -> its traces
	for _, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			if id := attr(span, idKey); id != "" {
				if traces[id] == nil {
					traces[id] = map[pcommon.TraceID]bool{}
				}
				traces[id][span.TraceID()] = true
			}
		})
	}
	got := spanAlerts(out)
	require.Len(t, got, len(want))
	for i, w := range want {
		g := got[i]
		id := attr(g.span, idKey)
		attempt, _ := g.span.Attributes().Get(attemptKey)
		assert.Equal(t, w.id, id, "alert %d", i)
		assert.Equal(t, w.attempt, attempt.Int()+attemptOffset, "alert %d on the span of attempt", i)
		examples, ok := g.attrs["alert.example_trace_ids"].([]any)
		require.True(t, ok, "alert %d has example traces", i)
		assert.Equal(t, g.span.TraceID().String(), examples[0], "the alerting span's trace comes first")
		for _, ex := range examples {
			var tid pcommon.TraceID
			_, err := hex.Decode(tid[:], []byte(ex.(string)))
			require.NoError(t, err)
			assert.True(t, traces[id][tid], "example %s is a run of job %s", ex, id)
		}
		delete(g.attrs, "alert.example_trace_ids")
		assert.Equal(t, w.attrs, g.attrs, "alert %d", i)
	}
}

func attr(span ptrace.Span, key string) string {
	if v, ok := span.Attributes().Get(key); ok {
		return v.AsString()
	}
	return ""
}

// River v0.51.2 + otelriver: job 51 (sync_inventory) failed 6 attempts
// against the same 503 and was discarded; every other job ran once.
func TestCaptureRiver(t *testing.T) {
	var truth struct {
		Jobs []struct {
			ID      int64  `json:"id"`
			Kind    string `json:"kind"`
			Queue   string `json:"queue"`
			State   string `json:"state"`
			Attempt int64  `json:"attempt"`
		} `json:"jobs"`
	}
	readTruth(t, "river-otelriver/workload_truth.json", &truth)
	out := replay(t, NewDefaultConfig(), "river-otelriver/*_traces.binpb")

	// Every execution is annotated with attempt - 1.
	var works []jobSpan
	for _, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			if span.Name() != "river.work" {
				assert.Equal(t, int64(-1), retryCount(span.Attributes()), "%s is no execution", span.Name())
				return
			}
			attempt, _ := span.Attributes().Get("attempt")
			works = append(works, jobSpan{attr(span, "id"), attempt.Int(), retryCount(span.Attributes())})
		})
	}
	require.Len(t, works, 80)
	for _, w := range works {
		assert.Equal(t, w.attempt-1, w.retryCount, "job %s attempt %d", w.id, w.attempt)
	}

	// The truth's only job past 3 retries is job 51; it never succeeded.
	var loops []string
	for _, job := range truth.Jobs {
		if job.Attempt-1 > 3 {
			loops = append(loops, strconv.FormatInt(job.ID, 10)+"/"+job.Kind+"/"+job.State)
		}
	}
	require.Equal(t, []string{"51/sync_inventory/discarded"}, loops)
	checkAlerts(t, out, "id", "attempt", 0, []wantAlert{
		{"51", 5, alertAttrs("firing", "river", "default", "sync_inventory", "51", "inventory upstream",
			"river job sync_inventory 51 retried 4 times > 3: inventory upstream", 4, 1)},
	})
}

// AppSignal's BullMQ instrumentation: SUMMARY.json's two retry loops in
// queue orders, sync-inventory-42 (5 failures, then success on the 6th
// attempt) and charge-card-7 (6 failures). Only the .pb files are replayed:
// the .json files carry the same spans.
func TestCaptureAppSignalBullMQ(t *testing.T) {
	var summary struct {
		RetryLoops map[string][]struct {
			AttemptAttr int64   `json:"attempt_attr"`
			Outcome     string  `json:"outcome"`
			ErrorType   *string `json:"error_type"`
		} `json:"retry_loops"`
	}
	readTruth(t, "bullmq-appsignal/SUMMARY.json", &summary)
	require.Len(t, summary.RetryLoops, 2)
	loop := summary.RetryLoops["orders/sync-inventory-42"]
	require.Len(t, loop, 6)
	require.Equal(t, "ok", loop[5].Outcome, "the 6th attempt succeeded")
	require.Len(t, summary.RetryLoops["orders/charge-card-7"], 6)
	require.Equal(t, "failed", summary.RetryLoops["orders/charge-card-7"][5].Outcome)

	out := replay(t, NewDefaultConfig(), "bullmq-appsignal/*.pb")

	executions := 0
	for _, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			if span.Kind() != ptrace.SpanKindConsumer {
				assert.Equal(t, int64(-1), retryCount(span.Attributes()))
				return
			}
			executions++
			attempts, _ := span.Attributes().Get("messaging.bullmq.job.attempts")
			assert.Equal(t, attempts.Int(), retryCount(span.Attributes()), "AppSignal counts attempts from 0: retries = attempts")
		})
	}
	assert.Equal(t, 87, executions)

	// Both loops fire once, on their 5th attempt (4 retries > 3); the one
	// that succeeded resolves on its success. Batches arrive in capture
	// order, and charge-card-7's 5th attempt comes first.
	charge := summary.RetryLoops["orders/charge-card-7"]
	checkAlerts(t, out, "messaging.message.id", "messaging.bullmq.job.attempts", 1, []wantAlert{
		{"charge-card-7", charge[4].AttemptAttr + 1, alertAttrs("firing", "bullmq", "orders", "charge-card", "charge-card-7", *charge[4].ErrorType,
			"bullmq job charge-card charge-card-7 retried 4 times > 3: CardDeclinedError", 4, 1)},
		{"sync-inventory-42", loop[4].AttemptAttr + 1, alertAttrs("firing", "bullmq", "orders", "sync-inventory", "sync-inventory-42", *loop[4].ErrorType,
			"bullmq job sync-inventory sync-inventory-42 retried 4 times > 3: InventoryServiceError", 4, 1)},
		{"sync-inventory-42", loop[5].AttemptAttr + 1, alertAttrs("resolved", "bullmq", "orders", "sync-inventory", "sync-inventory-42", "",
			"bullmq job sync-inventory sync-inventory-42 succeeded after 5 retries", 5, 0)},
	})
}

// BullMQ 6.7.0's own telemetry (bullmq-otel): failures only as a "job
// failed" span event. truth.json: sync-inventory-42 failed all 4 attempts
// it was allowed, charge-card-7 succeeded on its 2nd. With the default 3
// retries nothing fires; with max_retries 2 the 4-attempt loop does, on its
// 4th attempt.
func TestCaptureBullMQOtel(t *testing.T) {
	var truth map[string]struct {
		Queue        string `json:"queue"`
		Name         string `json:"name"`
		State        string `json:"state"`
		AttemptsMade int64  `json:"attemptsMade"`
	}
	readTruth(t, "bullmq-otel/truth.json", &truth)
	require.Equal(t, int64(4), truth["sync-inventory-42"].AttemptsMade)
	require.Equal(t, "failed", truth["sync-inventory-42"].State)
	for id, job := range truth {
		if id != "sync-inventory-42" {
			require.LessOrEqual(t, job.AttemptsMade, int64(2), id)
		}
	}

	out := replay(t, NewDefaultConfig(), "bullmq-otel/*_traces.binpb")
	assert.Empty(t, spanAlerts(out), "no job retried more than 3 times")
	executions := 0
	for _, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			if made, ok := span.Attributes().Get("bullmq.job.attempts.made"); ok && span.Kind() == ptrace.SpanKindConsumer {
				executions++
				assert.Equal(t, made.Int()-1, retryCount(span.Attributes()))
			}
		})
	}
	assert.Equal(t, 17, executions)

	cfg := NewDefaultConfig()
	cfg.MaxRetries = 2
	out = replay(t, cfg, "bullmq-otel/*_traces.binpb")
	want := alertAttrs("firing", "bullmq", "inventory", "sync-inventory", "sync-inventory-42", "inventory upstream",
		"bullmq job sync-inventory sync-inventory-42 retried 3 times > 2: inventory upstream", 3, 1)
	want["alert.threshold"] = 2.0
	checkAlerts(t, out, "bullmq.job.id", "bullmq.job.attempts.made", 0, []wantAlert{{"sync-inventory-42", 4, want}})
}
