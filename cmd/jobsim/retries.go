// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// loopForm is how a retry loop's executions reach the collector.
type loopForm uint8

const (
	// sidekiqSpans: OpenTelemetry's Ruby Sidekiq spans, which carry no
	// attempt number (job_retry counts the runs of the jid).
	sidekiqSpans loopForm = iota
	// riverSpans: River's otelriver work spans, with the attempt number.
	riverSpans
	// eventLogs: JSON job event log lines (event, jid, job, queue, error).
	eventLogs
)

// retryLoop is one job that fails `failures` times, `every` apart from
// `from` after the start, and then succeeds (succeeds) or is given up.
type retryLoop struct {
	form                loopForm
	class, id, queue    string
	from, every         time.Duration
	failures            int
	succeeds            bool
	errType, errMessage string
}

// The demo's job_retry settings (config/demo.yaml: more than 3 retries)
// see, within the first 70 s:
//
//   - InvoiceSyncJob (Sidekiq spans): 6 failures from 20 s, then a success:
//     fires at its 5th run (4 retries, 52 s), resolves at the 7th (68 s);
//   - sync_inventory (River spans): 8 failed attempts from 25 s, then River
//     discards it: fires at attempt 5 (49 s), escalates at attempt 8 (7
//     retries, 67 s), never resolves;
//   - ChargeCardJob (JSON event logs): 5 failures from 30 s, then a success:
//     an alert log record at its 5th run (58 s), resolved at the 6th (65 s).
var retryLoops = []retryLoop{
	{form: sidekiqSpans, class: "InvoiceSyncJob", id: "5f0c3b7e9a1d2c4b6e8f0a12", queue: "default",
		from: 20 * time.Second, every: 8 * time.Second, failures: 6, succeeds: true,
		errType: "Faraday::TimeoutError", errMessage: "timeout after 30s: GET https://erp.internal/api/invoices/8812"},
	{form: riverSpans, class: "sync_inventory", id: "4242", queue: "default",
		from: 25 * time.Second, every: 6 * time.Second, failures: 8,
		errMessage: "inventory upstream: GET https://inventory.internal/v2/sku/SKU-42: 503 Service Unavailable"},
	{form: eventLogs, class: "ChargeCardJob", id: "b4a577edbccf1d805744efa9", queue: "billing",
		from: 30 * time.Second, every: 7 * time.Second, failures: 5, succeeds: true,
		errMessage: "card declined: insufficient_funds"},
}

// retryEmitter sends the executions of retryLoops to a collector's
// OTLP/HTTP receiver: spans to /v1/traces, log records to /v1/logs.
type retryEmitter struct {
	otlpSender
	start time.Time
	log   io.Writer
}

func newRetryEmitter(otlpHTTP string, start time.Time, log io.Writer) *retryEmitter {
	return &retryEmitter{otlpSender: newOTLPSender(otlpHTTP), start: start, log: log}
}

// run sends, every tick until ctx ends, the executions that ended since
// the previous tick (see emitEvery).
func (e *retryEmitter) run(ctx context.Context, tick time.Duration) {
	defer e.client.CloseIdleConnections()
	emitEvery(ctx, tick, e.start, e.log, "retry loops", func(ctx context.Context, from, to time.Time) (bool, error) {
		td, ld := e.executions(from, to)
		if td.SpanCount() > 0 {
			if err := e.traces(ctx, td); err != nil {
				return true, err
			}
		}
		if ld.LogRecordCount() == 0 {
			return td.SpanCount() > 0, nil
		}
		return true, e.logs(ctx, ld)
	})
}

// executions returns the runs that ended in (from, to]: spans in one
// resource per instrumentation, log records in one resource.
func (e *retryEmitter) executions(from, to time.Time) (ptrace.Traces, plog.Logs) {
	td, ld := ptrace.NewTraces(), plog.NewLogs()
	sidekiq := scopeSpans(td, "sidekiq-worker", "OpenTelemetry::Instrumentation::Sidekiq")
	river := scopeSpans(td, "river-worker", "github.com/riverqueue/rivercontrib/otelriver")
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "billing-worker")
	logs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, l := range retryLoops {
		for run := 1; run <= l.failures+1; run++ {
			if run > l.failures && !l.succeeds {
				break
			}
			end := e.start.Add(l.from + time.Duration(run-1)*l.every)
			if !end.After(from) || end.After(to) {
				continue
			}
			failed := run <= l.failures
			switch l.form {
			case sidekiqSpans:
				l.sidekiqSpan(sidekiq.AppendEmpty(), run, failed, end)
			case riverSpans:
				l.riverSpan(river.AppendEmpty(), run, failed, end)
			case eventLogs:
				l.eventLog(logs.AppendEmpty(), failed, end)
			}
		}
	}
	td.ResourceSpans().RemoveIf(func(rs ptrace.ResourceSpans) bool { return rs.ScopeSpans().At(0).Spans().Len() == 0 })
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool { return rl.ScopeLogs().At(0).LogRecords().Len() == 0 })
	return td, ld
}

func scopeSpans(td ptrace.Traces, service, scope string) ptrace.SpanSlice {
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(scope)
	return ss.Spans()
}

// ids gives each run a trace and span id of its own.
func (l retryLoop) ids(span ptrace.Span, run int, end time.Time) {
	n := uint64(end.UnixMilli())
	span.SetTraceID(pcommon.TraceID{0x7e, byte(l.form), byte(run), byte(n >> 40), byte(n >> 32), byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
	span.SetSpanID(pcommon.SpanID{0x7e, byte(l.form), byte(run), byte(n >> 16), byte(n >> 8), byte(n)})
	span.SetKind(ptrace.SpanKindConsumer)
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-150 * time.Millisecond)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
}

// sidekiqSpan is a run as OpenTelemetry's Ruby Sidekiq instrumentation
// writes it (as the incidents' spans are).
func (l retryLoop) sidekiqSpan(span ptrace.Span, run int, failed bool, end time.Time) {
	l.ids(span, run, end)
	span.SetName(l.queue + " process")
	attrs := span.Attributes()
	attrs.PutStr("messaging.system", "sidekiq")
	attrs.PutStr("messaging.operation", "process")
	attrs.PutStr("messaging.destination", l.queue)
	attrs.PutStr("messaging.message_id", l.id)
	attrs.PutStr("messaging.sidekiq.job_class", l.class)
	if !failed {
		return
	}
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage(l.errMessage)
	ev := span.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(pcommon.NewTimestampFromTime(end))
	ev.Attributes().PutStr("exception.type", l.errType)
	ev.Attributes().PutStr("exception.message", l.errMessage)
}

// riverSpan is a run as River's otelriver middleware writes it: the error
// text is the status message.
func (l retryLoop) riverSpan(span ptrace.Span, attempt int, failed bool, end time.Time) {
	l.ids(span, attempt, end)
	span.SetName("river.work")
	attrs := span.Attributes()
	id, _ := strconv.ParseInt(l.id, 10, 64)
	attrs.PutInt("id", id)
	attrs.PutStr("kind", l.class)
	attrs.PutStr("queue", l.queue)
	attrs.PutInt("attempt", int64(attempt))
	if !failed {
		attrs.PutStr("status", "ok")
		span.Status().SetCode(ptrace.StatusCodeOk)
		return
	}
	attrs.PutStr("status", "error")
	span.Status().SetCode(ptrace.StatusCodeError)
	span.Status().SetMessage(l.errMessage)
}

// eventLog is a run as a JSON event log line, as a file_log receiver
// delivers it: the raw line as the body.
func (l retryLoop) eventLog(lr plog.LogRecord, failed bool, end time.Time) {
	lr.SetTimestamp(pcommon.NewTimestampFromTime(end))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(end))
	event, errField := "job.succeeded", ""
	if failed {
		event, errField = "job.failed", fmt.Sprintf(`,"error":%q`, l.errMessage)
	}
	lr.Body().SetStr(fmt.Sprintf(`{"ts":%q,"event":%q,"jid":%q,"job":%q,"queue":%q%s}`,
		end.UTC().Format(time.RFC3339Nano), event, l.id, l.class, l.queue, errField))
}
