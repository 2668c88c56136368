// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// convention is how one instrumentation spells a job execution: the keys of
// each Event field, tried in order.
type convention struct {
	system               string
	id, class, queue     []string
	attempt              []counterKey
	firstAttemptUnmarked bool // the counter is written from the second attempt on
	outcome              []string
	errorType            []string
	errorMessage         []string
	// failureEvent is a span event that marks a failure even when the status
	// stays UNSET; failureReason is its message attribute.
	failureEvent, failureReason string
}

// counterKey is an attempt counter and what to add to make it 1-based.
type counterKey struct {
	key    string
	offset int
}

var (
	messagingID    = []string{"messaging.message.id", "messaging.message_id"}
	messagingQueue = []string{"messaging.destination.name", "messaging.destination"}
	errorTypeAttr  = []string{"error.type"}
)

// The built-in span conventions; see the package documentation for how each
// is recognised.
var (
	river = convention{
		system:    "river",
		id:        []string{"id"},
		class:     []string{"kind"},
		queue:     []string{"queue"},
		attempt:   []counterKey{{"attempt", 0}},
		outcome:   []string{"status"},
		errorType: errorTypeAttr,
	}
	datadogSidekiq = convention{
		system:               "sidekiq",
		id:                   []string{"sidekiq.job.id"},
		class:                []string{"resource.name"},
		queue:                []string{"sidekiq.job.queue"},
		attempt:              []counterKey{{"sidekiq.job.retry_count", 2}},
		firstAttemptUnmarked: true,
		errorType:            errorTypeAttr,
		errorMessage:         []string{"error.message", "error.msg"},
	}
	bullmq = convention{
		system:        "bullmq",
		id:            []string{"bullmq.job.id"},
		class:         []string{"bullmq.job.name"},
		queue:         []string{"bullmq.queue.name"},
		attempt:       []counterKey{{"bullmq.job.attempts.made", 0}},
		errorType:     errorTypeAttr,
		failureEvent:  "job failed",
		failureReason: "bullmq.job.failed.reason",
	}
	celery = convention{
		system:               "celery",
		id:                   messagingID,
		class:                []string{"celery.task_name"},
		queue:                []string{"messaging.destination", "messaging.destination.name"},
		attempt:              []counterKey{{"celery.retries", 1}},
		firstAttemptUnmarked: true,
		outcome:              []string{"celery.state"},
		errorType:            errorTypeAttr,
		errorMessage:         []string{"celery.retry.reason"},
	}
	sidekiq = convention{
		system:    "sidekiq",
		id:        messagingID,
		class:     []string{"messaging.sidekiq.job_class"},
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	appsignalBullMQ = convention{
		system:       "bullmq",
		id:           messagingID,
		class:        []string{"messaging.bullmq.job.name"},
		queue:        messagingQueue,
		attempt:      []counterKey{{"messaging.bullmq.job.attempts", 1}},
		errorType:    errorTypeAttr,
		errorMessage: []string{"messaging.bullmq.job.failedReason"},
	}
	semconv = convention{
		id:        messagingID,
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	resque = convention{
		system:    "resque",
		class:     []string{"messaging.resque.job_class"},
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	activeJob = convention{
		system:    "activejob",
		id:        messagingID,
		class:     []string{"code.namespace"},
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	// userKeysOnly is a span recognised by the user's job_id_keys alone.
	userKeysOnly = convention{errorType: errorTypeAttr}
)

// jobLogs reads job log records: Sidekiq's JSON logs and the seed's JSON
// event logs (event, jid, job, error).
var jobLogs = convention{
	system:       "sidekiq",
	id:           []string{"jid"},
	class:        []string{"class", "job"},
	queue:        []string{"queue"},
	attempt:      []counterKey{{"retry_count", 2}},
	outcome:      []string{"event", "msg"},
	errorType:    []string{"error_class", "error.type"},
	errorMessage: []string{"error_message", "error", "exception.message"},
}

const (
	riverScope      = "github.com/riverqueue/rivercontrib/otelriver"
	riverWorkSpan   = "river.work"
	datadogSpanName = "sidekiq.job"
)

// spanConvention returns the convention that recognises span, whose
// attributes are f, as a job execution, or nil. It reads only what it must
// and never allocates.
func (x *Extractor) spanConvention(scope pcommon.InstrumentationScope, span ptrace.Span, f *fields) *convention {
	switch span.Kind() {
	case ptrace.SpanKindProducer, ptrace.SpanKindClient, ptrace.SpanKindServer:
		return nil
	}
	name := span.Name()
	// Datadog tracers do not always mark sidekiq.job as a consumer.
	if name == datadogSpanName {
		return &datadogSidekiq
	}
	if span.Kind() != ptrace.SpanKindConsumer {
		// Hand-written job spans are often internal roots.
		if span.ParentSpanID().IsEmpty() && f.hasID(x.user.id) {
			return &userKeysOnly
		}
		return nil
	}

	scopeName := scope.Name()
	if isRiverWork(scopeName, name) {
		return &river
	}
	attrs := span.Attributes()
	if _, ok := attrs.Get("bullmq.queue.name"); ok || scopeName == "bullmq" {
		if str(attrs, "bullmq.queue.operation") == "process" || strings.HasPrefix(name, "process ") {
			return &bullmq
		}
		return nil
	}
	if str(attrs, "celery.action") == "run" || (strings.HasPrefix(name, "run/") && str(attrs, "celery.task_name") != "") {
		return &celery
	}
	system := str(attrs, "messaging.system")
	if str(attrs, "messaging.operation.type") == "process" || str(attrs, "messaging.operation") == "process" {
		switch {
		case strings.EqualFold(system, sidekiq.system):
			return &sidekiq
		case strings.EqualFold(system, appsignalBullMQ.system):
			return &appsignalBullMQ
		}
		return &semconv
	}
	if strings.HasSuffix(name, " process") {
		if strings.EqualFold(system, resque.system) {
			return &resque
		}
		if str(attrs, "code.namespace") != "" {
			return &activeJob
		}
	}
	if f.hasID(x.user.id) {
		return &userKeysOnly
	}
	return nil
}

// isRiverWork matches otelriver's work span, with or without the
// EnableWorkSpanJobKindSuffix "/<kind>" suffix.
func isRiverWork(scopeName, spanName string) bool {
	if !strings.HasPrefix(scopeName, riverScope) || !strings.HasPrefix(spanName, riverWorkSpan) {
		return false
	}
	rest := spanName[len(riverWorkSpan):]
	return rest == "" || rest[0] == '/'
}
