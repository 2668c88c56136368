// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"math"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	consumer = ptrace.SpanKindConsumer
	producer = ptrace.SpanKindProducer
	internal = ptrace.SpanKindInternal
	statusOK = ptrace.StatusCodeOk
	statusEr = ptrace.StatusCodeError
)

func exception(typ, msg string) eventSpec {
	return eventSpec{"exception", map[string]any{"exception.type": typ, "exception.message": msg, "exception.stacktrace": "at x"}}
}

type spanCase struct {
	name string
	span spanSpec
	want *Event // nil: not a job execution
}

func runSpanCases(t *testing.T, x Reader, cases []spanCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			scope, span := tt.span.build(t)
			checkExtraction(t, tt.want, func(ev *Event) bool { return x.FromSpan(scope, span, ev) })
		})
	}
}

func TestFromSpanRiver(t *testing.T) {
	work := func(attrs map[string]any, status ptrace.StatusCode, msg string, events ...eventSpec) spanSpec {
		return spanSpec{scope: riverScope, name: "river.work", kind: consumer, attrs: attrs, status: status, statusMsg: msg, events: events}
	}
	attrs := func(status string, attempt any) map[string]any {
		return map[string]any{"id": int64(51), "kind": "sync_inventory", "queue": "default", "attempt": attempt,
			"status": status, "priority": int64(1), "tag": []any{"inventory"}}
	}
	runSpanCases(t, newTestExtractor(t, Config{}), []spanCase{
		{"ok", work(attrs("ok", int64(1)), statusOK, ""),
			&Event{System: "river", ID: "51", Class: "sync_inventory", Queue: "default", Attempt: 1, Outcome: OutcomeSuccess}},
		{"error: type from the message's first segment", work(attrs("error", int64(4)), statusEr, "inventory upstream: GET /sku/42: 503 Service Unavailable"),
			&Event{System: "river", ID: "51", Class: "sync_inventory", Queue: "default", Attempt: 4, Outcome: OutcomeFailure,
				ErrorType: "inventory upstream", ErrorMessage: "inventory upstream: GET /sku/42: 503 Service Unavailable"}},
		{"panic: exception event wins over the status message", work(attrs("panic", int64(1)), statusEr, "panic",
			exception("runtime.boundsError", "runtime error: index out of range [3] with length 3")),
			&Event{System: "river", ID: "51", Class: "sync_inventory", Queue: "default", Attempt: 1, Outcome: OutcomeFailure,
				ErrorType: "runtime.boundsError", ErrorMessage: "runtime error: index out of range [3] with length 3"}},
		{"status attribute error with an UNSET status", work(attrs("error", int64(2)), ptrace.StatusCodeUnset, ""),
			&Event{System: "river", ID: "51", Class: "sync_inventory", Queue: "default", Attempt: 2, Outcome: OutcomeFailure}},
		{"kind suffix in the span name",
			spanSpec{scope: riverScope, name: "river.work/sync_inventory", kind: consumer, attrs: attrs("ok", int64(1))},
			&Event{System: "river", ID: "51", Class: "sync_inventory", Queue: "default", Attempt: 1, Outcome: OutcomeSuccess}},
		{"insert span is not an execution",
			spanSpec{scope: riverScope, name: "river.insert_many", kind: producer, attrs: map[string]any{"kinds": []any{"x"}, "status": "ok"}}, nil},
		{"river.work from another scope", spanSpec{scope: "my/app", name: "river.work", kind: consumer, attrs: attrs("error", int64(1))}, nil},
		{"river.work prefix of another name", spanSpec{scope: riverScope, name: "river.workers", kind: consumer, attrs: attrs("ok", int64(1))}, nil},
		{"generic keys on an arbitrary consumer span are not read",
			spanSpec{scope: "my/app", name: "handle", kind: consumer, attrs: attrs("error", int64(3))}, nil},
	})
}

func TestFromSpanBullMQ(t *testing.T) {
	process := func(scope string, attrs map[string]any, events ...eventSpec) spanSpec {
		return spanSpec{scope: scope, name: "process inventory", kind: consumer, hasParent: true, attrs: attrs, events: events}
	}
	attrs := map[string]any{"bullmq.queue.name": "inventory", "bullmq.queue.operation": "process", "bullmq.job.id": "sync-42",
		"bullmq.job.name": "sync-inventory", "bullmq.job.attempts.made": int64(3), "bullmq.worker.id": "w-1"}
	failed := eventSpec{"job failed", map[string]any{"bullmq.job.failed.reason": "inventory upstream: 503"}}
	runSpanCases(t, newTestExtractor(t, Config{}), []spanCase{
		{"job failed event with UNSET status", process("bullmq", attrs, failed),
			&Event{System: "bullmq", ID: "sync-42", Class: "sync-inventory", Queue: "inventory", Attempt: 3, Outcome: OutcomeFailure,
				ErrorType: "inventory upstream", ErrorMessage: "inventory upstream: 503"}},
		{"job completed", process("bullmq", attrs, eventSpec{"job completed", map[string]any{"bullmq.job.result": "{}"}}),
			&Event{System: "bullmq", ID: "sync-42", Class: "sync-inventory", Queue: "inventory", Attempt: 3, Outcome: OutcomeSuccess}},
		{"own tracer name, known by bullmq.queue.name", process("my-app", attrs, failed),
			&Event{System: "bullmq", ID: "sync-42", Class: "sync-inventory", Queue: "inventory", Attempt: 3, Outcome: OutcomeFailure,
				ErrorType: "inventory upstream", ErrorMessage: "inventory upstream: 503"}},
		{"older BullMQ without attempts, known by scope and name",
			process("bullmq", map[string]any{"bullmq.job.id": "7", "bullmq.job.name": "resize"}),
			&Event{System: "bullmq", ID: "7", Class: "resize", Outcome: OutcomeSuccess}},
		{"internal fail span is not an execution",
			spanSpec{scope: "bullmq", name: "fail inventory", kind: internal, hasParent: true,
				attrs: map[string]any{"bullmq.queue.name": "inventory", "bullmq.queue.operation": "fail", "bullmq.job.id": "sync-42"}}, nil},
		{"add span is not an execution",
			spanSpec{scope: "bullmq", name: "add inventory.sync-inventory", kind: producer,
				attrs: map[string]any{"bullmq.queue.name": "inventory", "bullmq.queue.operation": "add", "bullmq.job.id": "sync-42"}}, nil},
	})
}

func TestFromSpanMessaging(t *testing.T) {
	appsignal := map[string]any{"messaging.system": "bullmq", "messaging.operation.type": "process", "messaging.operation.name": "Worker.run",
		"messaging.message.id": "charge-card-7", "messaging.destination.name": "orders", "messaging.bullmq.job.name": "charge-card",
		"messaging.bullmq.job.attempts": int64(2), "messaging.bullmq.job.failedReason": "card declined: insufficient_funds"}
	sidekiqAttrs := map[string]any{"messaging.system": "sidekiq", "messaging.operation": "process", "messaging.message_id": "b4a577edbccf1d805744efa9",
		"messaging.destination": "default", "messaging.destination_kind": "queue", "messaging.sidekiq.job_class": "HardJob"}
	kafka := map[string]any{"messaging.system": "kafka", "messaging.operation.type": "process", "messaging.message.id": "m-1",
		"messaging.destination.name": "orders"}
	with := func(m map[string]any, k string, v any) map[string]any {
		c := make(map[string]any, len(m)+1)
		for k, v := range m {
			c[k] = v
		}
		c[k] = v
		return c
	}
	runSpanCases(t, newTestExtractor(t, Config{}), []spanCase{
		{"AppSignal BullMQ failure: 0-based attempts, exception type",
			spanSpec{scope: "@appsignal/opentelemetry-instrumentation-bullmq", name: "Worker.run orders", kind: consumer, attrs: appsignal,
				status: statusEr, statusMsg: "card declined: insufficient_funds", events: []eventSpec{exception("CardDeclinedError", "card declined: insufficient_funds")}},
			&Event{System: "bullmq", ID: "charge-card-7", Class: "charge-card", Queue: "orders", Attempt: 3, Outcome: OutcomeFailure,
				ErrorType: "CardDeclinedError", ErrorMessage: "card declined: insufficient_funds"}},
		{"older BullMQ instrumentation spelling BullMQ",
			spanSpec{name: "Worker.run orders", kind: consumer, attrs: with(appsignal, "messaging.system", "BullMQ")},
			&Event{System: "bullmq", ID: "charge-card-7", Class: "charge-card", Queue: "orders", Attempt: 3, Outcome: OutcomeSuccess}},
		{"AppSignal Queue.add is not an execution",
			spanSpec{name: "Queue.add orders", kind: producer, attrs: with(appsignal, "messaging.operation.type", "send")}, nil},
		{"ruby-contrib Sidekiq failure",
			spanSpec{scope: "OpenTelemetry::Instrumentation::Sidekiq", name: "default process", kind: consumer, attrs: sidekiqAttrs,
				status: statusEr, statusMsg: "Unhandled exception of type: RuntimeError", events: []eventSpec{exception("RuntimeError", "boom")}},
			&Event{System: "sidekiq", ID: "b4a577edbccf1d805744efa9", Class: "HardJob", Queue: "default", Outcome: OutcomeFailure,
				ErrorType: "RuntimeError", ErrorMessage: "boom"}},
		{"OTel semconv: no class, system as given", spanSpec{name: "orders process", kind: consumer, attrs: kafka},
			&Event{System: "kafka", ID: "m-1", Queue: "orders", Outcome: OutcomeSuccess}},
		{"OTel semconv: error.type alone marks a failure",
			spanSpec{name: "orders process", kind: consumer, attrs: with(kafka, "error.type", "timeout")},
			&Event{System: "kafka", ID: "m-1", Queue: "orders", Outcome: OutcomeFailure, ErrorType: "timeout"}},
		{"OTel semconv: receive is not processing",
			spanSpec{name: "orders receive", kind: consumer, attrs: with(kafka, "messaging.operation.type", "receive")}, nil},
		{"a handled exception on a successful span is no failure",
			spanSpec{name: "orders process", kind: consumer, attrs: kafka, events: []eventSpec{exception("Timeout", "retried inline")}},
			&Event{System: "kafka", ID: "m-1", Queue: "orders", Outcome: OutcomeSuccess}},
	})
}

func TestFromSpanRubyAndPython(t *testing.T) {
	celeryRun := map[string]any{"celery.action": "run", "celery.task_name": "tasks.charge", "celery.state": "SUCCESS",
		"messaging.message.id": "6c1d-uuid", "messaging.destination": "celery", "celery.hostname": "w1"}
	celeryRetry := map[string]any{"celery.action": "run", "celery.task_name": "tasks.charge", "celery.state": "RETRY", "celery.retries": int64(2),
		"messaging.message.id": "6c1d-uuid", "messaging.destination": "celery", "celery.retry.reason": "Retry in 5s: ConnectionError()"}
	runSpanCases(t, newTestExtractor(t, Config{}), []spanCase{
		{"Celery success: no retries attribute is the first attempt",
			spanSpec{scope: "opentelemetry.instrumentation.celery", name: "run/tasks.charge", kind: consumer, attrs: celeryRun},
			&Event{System: "celery", ID: "6c1d-uuid", Class: "tasks.charge", Queue: "celery", Attempt: 1, Outcome: OutcomeSuccess}},
		{"Celery RETRY state is a failed attempt",
			spanSpec{name: "run/tasks.charge", kind: consumer, attrs: celeryRetry},
			&Event{System: "celery", ID: "6c1d-uuid", Class: "tasks.charge", Queue: "celery", Attempt: 3, Outcome: OutcomeFailure,
				ErrorType: "Retry in 5s", ErrorMessage: "Retry in 5s: ConnectionError()"}},
		{"Celery FAILURE with exception",
			spanSpec{name: "run/tasks.charge", kind: consumer, attrs: map[string]any{"celery.action": "run", "celery.task_name": "tasks.div",
				"celery.state": "FAILURE", "messaging.message.id": "u2"}, status: statusEr, statusMsg: "ZeroDivisionError('division by zero')",
				events: []eventSpec{exception("ZeroDivisionError", "division by zero")}},
			&Event{System: "celery", ID: "u2", Class: "tasks.div", Attempt: 1, Outcome: OutcomeFailure,
				ErrorType: "ZeroDivisionError", ErrorMessage: "division by zero"}},
		{"Celery apply_async is not an execution",
			spanSpec{name: "apply_async/tasks.charge", kind: producer, attrs: map[string]any{"celery.action": "apply_async", "celery.task_name": "tasks.charge"}}, nil},
		{"Resque: no job id",
			spanSpec{name: "critical process", kind: consumer, attrs: map[string]any{"messaging.system": "resque", "messaging.destination": "critical",
				"messaging.destination_kind": "queue", "messaging.resque.job_class": "ArchiveJob"}},
			&Event{System: "resque", Class: "ArchiveJob", Queue: "critical", Outcome: OutcomeSuccess}},
		{"ActiveJob on the Sidekiq adapter",
			spanSpec{name: "default process", kind: consumer, attrs: map[string]any{"code.namespace": "SendEmailJob", "messaging.system": "sidekiq",
				"messaging.destination": "default", "messaging.message.id": "jid-1"}},
			&Event{System: "sidekiq", ID: "jid-1", Class: "SendEmailJob", Queue: "default", Outcome: OutcomeSuccess}},
		{"ActiveJob without messaging.system",
			spanSpec{name: "SendEmailJob process", kind: consumer, attrs: map[string]any{"code.namespace": "SendEmailJob", "messaging.message_id": "j2"},
				status: statusEr, statusMsg: "Unexpected ActiveJob Error Net::ReadTimeout", events: []eventSpec{exception("Net::ReadTimeout", "timed out")}},
			&Event{System: "activejob", ID: "j2", Class: "SendEmailJob", Outcome: OutcomeFailure, ErrorType: "Net::ReadTimeout", ErrorMessage: "timed out"}},
		{"Datadog Sidekiq first run",
			spanSpec{name: "sidekiq.job", kind: ptrace.SpanKindUnspecified, attrs: map[string]any{"resource.name": "HardJob",
				"sidekiq.job.id": "jid-9", "sidekiq.job.queue": "default", "span.kind": "consumer"}},
			&Event{System: "sidekiq", ID: "jid-9", Class: "HardJob", Queue: "default", Attempt: 1, Outcome: OutcomeSuccess}},
		{"Datadog Sidekiq retry with error tags",
			spanSpec{name: "sidekiq.job", kind: consumer, attrs: map[string]any{"resource.name": "HardJob", "sidekiq.job.id": "jid-9",
				"sidekiq.job.queue": "default", "sidekiq.job.retry_count": int64(0), "error.type": "Redis::TimeoutError",
				"error.message": "Connection timed out"}, status: statusEr},
			&Event{System: "sidekiq", ID: "jid-9", Class: "HardJob", Queue: "default", Attempt: 2, Outcome: OutcomeFailure,
				ErrorType: "Redis::TimeoutError", ErrorMessage: "Connection timed out"}},
		{"Datadog sidekiq.push is not an execution",
			spanSpec{name: "sidekiq.push", kind: producer, attrs: map[string]any{"sidekiq.job.id": "jid-9"}}, nil},
	})
}

func TestFromSpanUserKeys(t *testing.T) {
	x := newTestExtractor(t, Config{
		JobIDKeys: []string{"app.job.id"}, JobClassKeys: []string{"app.job.class"}, QueueKeys: []string{"app.queue"},
		AttemptKeys: []string{"app.job.attempt"}, AttemptOffset: 1, OutcomeKeys: []string{"app.job.result"},
		ErrorTypeKeys: []string{"app.error.kind"}, ErrorMessageKeys: []string{"app.error.text"},
	})
	own := map[string]any{"app.job.id": int64(1234), "app.job.class": "Export", "app.queue": "low", "app.job.attempt": int64(0),
		"app.job.result": "failed", "app.error.kind": "QuotaExceeded", "app.error.text": "quota exceeded for tenant 9"}
	runSpanCases(t, x, []spanCase{
		{"own keys on an internal root span",
			spanSpec{name: "export", kind: internal, attrs: own},
			&Event{ID: "1234", Class: "Export", Queue: "low", Attempt: 1, Outcome: OutcomeFailure,
				ErrorType: "QuotaExceeded", ErrorMessage: "quota exceeded for tenant 9"}},
		{"own keys on a child span are not an execution",
			spanSpec{name: "export", kind: internal, hasParent: true, attrs: own}, nil},
		{"own keys on a client span are not an execution",
			spanSpec{name: "export", kind: ptrace.SpanKindClient, attrs: own}, nil},
		{"own keys are read before the convention's",
			spanSpec{scope: riverScope, name: "river.work", kind: consumer, attrs: map[string]any{"id": int64(5), "kind": "k",
				"queue": "q", "attempt": int64(2), "status": "ok", "app.job.class": "Override"}},
			&Event{System: "river", ID: "5", Class: "Override", Queue: "q", Attempt: 2, Outcome: OutcomeSuccess}},
	})
}

func TestFromSpanMalformed(t *testing.T) {
	river := func(attrs map[string]any) spanSpec {
		return spanSpec{scope: riverScope, name: "river.work", kind: consumer, attrs: attrs}
	}
	ok := func(id string, attempt int, class string) *Event {
		return &Event{System: "river", ID: id, Class: class, Attempt: attempt, Outcome: OutcomeSuccess}
	}
	runSpanCases(t, newTestExtractor(t, Config{}), []spanCase{
		{"integral double id", river(map[string]any{"id": 51.0, "attempt": 2.0}), ok("51", 2, "")},
		{"large int id", river(map[string]any{"id": int64(9007199254740993)}), ok("9007199254740993", 0, "")},
		{"fractional double id", river(map[string]any{"id": 51.5}), ok("", 0, "")},
		{"bytes id", river(map[string]any{"id": []byte{1, 2}}), ok("", 0, "")},
		{"map id", river(map[string]any{"id": map[string]any{"a": "b"}}), ok("", 0, "")},
		{"bool id", river(map[string]any{"id": true}), ok("", 0, "")},
		{"empty string id", river(map[string]any{"id": ""}), ok("", 0, "")},
		{"decimal string attempt", river(map[string]any{"attempt": "3"}), ok("", 3, "")},
		{"garbage string attempt", river(map[string]any{"attempt": "3rd"}), ok("", 0, "")},
		{"negative attempt", river(map[string]any{"attempt": int64(-1)}), ok("", 0, "")},
		{"zero attempt", river(map[string]any{"attempt": int64(0)}), ok("", 0, "")},
		{"huge attempt", river(map[string]any{"attempt": 1e300}), ok("", 0, "")},
		{"NaN attempt", river(map[string]any{"attempt": nanValue()}), ok("", 0, "")},
		{"int class is no class", river(map[string]any{"kind": int64(7)}), ok("", 0, "")},
		{"empty class", river(map[string]any{"kind": ""}), ok("", 0, "")},
		{"control characters pass through", river(map[string]any{"kind": "a\x00b\x1b[31m"}), ok("", 0, "a\x00b\x1b[31m")},
		{"no attributes at all", river(nil), ok("", 0, "")},
	})
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestFromSpanTime(t *testing.T) {
	x := newTestExtractor(t, Config{})
	scope, span := spanSpec{scope: riverScope, name: "river.work", kind: consumer}.build(t)
	var ev Event

	span.SetEndTimestamp(pcommon.NewTimestampFromTime(testNow.Add(time.Hour)))
	require.True(t, x.FromSpan(scope, span, &ev))
	assert.Equal(t, testNow, ev.Time, "a future end is clamped to now")

	span.SetEndTimestamp(pcommon.Timestamp(math.MaxUint64))
	require.True(t, x.FromSpan(scope, span, &ev))
	assert.Equal(t, testNow, ev.Time, "a timestamp past int64 does not wrap into the past")

	span.SetEndTimestamp(0)
	require.True(t, x.FromSpan(scope, span, &ev))
	assert.Equal(t, testStart, ev.Time, "no end: the start")

	span.SetStartTimestamp(0)
	require.True(t, x.FromSpan(scope, span, &ev))
	assert.Equal(t, testNow, ev.Time, "no timestamps: now")
}

func TestErrorTypeFromMessage(t *testing.T) {
	long := strings.Repeat("x", maxDerivedErrorType)
	for msg, want := range map[string]string{
		"payment provider: dial tcp 10.1.2.3:443: connect: connection refused": "payment provider",
		"panic":                         "panic",
		"  spaced out  ":                "spaced out",
		"first line\nsecond: line":      "first line",
		": leading colon":               "",
		"":                              "",
		long:                            long,
		long + "y":                      "",
		long + ": after the limit":      long,
		long + "y: beyond the limit":    "",
		"Cannot read properties (x)":    "Cannot read properties (x)",
		"HTTP 500 from https://a.b/c/d": "HTTP 500 from https",
	} {
		assert.Equal(t, want, errorTypeFromMessage(msg), "%q", msg)
	}
}

func TestParseOutcome(t *testing.T) {
	for word, want := range map[string]Outcome{
		"ok": OutcomeSuccess, "SUCCESS": OutcomeSuccess, "done": OutcomeSuccess, "job.succeeded": OutcomeSuccess, "Completed": OutcomeSuccess,
		"error": OutcomeFailure, "panic": OutcomeFailure, "FAILURE": OutcomeFailure, "RETRY": OutcomeFailure, "fail": OutcomeFailure,
		"job.failed": OutcomeFailure, "job.retry": OutcomeFailure,
		"": OutcomeUnknown, "start": OutcomeUnknown, "job.started": OutcomeUnknown, "REVOKED": OutcomeUnknown, "job.": OutcomeUnknown,
		"job.job.failed": OutcomeUnknown, strings.Repeat("ok", 100): OutcomeUnknown,
		"job_failed": OutcomeFailure, "job-failed": OutcomeFailure, "JobFailed": OutcomeFailure, "job failed": OutcomeFailure,
		"failed": OutcomeFailure, "errored": OutcomeFailure, "panicked": OutcomeFailure, "task_failed": OutcomeFailure,
		"TaskRaised": OutcomeFailure, "completed": OutcomeSuccess, "job_completed": OutcomeSuccess, "succeeded": OutcomeSuccess,
		"OK": OutcomeSuccess, "success": OutcomeSuccess, "finished": OutcomeSuccess, "Job.Succeeded": OutcomeSuccess,
		"ſuccess": OutcomeSuccess, "O\u212a": OutcomeSuccess, "fäiled": OutcomeUnknown, "succeededx": OutcomeUnknown,
		"job": OutcomeUnknown, "started": OutcomeUnknown, "queued": OutcomeUnknown, "retrying": OutcomeUnknown,
		"failed_login": OutcomeUnknown, "job_failed_twice": OutcomeUnknown, "jobs.failed": OutcomeUnknown, "200": OutcomeUnknown,
		"FAILED_LOGIN": OutcomeUnknown, "okay": OutcomeUnknown, strings.Repeat("_", 20) + "failed": OutcomeUnknown,
	} {
		assert.Equal(t, want, parseOutcome(word), "%q", word)
	}
	assert.Equal(t, "failure", OutcomeFailure.String())
	assert.Equal(t, "success", OutcomeSuccess.String())
	assert.Equal(t, "unknown", OutcomeUnknown.String())
}

// Ten-megabyte values are neither copied nor scanned whole.
func TestFromSpanLargeStrings(t *testing.T) {
	huge := strings.Repeat("x", 10<<20)
	x := newTestExtractor(t, Config{})
	scope, span := spanSpec{scope: riverScope, name: "river.work", kind: consumer, status: statusEr, statusMsg: huge,
		attrs: map[string]any{"id": int64(7), "kind": huge, "queue": huge + ":q"}}.build(t)
	var ev Event
	require.True(t, x.FromSpan(scope, span, &ev))
	kind, _ := span.Attributes().Get("kind")
	assert.Same(t, unsafe.StringData(kind.Str()), unsafe.StringData(ev.Class), "the class is the attribute's memory")
	assert.Same(t, unsafe.StringData(span.Status().Message()), unsafe.StringData(ev.ErrorMessage))
	assert.Empty(t, ev.ErrorType, "no type is derived from a 10 MB text")
	assert.Zero(t, testing.AllocsPerRun(10, func() { x.FromSpan(scope, span, &ev) }))
}
