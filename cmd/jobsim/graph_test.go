// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// playEnqueues returns the graph workload's spans of its first `length`, in
// batches of alternating sizes.
func playEnqueues(start time.Time, length time.Duration) []ptrace.Traces {
	e := newEnqueueEmitter("unused:0", start, io.Discard)
	var batches []ptrace.Traces
	last := start
	for i := 0; last.Before(start.Add(length)); i++ {
		next := last.Add([]time.Duration{700 * time.Millisecond, 1300 * time.Millisecond}[i%2])
		batches = append(batches, e.spans(last, next))
		last = next
	}
	return batches
}

// The spans are as the Sidekiq instrumentation links them, each sent
// once: every producer span is a child of an execution, every enqueued
// execution the child of or linked to a producer span; following them
// gives the demo's edges, counted once per enqueue.
func TestEnqueueSpans(t *testing.T) {
	start := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	type ref struct {
		trace pcommon.TraceID
		span  pcommon.SpanID
	}
	spans := map[ref]ptrace.Span{}
	for _, td := range playEnqueues(start, 3*time.Minute) {
		for _, rs := range td.ResourceSpans().All() {
			for _, s := range rs.ScopeSpans().At(0).Spans().All() {
				key := ref{s.TraceID(), s.SpanID()}
				require.NotContains(t, spans, key, "span %s sent twice", s.Name())
				spans[key] = s
			}
		}
	}
	whole := newEnqueueEmitter("unused:0", start, io.Discard).spans(start, start.Add(3*time.Minute))
	require.Len(t, spans, whole.SpanCount(), "the batches hold what one window of the three minutes holds")
	class := func(s ptrace.Span) string {
		v, _ := s.Attributes().Get("messaging.sidekiq.job_class")
		return v.Str()
	}
	edges := map[string]int{}
	for _, s := range spans {
		if s.Kind() == ptrace.SpanKindProducer {
			parent, ok := spans[ref{s.TraceID(), s.ParentSpanID()}]
			require.True(t, ok, "the producer span %s has its execution", s.Name())
			assert.Equal(t, ptrace.SpanKindConsumer, parent.Kind())
			assert.True(t, strings.HasSuffix(s.Name(), " publish"), s.Name())
			continue
		}
		assert.True(t, strings.HasSuffix(s.Name(), " process"), s.Name())
		producer := ref{s.TraceID(), s.ParentSpanID()}
		if s.Links().Len() > 0 {
			assert.True(t, s.ParentSpanID().IsEmpty(), "a linked execution is a root")
			producer = ref{s.Links().At(0).TraceID(), s.Links().At(0).SpanID()}
		}
		if producer.span.IsEmpty() {
			continue // enqueued by nothing traced
		}
		p, ok := spans[producer]
		if !ok {
			continue // its producer ran before the window
		}
		assert.Equal(t, class(s), class(p), "the producer names the child's class")
		edges[class(spans[ref{p.TraceID(), p.ParentSpanID()}])+" -> "+class(s)]++
	}
	// Imports at 5, 35, ... 155 s; loop hops at 10, 15, ... 175 s.
	assert.Equal(t, map[string]int{
		"CsvImportJob -> ImportRowJob":      6 * fanOutRows,
		"ImportRowJob -> SearchIndexJob":    6 * fanOutRows,
		"WebhookSendJob -> WebhookRetryJob": 17,
		"WebhookRetryJob -> WebhookSendJob": 16,
	}, edges)
}
