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

// failureStream is one job class executing every `every`, from `from` to
// `until` after the start (until 0: for ever), succeeding, or failing with
// errType and message (a format taking one number, so that messages differ
// in their volatile parts as real ones do).
type failureStream struct {
	class, queue     string
	every            time.Duration
	from, until      time.Duration
	errType, message string
}

// Outside its incident a class succeeds. The demo's failure_cluster
// settings (config/demo.yaml: more than 10 failures of a class in 5 minutes,
// one error in 3 classes within 1 minute) see:
//
//   - from 30 s to 60 s PaymentCaptureJob cannot reach Stripe: 20 failures,
//     one failure_cluster;
//   - from 90 s to 130 s the database is unreachable: four classes fail
//     with PG::ConnectionBad, 8 times each (no class alone passes 10), one
//     dependency_failure.
//
// Both resolve a few minutes later, once their failures leave the window.
var incidentStreams = []failureStream{
	{class: "PaymentCaptureJob", queue: "critical", every: 3 * time.Second},
	{class: "OrderSyncJob", queue: "default", every: 3 * time.Second},
	{class: "WebhookDeliveryJob", queue: "default", every: 4 * time.Second},
	{class: "ActionMailer::MailDeliveryJob", queue: "mailers", every: 3 * time.Second},
	{class: "ReportExportJob", queue: "reports", every: 6 * time.Second},

	{class: "PaymentCaptureJob", queue: "critical", every: 1500 * time.Millisecond, from: 30 * time.Second, until: 60 * time.Second,
		errType: "Stripe::APIConnectionError", message: "Could not connect to Stripe (api.stripe.com). Request req_%x: connection reset"},

	{class: "OrderSyncJob", queue: "default", every: 5 * time.Second, from: 90 * time.Second, until: 130 * time.Second,
		errType: "PG::ConnectionBad", message: `connection to server at "10.0.3.7", port 5432 failed: timeout expired after %dms`},
	{class: "WebhookDeliveryJob", queue: "default", every: 5 * time.Second, from: 91 * time.Second, until: 131 * time.Second,
		errType: "PG::ConnectionBad", message: `connection to server at "10.0.3.7", port 5432 failed: timeout expired after %dms`},
	{class: "ActionMailer::MailDeliveryJob", queue: "mailers", every: 5 * time.Second, from: 92 * time.Second, until: 132 * time.Second,
		errType: "PG::ConnectionBad", message: `connection to server at "10.0.3.7", port 5432 failed: timeout expired after %dms`},
	{class: "ReportExportJob", queue: "reports", every: 5 * time.Second, from: 93 * time.Second, until: 133 * time.Second,
		errType: "PG::ConnectionBad", message: `connection to server at "10.0.3.7", port 5432 failed: timeout expired after %dms`},
}

// incidentEmitter sends the executions of incidentStreams to a collector's
// OTLP/HTTP receiver as Sidekiq spans, the way OpenTelemetry's Ruby
// Sidekiq instrumentation writes them.
type incidentEmitter struct {
	otlpSender
	start time.Time
	log   io.Writer
	seq   uint64
}

func newIncidentEmitter(otlpHTTP string, start time.Time, log io.Writer) *incidentEmitter {
	return &incidentEmitter{otlpSender: newOTLPSender(otlpHTTP), start: start, log: log}
}

// run sends, every tick until ctx ends, the executions that ended since
// the previous tick (see emitEvery).
func (e *incidentEmitter) run(ctx context.Context, tick time.Duration) {
	defer e.client.CloseIdleConnections()
	emitEvery(ctx, tick, e.start, e.log, "job spans", func(ctx context.Context, from, to time.Time) (bool, error) {
		td := e.spans(from, to)
		if td.SpanCount() == 0 {
			return false, nil
		}
		return true, e.traces(ctx, td)
	})
}

// spans returns the executions that ended in (from, to], in one resource.
func (e *incidentEmitter) spans(from, to time.Time) ptrace.Traces {
	td := ptrace.NewTraces()
	spans := scopeSpans(td, "sidekiq-worker", "OpenTelemetry::Instrumentation::Sidekiq")
	for _, s := range incidentStreams {
		first := e.start.Add(s.from)
		k := time.Duration(0) // the first execution after from
		if !from.Before(first) {
			k = from.Sub(first)/s.every + 1
		}
		for ; ; k++ {
			at := first.Add(k * s.every)
			if at.After(to) || (s.until > 0 && at.Sub(e.start) >= s.until) {
				break
			}
			e.execution(spans.AppendEmpty(), s, at)
		}
	}
	return td
}

// execution writes one job run that ended at end into span.
func (e *incidentEmitter) execution(span ptrace.Span, s failureStream, end time.Time) {
	e.seq++
	n := e.seq
	span.SetTraceID(pcommon.TraceID{0xd3, byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	span.SetSpanID(pcommon.SpanID{0x5a, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	span.SetKind(ptrace.SpanKindConsumer)
	span.SetName(s.queue + " process")
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-200 * time.Millisecond)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	attrs := span.Attributes()
	attrs.PutStr("messaging.system", "sidekiq")
	attrs.PutStr("messaging.operation", "process")
	attrs.PutStr("messaging.destination", s.queue)
	attrs.PutStr("messaging.message_id", fmt.Sprintf("%024x", n))
	attrs.PutStr("messaging.sidekiq.job_class", s.class)
	if s.errType == "" {
		return
	}
	message := fmt.Sprintf(s.message, 5000+n%97)
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage(message)
	ev := span.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(end))
	ev.Attributes().PutStr("exception.type", s.errType)
	ev.Attributes().PutStr("exception.message", message)
}
