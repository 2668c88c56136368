// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Enqueue is one PRODUCER span that enqueued a job (or, for River's
// insert_many, a batch of jobs). Its strings share memory with the span.
type Enqueue struct {
	// System is messaging.system when the span has it, else the
	// instrumentation's (river, bullmq, celery, sidekiq, activejob).
	System string
	// Class is the enqueued job's class; empty when the span does not name
	// exactly one (River's insert_many of several kinds), so that the
	// child's execution has to tell.
	Class string
	// Queue is the queue the job was enqueued to; empty when the span does
	// not say (River's insert_many).
	Queue string
	// TraceID and SpanID identify the span: a child execution refers to it
	// as its parent or through a span link. ParentSpanID is the span that
	// enqueued the job, an execution when a job enqueued it.
	TraceID      pcommon.TraceID
	SpanID       pcommon.SpanID
	ParentSpanID pcommon.SpanID
}

// Producer spans, as each instrumentation names them:
//
//	instrumentation   recognised by                                class / queue
//	River otelriver   scope .../rivercontrib/otelriver*, name      kinds (when it holds one kind) / none
//	                  river.insert_many
//	BullMQ built-in   attribute bullmq.queue.name or scope bullmq; bullmq.job.name / bullmq.queue.name
//	(bullmq-otel)     bullmq.queue.operation add or addBulk, or
//	                  name "add <queue>.<name>"
//	Celery            celery.action=apply_async, or name           celery.task_name / messaging.destination
//	                  apply_async/<task>                           (the routing key)
//	messaging         messaging.operation.type or                  by messaging.system as for executions:
//	publish           messaging.operation publish, send or create, messaging.sidekiq.job_class (ruby-contrib
//	                  or, with messaging.system, a name whose      Sidekiq "<queue> publish"),
//	                  first or last word is one of them            messaging.bullmq.job.name, code.namespace
//	                                                               (ActiveJob) / messaging.destination.name
//	                                                               or messaging.destination
//
// The user's job_class_keys and queue_keys are read first, as for
// executions.
const (
	riverInsertSpan = "river.insert_many"
	keyKinds        = "kinds"
)

// FromProducerSpan fills e and reports true when span is a PRODUCER span
// that enqueued a job. It returns false without allocating, and without
// touching e, for any other span.
func (x *Extractor) FromProducerSpan(scope pcommon.InstrumentationScope, span ptrace.Span, e *Enqueue) bool {
	if span.Kind() != ptrace.SpanKindProducer {
		return false
	}
	return x.fromProducerSpan(scope, span, e)
}

func (x *Extractor) fromProducerSpan(scope pcommon.InstrumentationScope, span ptrace.Span, e *Enqueue) bool {
	attrs := span.Attributes()
	name, scopeName := span.Name(), scope.Name()
	var system, class, queue string
	switch {
	case strings.HasPrefix(scopeName, riverScope) && name == riverInsertSpan:
		system, class = river.system, onlyKind(attrs)
	case has(attrs, "bullmq.queue.name") || scopeName == "bullmq":
		switch op := str(attrs, "bullmq.queue.operation"); {
		case op == "add" || op == "addBulk" || (op == "" && strings.HasPrefix(name, "add ")):
		default:
			return false
		}
		system, class, queue = bullmq.system, str(attrs, "bullmq.job.name"), str(attrs, "bullmq.queue.name")
	case str(attrs, "celery.action") == "apply_async" || strings.HasPrefix(name, "apply_async/"):
		system, class = celery.system, str(attrs, "celery.task_name")
		queue = firstNonEmpty(str(attrs, "messaging.destination"), str(attrs, "messaging.destination.name"))
	default:
		msgSystem := str(attrs, "messaging.system")
		op := firstNonEmpty(str(attrs, "messaging.operation.type"), str(attrs, "messaging.operation"))
		if !isPublish(op) && (msgSystem == "" || !publishName(name)) {
			return false
		}
		switch {
		case isSystem(msgSystem, sidekiq.system):
			system, class = sidekiq.system, str(attrs, "messaging.sidekiq.job_class")
		case isSystem(msgSystem, appsignalBullMQ.system):
			system, class = bullmq.system, str(attrs, "messaging.bullmq.job.name")
		default:
			class = str(attrs, "code.namespace")
			if class != "" && msgSystem == "" {
				system = activeJob.system
			}
		}
		queue = firstNonEmpty(str(attrs, "messaging.destination.name"), str(attrs, "messaging.destination"))
	}
	if s := str(attrs, "messaging.system"); s != "" && !isSystem(s, system) {
		system = s
	}
	if c := x.userStr(attrs, x.user.class); c != "" {
		class = c
	}
	if q := x.userStr(attrs, x.user.queue); q != "" {
		queue = q
	}
	*e = Enqueue{System: system, Class: class, Queue: queue,
		TraceID: span.TraceID(), SpanID: span.SpanID(), ParentSpanID: span.ParentSpanID()}
	return true
}

// userStr is the first non-empty string of the user's keys in attrs.
func (x *Extractor) userStr(attrs pcommon.Map, keys []slot) string {
	for _, k := range keys {
		if s := str(attrs, x.keys.names[k]); s != "" {
			return s
		}
	}
	return ""
}

// onlyKind is the one kind of River's kinds attribute (sorted and
// deduplicated by otelriver), or "" when it lists several or none.
func onlyKind(attrs pcommon.Map) string {
	v, ok := attrs.Get(keyKinds)
	if !ok || v.Type() != pcommon.ValueTypeSlice || v.Slice().Len() != 1 {
		return ""
	}
	return v.Slice().At(0).Str()
}

func has(m pcommon.Map, key string) bool {
	_, ok := m.Get(key)
	return ok
}

// isPublish reports whether a messaging operation enqueues: the current
// semantic conventions' send and create, and the older publish.
func isPublish(op string) bool {
	return op == "publish" || op == "send" || op == "create"
}

// publishName reports whether a span name's first or last word is a
// publishing operation: ruby-contrib's "<queue> publish", the semantic
// conventions' "send <queue>".
func publishName(name string) bool {
	first, rest, _ := strings.Cut(name, " ")
	if isPublish(first) {
		return true
	}
	return rest != "" && isPublish(name[strings.LastIndexByte(name, ' ')+1:])
}
