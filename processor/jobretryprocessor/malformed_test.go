// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var tenMB = strings.Repeat("x", 10<<20)

// Wrong types, empty and missing fields, absurd numbers and 10 MB strings:
// every span passes, nothing panics, and what can be counted is.
func TestMalformedSpans(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	p, sink := newTraces(t, NewDefaultConfig(), clock)
	river := func(ss ptrace.ScopeSpans, attrs map[string]any, status ptrace.StatusCode, msg string) {
		span := ss.Spans().AppendEmpty()
		span.SetKind(ptrace.SpanKindConsumer)
		span.SetName("river.work")
		span.Status().SetCode(status)
		span.Status().SetMessage(msg)
		require.NoError(t, span.Attributes().FromRaw(attrs))
	}
	cases := []map[string]any{
		{"id": map[string]any{"nested": true}, "kind": "k", "attempt": int64(9), "status": "error"}, // id of a wrong type
		{"id": true, "kind": "k", "attempt": int64(9)},
		{"id": 1.5, "kind": "k", "attempt": int64(9)},
		{"id": int64(7), "kind": "", "attempt": int64(9), "status": "error"}, // empty class
		{"id": int64(7)}, // no class, attempt, status
		{"id": int64(8), "kind": "k", "attempt": "many", "status": "error"},               // attempt of a wrong type
		{"id": int64(8), "kind": "k", "attempt": int64(-3), "status": "error"},            // negative attempt
		{"id": int64(9), "kind": "k", "attempt": int64(math.MaxInt64), "status": "error"}, // absurd attempt
		{"id": tenMB, "kind": tenMB, "queue": tenMB, "attempt": int64(5), "status": "error"},
		{"id": int64(math.MinInt64), "kind": "k", "attempt": []any{1, 2}},
	}
	for round := range 6 {
		td := ptrace.NewTraces()
		ss := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
		ss.Scope().SetName("github.com/riverqueue/rivercontrib/otelriver")
		for _, attrs := range cases {
			river(ss, attrs, ptrace.StatusCodeError, tenMB)
		}
		// A Sidekiq span with a 10 MB jid, counted by id, and one whose end
		// is far in the future.
		sidekiqRun{jid: tenMB, class: tenMB, failed: true, end: clock.Now()}.appendTo(ss)
		future := sidekiqRun{jid: "future", class: "HardJob", failed: true, end: clock.Now()}.appendTo(ss)
		future.SetEndTimestamp(math.MaxUint64)
		require.NotPanics(t, func() { require.NoError(t, p.ConsumeTraces(context.Background(), td)) }, "round %d", round)
		clock.Advance(time.Minute)
	}
	require.Len(t, sink.AllTraces(), 6)
	last := sink.AllTraces()[5].ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	require.Equal(t, len(cases)+2, last.Len(), "every span passes")
	var counts []int64
	for _, span := range last.All() {
		counts = append(counts, retryCount(span.Attributes()))
	}
	// Without a usable attempt a job is counted by id: this is each job's
	// 6th round.
	assert.Equal(t, []int64{
		-1, -1, -1, // no usable id
		8,      // an empty class is a class: attempt 9
		5,      // no attempt: counted by id
		10, 11, // job 8 runs twice a round with attempts it cannot use
		5,    // an attempt beyond int range is unusable
		4,    // 10 MB id and class, attempt 5
		5,    // the smallest int64 is an id
		5, 5, // Sidekiq, counted by id; an end in the far future is now
	}, counts)

	for _, a := range spanAlerts(sink.AllTraces()) {
		for k, v := range a.attrs {
			if s, ok := v.(string); ok {
				assert.LessOrEqual(t, len(s), 1024, "%s is clipped", k)
			}
		}
	}
}

func TestMalformedLogs(t *testing.T) {
	clock := clockwork.NewFakeClockAt(testStart)
	p, sink := newLogs(t, NewDefaultConfig(), clock)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	bodies := []any{
		`{"jid":`, // broken JSON
		`{"jid":"j1","msg":"fail","ctx":"notamap"}`, // ctx of a wrong type
		`{"jid":["j1"],"msg":"fail"}`,               // jid of a wrong type
		`{"jid":"` + tenMB + `","msg":"fail"}`,      // over the JSON size bound
		map[string]any{"jid": tenMB, "msg": "fail", "class": tenMB, "retry_count": "x"},
		map[string]any{"jid": "", "msg": "done"},
		[]any{"jid", "j1"},
	}
	for _, b := range bodies {
		lr := lrs.AppendEmpty()
		if s, ok := b.(string); ok {
			lr.Body().SetStr(s)
		} else {
			require.NoError(t, lr.Body().FromRaw(b))
		}
	}
	for range 5 {
		in := plog.NewLogs()
		ld.CopyTo(in)
		require.NotPanics(t, func() { require.NoError(t, p.ConsumeLogs(context.Background(), in)) })
	}
	out := sink.AllLogs()[4]
	got := out.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Equal(t, len(bodies), got.Len(), "every record passes")
	var counts []int64
	for _, lr := range got.All() {
		counts = append(counts, retryCount(lr.Attributes()))
	}
	assert.Equal(t, []int64{-1, 4, -1, -1, 4, -1, -1}, counts, "the two usable jobs, 5th run each")
	alerts := logAlerts(sink.AllLogs())
	require.Len(t, alerts, 2)
	for _, a := range alerts {
		assert.LessOrEqual(t, len(a.body), 1024)
		assert.LessOrEqual(t, len(a.attrs["messaging.message.id"].(string)), 1024)
	}
}
