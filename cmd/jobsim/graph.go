// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Jobs that enqueue jobs, for the job_graph connector: the spans
// OpenTelemetry's Ruby Sidekiq instrumentation (opentelemetry-ruby-contrib
// instrumentation/sidekiq) writes when a job pushes another from perform.
// The client middleware wraps the push in a PRODUCER span "<queue> publish"
// (messaging.system, messaging.sidekiq.job_class of the pushed job, its jid
// as messaging.message_id, messaging.destination: its queue; no
// messaging.operation), a child of the running job's CONSUMER span
// "<queue> process", and injects its context into the job. The server
// middleware then starts the pushed job's span either as a new trace with
// a link to that producer span (propagation_style :link, the default) or
// as its child (:child).
//
// The demo's graph, from the start:
//
//   - every 30 s from 5 s, a CsvImportJob (queue imports) fans out into 20
//     ImportRowJob (imports), each started in a trace of its own linked to
//     its producer span (:link); each row enqueues one SearchIndexJob
//     (default), its child (:child);
//   - from 10 s, a webhook loop that never ends: WebhookSendJob (webhooks)
//     enqueues WebhookRetryJob (retries), which enqueues WebhookSendJob
//     again, one hop every 5 s, each the child of its producer span (:child),
//     all in one trace. The connector finds the cycle and raises job_cycle.
//
// So the graph holds CsvImportJob -> ImportRowJob -> SearchIndexJob and the
// cycle WebhookSendJob <-> WebhookRetryJob.
const (
	fanOutEvery, fanOutFrom = 30 * time.Second, 5 * time.Second
	fanOutRows              = 20
	loopEvery, loopFrom     = 5 * time.Second, 10 * time.Second
)

// The classes and queues of the graph workload.
var (
	importJob    = jobClass{"CsvImportJob", "imports"}
	importRow    = jobClass{"ImportRowJob", "imports"}
	searchIndex  = jobClass{"SearchIndexJob", "default"}
	webhookSend  = jobClass{"WebhookSendJob", "webhooks"}
	webhookRetry = jobClass{"WebhookRetryJob", "retries"}
)

type jobClass struct{ name, queue string }

// jobRun is one execution of a job and how it was enqueued.
type jobRun struct {
	jobClass
	trace pcommon.TraceID
	span  pcommon.SpanID
	start time.Time
	took  time.Duration
	// producer is the span that enqueued the run (zero for a job nothing
	// traced enqueued), at enqueued, in producerTrace: the trace of the job
	// that pushed it. linked: the run is a new trace linking to it (:link),
	// else the producer is its parent (:child) and the run is in its trace.
	producer      pcommon.SpanID
	producerTrace pcommon.TraceID
	enqueued      time.Time
	linked        bool
}

// jid is the run's Sidekiq job id: 24 hex digits, from its span id and
// trace.
func (r jobRun) jid() string { return fmt.Sprintf("%x%x", r.span[:], r.trace[12:]) }

// enqueueEmitter sends the graph workload's spans to a collector's
// OTLP/HTTP receiver.
type enqueueEmitter struct {
	otlpSender
	start time.Time
	log   io.Writer
}

func newEnqueueEmitter(otlpHTTP string, start time.Time, log io.Writer) *enqueueEmitter {
	return &enqueueEmitter{otlpSender: newOTLPSender(otlpHTTP), start: start, log: log}
}

// run sends, every tick until ctx ends, the spans that ended since the
// previous tick (see emitEvery).
func (e *enqueueEmitter) run(ctx context.Context, tick time.Duration) {
	defer e.client.CloseIdleConnections()
	emitEvery(ctx, tick, e.start, e.log, "enqueue spans", func(ctx context.Context, from, to time.Time) (bool, error) {
		td := e.spans(from, to)
		if td.SpanCount() == 0 {
			return false, nil
		}
		return true, e.traces(ctx, td)
	})
}

// spanWindow collects the spans that end in (from, to].
type spanWindow struct {
	spans    ptrace.SpanSlice
	from, to time.Time
}

// spans returns the spans of the graph workload that ended in (from, to],
// in one resource.
func (e *enqueueEmitter) spans(from, to time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	w := spanWindow{spans: scopeSpans(td, "sidekiq-worker", "OpenTelemetry::Instrumentation::Sidekiq"), from: from, to: to}
	// A fan-out's last span ends some 4 s after it starts, a hop's within
	// 1 s.
	for k := firstRun(e.start, fanOutFrom, fanOutEvery, from.Add(-5*time.Second)); ; k++ {
		at := e.start.Add(fanOutFrom + time.Duration(k)*fanOutEvery)
		if at.After(to) {
			break
		}
		w.fanOut(k, at)
	}
	for h := firstRun(e.start, loopFrom, loopEvery, from.Add(-time.Second)); ; h++ {
		at := e.start.Add(loopFrom + time.Duration(h)*loopEvery)
		if at.After(to) {
			break
		}
		w.hop(h, at)
	}
	return td
}

// firstRun is the index of the first run of a series (every `every` from
// start+offset) that starts after t.
func firstRun(start time.Time, offset, every time.Duration, t time.Time) uint64 {
	first := start.Add(offset)
	if t.Before(first) {
		return 0
	}
	return uint64(t.Sub(first)/every) + 1
}

// ids are a run's trace and span ids: kind tells the series apart, n and
// i the run in it, role the span of the run.
func traceID(kind byte, n, i uint64) pcommon.TraceID {
	return pcommon.TraceID{0x9a, kind, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i), kind, 0x9a}
}

func spanID(kind byte, n, i uint64, role byte) pcommon.SpanID {
	return pcommon.SpanID{0x9a, kind, byte(n >> 16), byte(n >> 8), byte(n), byte(i >> 8), byte(i), role}
}

// fanOut writes import k, started at at, with its rows and their index
// jobs.
func (w spanWindow) fanOut(k uint64, at time.Time) {
	imp := jobRun{jobClass: importJob, trace: traceID(1, k, 0), span: spanID(1, k, 0, 0), start: at, took: 400 * time.Millisecond}
	w.execution(imp)
	for i := range uint64(fanOutRows) {
		row := jobRun{jobClass: importRow, trace: traceID(2, k, i), span: spanID(2, k, i, 0),
			start: at.Add(time.Second + time.Duration(i)*100*time.Millisecond), took: 150 * time.Millisecond,
			producer: spanID(1, k, i, 1), producerTrace: imp.trace, enqueued: at.Add(time.Duration(i+1) * 10 * time.Millisecond), linked: true}
		w.publish(imp, row)
		w.execution(row)
		index := jobRun{jobClass: searchIndex, trace: row.trace, span: spanID(3, k, i, 0),
			start: row.start.Add(600 * time.Millisecond), took: 80 * time.Millisecond,
			producer: spanID(3, k, i, 1), producerTrace: row.trace, enqueued: row.start.Add(50 * time.Millisecond)}
		w.publish(row, index)
		w.execution(index)
	}
}

// hop writes hop h of the webhook loop, started at at, and the producer
// span with which it enqueues the next hop. Hop 0 was enqueued by nothing
// traced.
func (w spanWindow) hop(h uint64, at time.Time) {
	run := jobRun{jobClass: webhookSend, trace: traceID(4, 0, 0), span: spanID(4, h, 0, 0), start: at, took: 120 * time.Millisecond}
	next := jobRun{jobClass: webhookRetry, trace: run.trace, span: spanID(4, h+1, 0, 0),
		producer: spanID(4, h+1, 0, 1), producerTrace: run.trace, enqueued: at.Add(60 * time.Millisecond)}
	if h%2 == 1 {
		run.jobClass, next.jobClass = webhookRetry, webhookSend
	}
	if h > 0 {
		run.producer, run.producerTrace, run.enqueued = spanID(4, h, 0, 1), run.trace, at.Add(-loopEvery+60*time.Millisecond)
	}
	w.execution(run)
	w.publish(run, next)
}

// span appends a span that ends at end, if that is in the window.
func (w spanWindow) span(end time.Time) (ptrace.Span, bool) {
	if !end.After(w.from) || end.After(w.to) {
		return ptrace.Span{}, false
	}
	s := w.spans.AppendEmpty()
	s.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	return s, true
}

// execution writes r's CONSUMER span, as the server middleware does.
func (w spanWindow) execution(r jobRun) {
	s, ok := w.span(r.start.Add(r.took))
	if !ok {
		return
	}
	s.SetTraceID(r.trace)
	s.SetSpanID(r.span)
	if !r.producer.IsEmpty() {
		if r.linked {
			l := s.Links().AppendEmpty()
			l.SetTraceID(r.producerTrace)
			l.SetSpanID(r.producer)
		} else {
			s.SetParentSpanID(r.producer)
		}
	}
	s.SetKind(ptrace.SpanKindConsumer)
	s.SetName(r.queue + " process")
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(r.start))
	attrs := s.Attributes()
	r.putJob(attrs)
	attrs.PutStr("messaging.operation", "process")
	if r.enqueued.IsZero() {
		return
	}
	for _, name := range []string{"created_at", "enqueued_at"} {
		e := s.Events().AppendEmpty()
		e.SetName(name)
		e.SetTimestamp(pcommon.NewTimestampFromTime(r.enqueued))
	}
}

// publish writes the PRODUCER span with which parent enqueued child, as
// the client middleware does: a child of parent's execution span.
func (w spanWindow) publish(parent, child jobRun) {
	s, ok := w.span(child.enqueued.Add(2 * time.Millisecond))
	if !ok {
		return
	}
	s.SetTraceID(parent.trace)
	s.SetSpanID(child.producer)
	s.SetParentSpanID(parent.span)
	s.SetKind(ptrace.SpanKindProducer)
	s.SetName(child.queue + " publish")
	s.SetStartTimestamp(pcommon.NewTimestampFromTime(child.enqueued))
	child.putJob(s.Attributes())
	e := s.Events().AppendEmpty()
	e.SetName("created_at")
	e.SetTimestamp(pcommon.NewTimestampFromTime(child.enqueued))
}

// putJob writes the job attributes both middlewares write.
func (r jobRun) putJob(attrs pcommon.Map) {
	attrs.PutStr("messaging.system", "sidekiq")
	attrs.PutStr("messaging.sidekiq.job_class", r.name)
	attrs.PutStr("messaging.message_id", r.jid())
	attrs.PutStr("messaging.destination", r.queue)
	attrs.PutStr("messaging.destination_kind", "queue")
}
