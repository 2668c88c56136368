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
// A batch is read scope by scope: Extractor.At gives the Reader of a batch
// (its clock, read once by the caller, bounds event times), and
// Reader.Scope decides once what an instrumentation scope says of all its
// spans. The scopes of HTTP, RPC and database instrumentations (otelhttp,
// otelgrpc, net/http, pg, redis, requests, ... of Go, Ruby, Python and
// Node.js) cannot hold executions and are skipped whole, unless the user's
// job_id_keys are set; River's and BullMQ's scopes name their convention.
// Per-span key matching remains for the conventions recognised by their
// attributes (messaging, Celery, Resque, ActiveJob, the user's keys).
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
// class). Each field takes the first key, in this order, that has a usable
// value; the user's keys (Config) come before all of them.
//
//	field    keys                                              notes
//	id       bullmq.job.id, sidekiq.job.id,                        never the bare "id", which
//	         messaging.message.id, messaging.message_id,           any record may carry
//	         job_id, jobId, jid, task_id
//	class    bullmq.job.name, celery.task_name,
//	         messaging.sidekiq.job_class, messaging.bullmq.job.name,
//	         messaging.resque.job_class, job_class, jobName,
//	         job_kind (River), class, job, task_name, task, worker,
//	         kind, code.namespace (last: loggers set it to their class)
//	queue    bullmq.queue.name, sidekiq.job.queue,
//	         messaging.destination.name, messaging.destination,
//	         queue, queue_name, queueName
//	attempt  bullmq.job.attempts.made +0, attemptsMade +0          BullMQ counts the attempt
//	                                                               before "completed"/"failed"
//	         messaging.bullmq.job.attempts +1                      AppSignal, as on spans
//	         celery.retries +1, retries +1                         Celery: 0 on the first run
//	         sidekiq.job.retry_count +2, retry_count +2            Sidekiq: absent on the first
//	                                                               run, 0 on the second
//	         attempt +0, attempts +0                               1-based: River, Oban,
//	                                                               Graphile Worker, Delayed::Job
//	                                                               (unknown when absent)
//	outcome  event, status, state, outcome, celery.state           an outcome value (below)
//	         msg, message, else a plain string body                an outcome value, or a phrase
//	error    type: error_class, error.type, exception.type, else
//	         the type or name of a map under err or error (pino's
//	         serializer), else error when it is one word beside a
//	         message of its own (error: CardDeclinedError,
//	         error_message: ...), else derived from the message as
//	         on spans; message: error_message, exception.message,
//	         error.message, error.msg, failedReason,
//	         messaging.bullmq.job.failedReason, celery.retry.reason,
//	         error, err, reason, else the message of a map under
//	         err or error
//
// A phrase is a message in which the word "job" or "task" is followed, within
// its first 256 bytes, by an outcome word: River's "JobExecutor: Job errored;
// retrying", Celery's "Task tasks.add[<id>] succeeded in 0.003s", RQ's
// "default: Job OK (<id>)", "job failed". Words are separated by spaces and
// punctuation; identifiers ("tasks.retry_failed") are no words, so a job's
// name does not give its outcome, nor does an outcome word before the job
// word ("Failed to report error for job"). The severity never makes a
// record an execution: it only turns down a message that reads as a success
// but is logged at ERROR or above ("job completed with errors"). Failure
// words count at any severity: River and Celery log failed attempts at INFO.
//
// System is messaging.system when present, else the library the keys belong
// to: bullmq for bullmq.* keys, messaging.bullmq.job.name or attemptsMade;
// celery for celery.*; sidekiq for sidekiq.job.*, messaging.sidekiq.job_class
// or jid; resque for messaging.resque.job_class; river for job_kind. Records
// with only generic keys (job_id, task_id...) have none. Sidekiq's own JSON
// lines ("done" and "fail", jid and class in "ctx") carry no queue, attempt
// or error: Sidekiq logs the error on lines of its own, which are not
// executions.
//
// # Values
//
// An outcome value is one outcome word, optionally after "job" or "task",
// in any case, with its words separated by '_', '-', '.', ' ' or a change
// from lower to upper case: job_failed, job-failed, job.failed, JobFailed,
// "job failed", FAILURE all read as "failed". Outcome words:
//
//	success  ok, done, success, succeeded, completed, finished
//	failure  error, errored, fail, failed, failure, panic, panicked,
//	         raised, retry
//
// (RQ writes "Job OK" and status finished, Sidekiq "done" and "fail",
// Celery SUCCESS, FAILURE, RETRY, "succeeded", "raised unexpected" and
// "retry:", BullMQ completed and failed, River error, panic, "Job errored"
// and "Job panicked".) Anything else (started, queued, retrying,
// failed_login) is unknown, and a record with an unknown outcome is no
// execution. An id is a non-empty string or an integer (an integral double
// counts); other types are absent. An attempt is an integer, an integral
// double or a decimal string, plus the key's offset; anything else, or a
// result below 1, is unknown (0). Strings are never copied: Event fields
// share the data's memory.
package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
