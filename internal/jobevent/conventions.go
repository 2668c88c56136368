// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// convention is how one instrumentation spells a job execution: the keys of
// each Event field, tried in order.
type convention struct {
	system               string
	id, class, queue     []slot
	attempt              []counterKey
	firstAttemptUnmarked bool // the counter is written from the second attempt on
	outcome              []slot
	errorType            []slot
	errorMessage         []slot
	// failureEvent is a span event that marks a failure even when the status
	// stays UNSET; failureReason is its message attribute.
	failureEvent, failureReason string
}

// counterKey is an attempt counter and what to add to make it 1-based.
type counterKey struct {
	key    slot
	offset int
}

var (
	messagingID    = []slot{keyMessagingMessageID, keyMessagingMessageIDOld}
	messagingQueue = []slot{keyMessagingDestinationName, keyMessagingDestination}
	errorTypeAttr  = []slot{keyErrorType}
)

// The built-in span conventions; see the package documentation for how each
// is recognised.
var (
	river = convention{
		system:    "river",
		id:        []slot{keyID},
		class:     []slot{keyKind},
		queue:     []slot{keyQueue},
		attempt:   []counterKey{{keyAttempt, 0}},
		outcome:   []slot{keyStatus},
		errorType: errorTypeAttr,
	}
	datadogSidekiq = convention{
		system:               "sidekiq",
		id:                   []slot{keySidekiqJobID},
		class:                []slot{keyResourceName},
		queue:                []slot{keySidekiqJobQueue},
		attempt:              []counterKey{{keySidekiqJobRetryCount, 2}},
		firstAttemptUnmarked: true,
		errorType:            errorTypeAttr,
		errorMessage:         []slot{keyErrorMessage, keyErrorMsg},
	}
	bullmq = convention{
		system:        "bullmq",
		id:            []slot{keyBullMQJobID},
		class:         []slot{keyBullMQJobName},
		queue:         []slot{keyBullMQQueueName},
		attempt:       []counterKey{{keyBullMQJobAttemptsMade, 0}},
		errorType:     errorTypeAttr,
		failureEvent:  "job failed",
		failureReason: "bullmq.job.failed.reason",
	}
	celery = convention{
		system:               "celery",
		id:                   messagingID,
		class:                []slot{keyCeleryTaskName},
		queue:                []slot{keyMessagingDestination, keyMessagingDestinationName},
		attempt:              []counterKey{{keyCeleryRetries, 1}},
		firstAttemptUnmarked: true,
		outcome:              []slot{keyCeleryState},
		errorType:            errorTypeAttr,
		errorMessage:         []slot{keyCeleryRetryReason},
	}
	sidekiq = convention{
		system:    "sidekiq",
		id:        messagingID,
		class:     []slot{keyMessagingSidekiqJobClass},
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	appsignalBullMQ = convention{
		system:       "bullmq",
		id:           messagingID,
		class:        []slot{keyMessagingBullMQJobName},
		queue:        messagingQueue,
		attempt:      []counterKey{{keyMessagingBullMQJobAttempts, 1}},
		errorType:    errorTypeAttr,
		errorMessage: []slot{keyMessagingBullMQJobFailedReason},
	}
	semconv = convention{
		id:        messagingID,
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	resque = convention{
		system:    "resque",
		class:     []slot{keyMessagingResqueJobClass},
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	activeJob = convention{
		system:    "activejob",
		id:        messagingID,
		class:     []slot{keyCodeNamespace},
		queue:     messagingQueue,
		errorType: errorTypeAttr,
	}
	// userKeysOnly is a span recognised by the user's job_id_keys alone.
	userKeysOnly = convention{errorType: errorTypeAttr}
)

// jobLogs reads job log records: the keys of the span conventions, then the
// spellings applications log with. Never the bare "id", which any record
// may carry. The package documentation has the table.
var jobLogs = convention{
	id: []slot{keyBullMQJobID, keySidekiqJobID, keyMessagingMessageID, keyMessagingMessageIDOld,
		keyJobID, keyJobIDCamel, keyJID, keyTaskID},
	class: []slot{keyBullMQJobName, keyCeleryTaskName, keyMessagingSidekiqJobClass, keyMessagingBullMQJobName,
		keyMessagingResqueJobClass, keyJobClass, keyJobNameCamel, keyJobKind, keyClass, keyJob, keyTaskName, keyTask,
		keyWorker, keyKind, keyCodeNamespace},
	queue: []slot{keyBullMQQueueName, keySidekiqJobQueue, keyMessagingDestinationName, keyMessagingDestination,
		keyQueue, keyQueueName, keyQueueNameCamel},
	attempt: []counterKey{
		// BullMQ increments job.attemptsMade before it emits "completed"
		// or "failed": 1 in the handlers of the first attempt.
		{keyBullMQJobAttemptsMade, 0}, {keyAttemptsMade, 0},
		{keyMessagingBullMQJobAttempts, 1},
		// Celery's request.retries is 0 on the first run.
		{keyCeleryRetries, 1}, {keyRetries, 1},
		// Sidekiq writes retry_count when it schedules the first retry:
		// absent on the first run, 0 on the second.
		{keySidekiqJobRetryCount, 2}, {keyRetryCount, 2},
		// 1-based: River's and Oban's attempt; Graphile Worker's attempts
		// (counted when the job is taken), Delayed::Job's (counted when it
		// fails, before it logs the failure).
		{keyAttempt, 0}, {keyAttempts, 0},
	},
	outcome:   []slot{keyEvent, keyStatus, keyState, keyOutcome, keyCeleryState},
	errorType: []slot{keyErrorClass, keyErrorType, keyExceptionType},
	errorMessage: []slot{keyErrorMessageLog, keyExceptionMessage, keyErrorMessage, keyErrorMsg, keyFailedReason,
		keyMessagingBullMQJobFailedReason, keyCeleryRetryReason, keyError, keyErr, keyReason},
}

// logMessages are the keys of a log record's message, read as a phrase when
// no outcome key says how the job ended: slog's and pino's msg, winston's and
// Python's message.
var logMessages = []slot{keyMsg, keyMessage}

// logSystems name the job system of a log record without messaging.system:
// the first of these keys the record has, the keys of one convention or
// library. Other records (job_id, task_id...) have no system.
var logSystems = []struct {
	key    slot
	system string
}{
	{keyBullMQJobID, bullmq.system}, {keyBullMQQueueName, bullmq.system}, {keyBullMQJobName, bullmq.system},
	{keyBullMQJobAttemptsMade, bullmq.system}, {keyMessagingBullMQJobName, bullmq.system},
	{keyAttemptsMade, bullmq.system},
	{keyCeleryTaskName, celery.system}, {keyCeleryState, celery.system}, {keyCeleryRetries, celery.system},
	{keySidekiqJobID, sidekiq.system}, {keySidekiqJobQueue, sidekiq.system}, {keySidekiqJobRetryCount, sidekiq.system},
	{keyMessagingSidekiqJobClass, sidekiq.system},
	{keyMessagingResqueJobClass, resque.system},
	{keyJobKind, river.system},
	{keyJID, sidekiq.system},
}

const (
	riverScope      = "github.com/riverqueue/rivercontrib/otelriver"
	bullmqScope     = "bullmq"
	riverWorkSpan   = "river.work"
	datadogSpanName = "sidekiq.job"
)

// mayBeExecution tells from span's kind, name and parent alone whether it
// can be a job execution, so that most other spans are turned down before
// their attributes are read. PRODUCER, CLIENT and SERVER spans never are
// (enqueueing is no execution).
func (x *Extractor) mayBeExecution(span ptrace.Span) bool {
	switch span.Kind() {
	case ptrace.SpanKindConsumer:
		return true
	case ptrace.SpanKindProducer, ptrace.SpanKindClient, ptrace.SpanKindServer:
		return false
	}
	// Datadog tracers do not always mark sidekiq.job as a consumer, and
	// hand-written job spans are often internal roots.
	return span.Name() == datadogSpanName || (len(x.user.id) > 0 && span.ParentSpanID().IsEmpty())
}

// spanConvention returns the convention that recognises span, which
// mayBeExecution let through and whose attributes are f, as a job execution,
// or nil. It never allocates.
func (x *Extractor) spanConvention(scope *SpanScope, span ptrace.Span, f *fields) *convention {
	name := span.Name()
	if name == datadogSpanName {
		return &datadogSidekiq
	}
	if span.Kind() != ptrace.SpanKindConsumer {
		if f.hasID(x.user.id) {
			return &userKeysOnly
		}
		return nil
	}

	if scope.river && isRiverWork(name) {
		return &river
	}
	if scope.bullmq || f.has(keyBullMQQueueName) {
		if f.strAt(keyBullMQQueueOperation) == "process" || strings.HasPrefix(name, "process ") {
			return &bullmq
		}
		return nil
	}
	if f.strAt(keyCeleryAction) == "run" || (strings.HasPrefix(name, "run/") && f.strAt(keyCeleryTaskName) != "") {
		return &celery
	}
	system := f.strAt(keyMessagingSystem)
	if f.strAt(keyMessagingOperationType) == "process" || f.strAt(keyMessagingOperation) == "process" {
		switch {
		case isSystem(system, sidekiq.system):
			return &sidekiq
		case isSystem(system, appsignalBullMQ.system):
			return &appsignalBullMQ
		}
		return &semconv
	}
	if strings.HasSuffix(name, " process") {
		if isSystem(system, resque.system) {
			return &resque
		}
		if f.strAt(keyCodeNamespace) != "" {
			return &activeJob
		}
	}
	if f.hasID(x.user.id) {
		return &userKeysOnly
	}
	return nil
}

// isSystem reports whether a messaging.system value names system, in any
// case (Unicode case folding: "ſidekiq" is sidekiq, as strings.EqualFold
// says).
func isSystem(value, system string) bool {
	return value == system || strings.EqualFold(value, system)
}

// isRiverWork matches the name of otelriver's work span (in its scope), with or without the
// EnableWorkSpanJobKindSuffix "/<kind>" suffix.
func isRiverWork(spanName string) bool {
	if !strings.HasPrefix(spanName, riverWorkSpan) {
		return false
	}
	rest := spanName[len(riverWorkSpan):]
	return rest == "" || rest[0] == '/'
}
