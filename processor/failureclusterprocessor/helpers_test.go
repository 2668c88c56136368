// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
)

// t0 is a bucket boundary of the default window.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// newTraces creates a started traces processor through the factory, with
// clock in its context, feeding a sink; it is shut down when the test ends.
func newTraces(t testing.TB, cfg *Config, clock clockwork.Clock, set ...processor.Settings) (processor.Traces, *consumertest.TracesSink) {
	t.Helper()
	sink := new(consumertest.TracesSink)
	s := processortest.NewNopSettings(metadata.Type)
	if len(set) > 0 {
		s = set[0]
	}
	p, err := NewFactory().CreateTraces(clockwork.AddToContext(context.Background(), clock), s, cfg, sink)
	require.NoError(t, err)
	start(t, p)
	return p, sink
}

func newLogs(t testing.TB, cfg *Config, clock clockwork.Clock) (processor.Logs, *consumertest.LogsSink) {
	t.Helper()
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(clockwork.AddToContext(context.Background(), clock), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	start(t, p)
	return p, sink
}

func start(t testing.TB, p component.Component) {
	t.Helper()
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
}

// spanAlert is a jobqueue.alert span event and the span it is on.
type spanAlert struct {
	attrs map[string]any
	span  ptrace.Span
}

func spanAlerts(batches []ptrace.Traces) []spanAlert {
	var out []spanAlert
	for _, td := range batches {
		jobbenchtest.ForEachSpan(td, func(span ptrace.Span) {
			for _, ev := range span.Events().All() {
				if ev.Name() == alert.EventName {
					out = append(out, spanAlert{attrs: ev.Attributes().AsRaw(), span: span})
				}
			}
		})
	}
	return out
}

// logAlert is an alert log record with its scope and resource.
type logAlert struct {
	attrs    map[string]any
	severity string
	body     string
	scope    string
	resource map[string]any
}

func logAlerts(batches []plog.Logs) []logAlert {
	var out []logAlert
	for _, ld := range batches {
		for _, rl := range ld.ResourceLogs().All() {
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					if lr.EventName() == alert.EventName {
						out = append(out, logAlert{attrs: lr.Attributes().AsRaw(), severity: lr.SeverityText(),
							body: lr.Body().Str(), scope: sl.Scope().Name(), resource: rl.Resource().Attributes().AsRaw()})
					}
				}
			}
		}
	}
	return out
}

// sidekiqSpan appends a ruby-contrib Sidekiq execution span.
func sidekiqSpan(ss ptrace.ScopeSpans, class, jid string, end time.Time, errType, message string) ptrace.Span {
	span := ss.Spans().AppendEmpty()
	span.SetKind(ptrace.SpanKindConsumer)
	span.SetName("default process")
	// Its own trace per job, its own span per execution: a shared store
	// counts each execution once by these ids.
	var trace pcommon.TraceID
	binary.BigEndian.PutUint64(trace[:], xxhash.Sum64String(jid))
	span.SetTraceID(trace)
	span.SetSpanID(pcommon.SpanID(binary.BigEndian.AppendUint64(nil, uint64(end.UnixNano()))))
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Second)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
	attrs := span.Attributes()
	attrs.PutStr("messaging.system", "sidekiq")
	attrs.PutStr("messaging.operation", "process")
	attrs.PutStr("messaging.destination", "default")
	attrs.PutStr("messaging.message_id", jid)
	attrs.PutStr("messaging.sidekiq.job_class", class)
	if errType != "" {
		span.Status().SetCode(ptrace.StatusCodeError)
		ev := span.Events().AppendEmpty()
		ev.SetName("exception")
		ev.Attributes().PutStr("exception.type", errType)
		ev.Attributes().PutStr("exception.message", message)
	}
	return span
}

// httpSpan appends an ordinary HTTP client span, not a job execution.
func httpSpan(ss ptrace.ScopeSpans) ptrace.Span {
	span := ss.Spans().AppendEmpty()
	span.SetKind(ptrace.SpanKindClient)
	span.SetName("GET")
	span.Attributes().PutStr("http.request.method", "GET")
	return span
}

func newScopeSpans() (ptrace.Traces, ptrace.ScopeSpans) {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "worker")
	return td, rs.ScopeSpans().AppendEmpty()
}
