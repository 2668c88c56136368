// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Outcome says how a job execution ended.
type Outcome uint8

const (
	// OutcomeUnknown is the zero value: the execution's end was not seen.
	OutcomeUnknown Outcome = iota
	// OutcomeSuccess is an execution that completed.
	OutcomeSuccess
	// OutcomeFailure is an execution that raised, errored or panicked.
	OutcomeFailure
)

// String returns "unknown", "success" or "failure".
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeFailure:
		return "failure"
	default:
		return "unknown"
	}
}

// Event is one job execution. Its strings share memory with the span or log
// record it came from: keep the record alive, or copy what you retain.
type Event struct {
	// System is the job system: messaging.system, else the convention's
	// (river, bullmq, sidekiq, celery, resque, activejob); empty for a log
	// record whose keys belong to no library (job_id, task_id...).
	System string
	// ID identifies the job across its attempts; empty when the
	// instrumentation has none (Resque).
	ID string
	// Class is the job's class, kind, task or job name.
	Class string
	// Queue is the queue the job ran from.
	Queue string
	// Attempt is the 1-based attempt number; 0 when unknown.
	Attempt int
	// Outcome is how the execution ended.
	Outcome Outcome
	// ErrorType and ErrorMessage describe a failure; empty otherwise.
	ErrorType    string
	ErrorMessage string
	// Time is when the execution ended (span end, log timestamp), never
	// later than the extractor's clock.
	Time time.Time
	// TraceID and SpanID link the event to its trace; empty for log records
	// without trace context.
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
}
