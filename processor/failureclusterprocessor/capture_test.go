// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
)

// These tests replay the real captures in testdata/otlp, request by request
// in the order they were sent, through a processor made by the factory with
// the default configuration, its clock just after the capture's last span.

// captureEnd is the end of a capture's last span.
func captureEnd(in []ptrace.Traces) time.Time {
	var last pcommon.Timestamp
	for _, td := range in {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) { last = max(last, span.EndTimestamp()) })
	}
	return last.AsTime()
}

// replay sends every capture request matching glob through a default
// processor and returns what came out and the clock.
func replay(t *testing.T, glob string) ([]ptrace.Traces, *clockwork.FakeClock, func(ptrace.Traces)) {
	t.Helper()
	in := jobbenchtest.ReadTraces(t, glob)
	clock := clockwork.NewFakeClockAt(captureEnd(in).Add(time.Second))
	p, sink := newTraces(t, NewDefaultConfig(), clock)
	send := func(td ptrace.Traces) { require.NoError(t, p.ConsumeTraces(context.Background(), td)) }
	spans := 0
	for _, td := range in {
		spans += td.SpanCount()
		send(td)
	}
	assert.Equal(t, spans, sink.SpanCount(), "every span passes")
	return sink.AllTraces(), clock, func(td ptrace.Traces) {
		sink.Reset()
		send(td)
	}
}

// failedSpans lists, per request, the failed job spans of class (under
// classKey) in out.
func failedSpans(out []ptrace.Traces, classKey, class string) [][]ptrace.Span {
	per := make([][]ptrace.Span, len(out))
	for i, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			if str(span.Attributes(), classKey) == class && span.Status().Code() == ptrace.StatusCodeError {
				per[i] = append(per[i], span)
			}
		})
	}
	return per
}

// River: a burst of 20 charge_card failures (payment provider connection
// refused) within 2 s, spread over three requests (4, 10 and 6 of them),
// among scattered failures of other kinds: sync_inventory (6 attempts of
// one job), send_webhook (3), parse_report (1 panic).
func TestRiverCapture(t *testing.T) {
	out, clock, send := replay(t, "river-otelriver/*_traces.binpb")

	alerts := spanAlerts(out)
	require.Len(t, alerts, 1, "the burst, once; none of the scattered failures")
	got := alerts[0]
	charge := failedSpans(out, "kind", "charge_card")
	require.Equal(t, []int{0, 0, 4, 10, 6, 0, 0, 0}, lens(charge))
	id := alert.NewID(alert.FailureCluster, "river", "charge_card", "")
	// It fires in the request that takes the class past 10: 14 failures,
	// on the class's last failure of that request. The next 6 make 20,
	// not past the next level (20).
	assert.Equal(t, charge[3][9], got.span)
	first, last := charge[2][0].EndTimestamp().AsTime(), charge[3][9].EndTimestamp().AsTime()
	examples := got.attrs[alert.AttrExampleTraceIDs]
	delete(got.attrs, alert.AttrExampleTraceIDs)
	assert.Equal(t, map[string]any{
		"alert.name": "failure_cluster", "alert.state": "firing", "alert.id": id,
		"alert.severity":  "WARN",
		"alert.summary":   "job class charge_card failing: 14 failures in the last 1h (threshold 10); 100% payment provider",
		"alert.threshold": 10.0, "alert.value": 14.0,
		"messaging.system": "river", "messaging.destination.name": "billing", "jobqueue.job.class": "charge_card",
		"error.type":     "payment provider",
		"alert.failures": int64(14), "alert.executions": int64(14), "alert.failure_ratio": 1.0, "alert.error_share": 1.0,
		"alert.first_failure": first.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"alert.last_failure":  last.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"alert.window":        "1h", "alert.level": int64(1),
	}, got.attrs)
	// Examples: the alerting span's trace first, then the class's latest.
	want := []any{}
	for k := 9; k >= 5; k-- {
		want = append(want, charge[3][k].TraceID().String())
	}
	assert.Equal(t, want, examples)

	// Failures of the firing cluster carry its id from the request that
	// fired it on; nothing else does.
	for i, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			wantID := ""
			if str(span.Attributes(), "kind") == "charge_card" && i >= 3 {
				wantID = id
			}
			assert.Equal(t, wantID, str(span.Attributes(), AttrClusterID), "request %d span %s", i, span.SpanID())
			assert.Empty(t, str(span.Attributes(), AttrDependencyID))
		})
	}

	// An hour later the burst has left the window: the timer resolves it
	// and the record travels on the next span through the pipeline.
	tick(t, clock, 1, time.Hour)
	var resolved []spanAlert
	require.Eventually(t, func() bool {
		td, ss := newScopeSpans()
		httpSpan(ss)
		send(td)
		resolved = spanAlerts([]ptrace.Traces{td})
		return len(resolved) > 0
	}, 10*time.Second, 10*time.Millisecond)
	require.Len(t, resolved, 1)
	r := resolved[0].attrs
	assert.Equal(t, "resolved", r["alert.state"])
	assert.Equal(t, id, r["alert.id"])
	assert.Equal(t, 0.0, r["alert.value"], "the final count")
	assert.Equal(t, int64(1), r["alert.level"], "the level it reached")
	assert.Equal(t, charge[4][5].EndTimestamp().AsTime().UTC().Format("2006-01-02T15:04:05.000Z07:00"), r["alert.last_failure"])
	assert.Equal(t, "job class charge_card recovered: 0 failures in the last 1h (resolves below 5)", r["alert.summary"])
}

func lens(per [][]ptrace.Span) []int {
	out := make([]int, len(per))
	for i, s := range per {
		out[i] = len(s)
	}
	return out
}

// AppSignal's BullMQ instrumentation (the .pb requests: the .json ones
// carry the same spans). SUMMARY.json lists its failure clusters: 20
// send-notification failures within 0.12 s, the others 5 or 6.
func TestAppSignalBullMQCapture(t *testing.T) {
	var summary struct {
		FailureClusters map[string]struct {
			FailedProcessSpans int      `json:"failed_process_spans"`
			ErrorTypes         []string `json:"error_types"`
		} `json:"failure_clusters"`
	}
	b, err := os.ReadFile(filepath.Join(jobbenchtest.CapturesDir(), "bullmq-appsignal", "SUMMARY.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &summary))
	burst := summary.FailureClusters["notifications | send-notification | SMTP connection refused: connect ECONNREFUSED 127.0.0.1:2525"]
	require.Equal(t, 20, burst.FailedProcessSpans)
	for key, c := range summary.FailureClusters {
		if c.FailedProcessSpans != burst.FailedProcessSpans {
			require.LessOrEqual(t, c.FailedProcessSpans, 10, "%s would fire too", key)
		}
	}

	out, _, _ := replay(t, "bullmq-appsignal/*.pb")
	alerts := spanAlerts(out)
	require.Len(t, alerts, 1)
	a := alerts[0].attrs
	assert.Equal(t, alert.NewID(alert.FailureCluster, "bullmq", "send-notification", ""), a["alert.id"])
	assert.Equal(t, "send-notification", a["jobqueue.job.class"])
	assert.Equal(t, "notifications", a["messaging.destination.name"])
	assert.Equal(t, float64(burst.FailedProcessSpans), a["alert.value"], "all in one request")
	assert.Equal(t, burst.ErrorTypes[0], a["error.type"])
	assert.Equal(t, 1.0, a["alert.error_share"])
	assert.Len(t, a[alert.AttrExampleTraceIDs], alert.MaxExampleTraceIDs)
	assert.Equal(t, 20, countAnnotated(out))
}

// BullMQ's own telemetry (bullmq-otel): 4 inventory failures, one billing
// and one reports failure. Nothing fires; nothing is annotated.
func TestBullMQOtelCapture(t *testing.T) {
	out, _, _ := replay(t, "bullmq-otel/*_traces.binpb")
	assert.Empty(t, spanAlerts(out))
	assert.Zero(t, countAnnotated(out))
}

func countAnnotated(out []ptrace.Traces) int {
	n := 0
	for _, td := range out {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			if str(span.Attributes(), AttrClusterID) != "" {
				n++
			}
		})
	}
	return n
}
