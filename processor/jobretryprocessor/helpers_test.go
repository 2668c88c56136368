// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"testing"

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
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
)

// testCtx carries the clock the factory gives the processor.
func testCtx(clock clockwork.Clock) context.Context {
	return clockwork.AddToContext(context.Background(), clock)
}

// newTraces creates a started traces processor through the factory, feeding
// a sink; it is shut down when the test ends.
func newTraces(t testing.TB, cfg *Config, clock clockwork.Clock, set ...processor.Settings) (processor.Traces, *consumertest.TracesSink) {
	t.Helper()
	sink := new(consumertest.TracesSink)
	s := processortest.NewNopSettings(metadata.Type)
	if len(set) > 0 {
		s = set[0]
	}
	p, err := NewFactory().CreateTraces(testCtx(clock), s, cfg, sink)
	require.NoError(t, err)
	start(t, p)
	return p, sink
}

func newLogs(t testing.TB, cfg *Config, clock clockwork.Clock, set ...processor.Settings) (processor.Logs, *consumertest.LogsSink) {
	t.Helper()
	sink := new(consumertest.LogsSink)
	s := processortest.NewNopSettings(metadata.Type)
	if len(set) > 0 {
		s = set[0]
	}
	p, err := NewFactory().CreateLogs(testCtx(clock), s, cfg, sink)
	require.NoError(t, err)
	start(t, p)
	return p, sink
}

func start(t testing.TB, p interface {
	Start(context.Context, component.Host) error
	Shutdown(context.Context) error
},
) {
	t.Helper()
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
}

// spanAlert is a jobqueue.alert span event and the span it is on.
type spanAlert struct {
	attrs map[string]any
	span  ptrace.Span
}

// spanAlerts lists the alert events of every batch a sink received, in order.
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

// logAlert is an alert log record: its attributes, severity, body, scope
// and resource.
type logAlert struct {
	attrs    map[string]any
	severity string
	number   plog.SeverityNumber
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
							number: lr.SeverityNumber(), body: lr.Body().Str(), scope: sl.Scope().Name(), resource: rl.Resource().Attributes().AsRaw()})
					}
				}
			}
		}
	}
	return out
}

// retryCount is a record's jobqueue.job.retry_count, or -1 when absent.
func retryCount(attrs pcommon.Map) int64 {
	if v, ok := attrs.Get(AttrRetryCount); ok {
		return v.Int()
	}
	return -1
}
