// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package jobevent turns a span or a log record into an Event: one job
// execution (an attempt of a background job) with its id, class, queue,
// attempt number, outcome and error. It knows the attribute spellings of real
// job-system instrumentations; the processors that use it know nothing of
// them.
//
// # Spans
//
// A span is a job execution when one of these conventions recognises it
// (first match wins). Generic keys such as `id` or `queue` are read only once
// the span is known to come from the instrumentation that writes them.
//
//	convention       recognised by                              id / class / queue / attempt
//	River otelriver  CONSUMER, scope                            id (int) / kind / queue / attempt
//	                 github.com/riverqueue/rivercontrib/otelriver*,
//	                 name river.work or river.work/<kind>
//	Datadog Sidekiq  name sidekiq.job (CONSUMER, INTERNAL or    sidekiq.job.id / resource.name / sidekiq.job.queue /
//	                 UNSPECIFIED)                               sidekiq.job.retry_count+2 (absent: 1)
//	BullMQ built-in  CONSUMER, attribute bullmq.queue.name or   bullmq.job.id / bullmq.job.name / bullmq.queue.name /
//	(bullmq-otel)    scope bullmq; bullmq.queue.operation=      bullmq.job.attempts.made
//	                 process or name "process <queue>"
//	Celery           CONSUMER, celery.action=run, or name       messaging.message.id / celery.task_name /
//	                 run/<task> with celery.task_name           messaging.destination / celery.retries+1 (absent: 1)
//	messaging        CONSUMER, messaging.operation.type=process messaging.message.id or messaging.message_id /
//	process          or messaging.operation=process             (by system) / messaging.destination.name or
//	                                                            messaging.destination / (by system)
//	  sidekiq        messaging.system=sidekiq (ruby-contrib)    class messaging.sidekiq.job_class
//	  bullmq         messaging.system=bullmq (AppSignal)        class messaging.bullmq.job.name,
//	                                                            attempt messaging.bullmq.job.attempts+1
//	  semconv        any other messaging.system                 no class, no attempt
//	Resque           CONSUMER, messaging.system=resque, name    no id / messaging.resque.job_class /
//	                 "<queue> process"                          messaging.destination
//	ActiveJob        CONSUMER, code.namespace, name             messaging.message.id or messaging.message_id /
//	                 "<queue or class> process"                 code.namespace / messaging.destination
//	user keys        job_id_keys on a CONSUMER span, or on an   the user's keys
//	                 INTERNAL or UNSPECIFIED span with no parent
//
// PRODUCER, CLIENT and SERVER spans are never executions, so enqueueing
// (river.insert_many, Queue.add, apply_async) is not counted.
//
// The user's keys (Config) are read before the convention's for every field
// of every recognised span. System is messaging.system when the span has it
// (spelled as the convention spells its own system), else the convention's
// (river, sidekiq, bullmq, celery, resque, activejob).
//
// Outcome: a span is a failure when its status is ERROR, it has a non-empty
// error.type attribute, an outcome key holds a failure word (River status
// error/panic, Celery state FAILURE/RETRY), or it has a BullMQ "job failed"
// event (bullmq-otel leaves the status UNSET); otherwise it is a success.
//
// Errors (failures only). ErrorType: the user's keys, the error.type
// attribute, the last "exception" event's exception.type, else derived from
// the message: the text before its first ':' or line break ("payment
// provider: dial tcp ...: refused" gives "payment provider"; Go's wrapped
// errors put their outermost context there), or the whole message when it
// has none, trimmed; empty when that is over 64 bytes. ErrorMessage: the
// user's keys, exception.message, the status message, the BullMQ "job
// failed" event's bullmq.job.failed.reason, then the convention's keys
// (messaging.bullmq.job.failedReason, celery.retry.reason, error.message,
// error.msg).
//
// With both the Sidekiq and the ActiveJob instrumentation on, one job run
// yields two executions (the Sidekiq span and the ActiveJob span, same id).
//
// # Log records
//
// A log record is a job execution when it carries a job id and an outcome.
// Keys are looked up in the attributes, then in a map body or a JSON-object
// string body (at most 1 MiB, parsed only when it contains a quoted id key),
// then in a nested "ctx" map (where Sidekiq's JSON formatter puts jid and
// class).
//
//	id       the user's keys, jid
//	outcome  the user's keys, event (job.succeeded, job.failed, job.retry),
//	         msg (Sidekiq: done, fail), or a plain string body of one word
//	class    the user's keys, class, job
//	queue    the user's keys, queue
//	attempt  the user's keys, retry_count+2 (Sidekiq); unknown when absent
//	error    type: the user's keys, error_class, error.type, else derived
//	         from the message; message: the user's keys, error_message,
//	         error, exception.message
//
// System is messaging.system when present, else sidekiq for jid records.
// Sidekiq's own JSON lines ("done" and "fail", jid and class in "ctx") carry
// no queue, attempt or error: Sidekiq logs the error on lines of its own,
// which are not executions.
//
// # Values
//
// Outcome words are matched case-insensitively, after an optional "job."
// prefix: ok, done, success, succeeded, completed are successes; error, fail,
// failed, failure, panic, retry are failures; anything else is unknown. An id
// is a non-empty string or an integer (an integral double counts); other types
// are absent. An attempt is an integer, an integral double or a decimal
// string, plus the key's offset; anything else, or a result below 1, is
// unknown (0). Strings are never copied: Event fields share the data's
// memory.
package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
