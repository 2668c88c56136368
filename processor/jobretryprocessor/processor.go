// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor"

import (
	"context"
	"errors"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobpipeline"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/retry"
)

// AttrRetryCount is the annotation put on every job execution whose retries
// are known: how many times the job ran before.
const AttrRetryCount = "jobqueue.job.retry_count"

type retryProcessor struct {
	pipeline  *jobpipeline.Pipeline[*runs]
	detector  *retry.Detector
	telemetry *metadata.TelemetryBuilder
}

// runs is the detector's per-batch memory: the batch's executions.
type runs struct{ list []retry.Run }

func (r *runs) Begin(time.Time) {}

func (r *runs) Add(ev *jobevent.Event, parent pcommon.SpanID) {
	r.list = append(r.list, retry.Run{Event: *ev, ParentSpanID: parent})
}

func (r *runs) Reset() {
	clear(r.list)
	r.list = r.list[:0]
}

func newRetryProcessor(ctx context.Context, set processor.Settings, cfg *Config, clock clockwork.Clock) (*retryProcessor, error) {
	status := &jobpipeline.Status{}
	store, err := jobpipeline.OpenStore(ctx, set, &cfg.State, clock, status)
	if err != nil {
		return nil, err
	}
	p, err := newRetryProcessorWithStore(set, cfg, clock, store, status)
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return p, nil
}

// newRetryProcessorWithStore is the seam for tests and benchmarks that bring
// their own store (status: where it reports outages, or nil); the processor
// owns it from here on.
func newRetryProcessorWithStore(set processor.Settings, cfg *Config, clock clockwork.Clock, store statestore.Store, status *jobpipeline.Status) (*retryProcessor, error) {
	rules, err := cfg.rules()
	if err != nil {
		return nil, err
	}
	detector, err := retry.New(store, cfg.Window, cfg.EscalationFactor, rules, cfg.State.DedupeTTL())
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	pipeline, err := jobpipeline.New(set, jobpipeline.Settings[*runs]{
		Component: metadata.Type.String(), Jobs: cfg.Config, Store: store, Clock: clock,
		NewSink:    func() *runs { return new(runs) },
		AlertScope: metadata.ScopeName, Alerts: tb.ProcessorJobRetryAlerts, StateErrors: tb.ProcessorJobRetryStateErrors,
		Status: status,
	})
	if err == nil {
		err = pipeline.StateGauges(tb.RegisterProcessorJobRetryTrackedJobsCallback, tb.RegisterProcessorJobRetryStateMemoryCallback,
			tb.RegisterProcessorJobRetryStateEvictionsCallback, tb.RegisterProcessorJobRetryStateFallbackCallback)
	}
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return &retryProcessor{pipeline: pipeline, detector: detector, telemetry: tb}, nil
}

func (p *retryProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return p.pipeline.Close()
}

func (p *retryProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	b := p.pipeline.Traces(td)
	if b == nil {
		return td, nil
	}
	defer p.pipeline.Release(b)
	found := p.detect(ctx, b)
	for i := range b.Execs.list {
		annotate(b.Spans[i].Attributes(), b.Execs.list[i].Retries)
	}
	p.pipeline.AddSpanEvents(ctx, b, len(found), func(i int) (*alert.Alert, int) { return &found[i].Alert, found[i].Run })
	return td, nil
}

func (p *retryProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	b := p.pipeline.Logs(ld)
	if b == nil {
		return ld, nil
	}
	defer p.pipeline.Release(b)
	found := p.detect(ctx, b)
	for i := range b.Execs.list {
		annotate(b.Logs[i].Attributes(), b.Execs.list[i].Retries)
	}
	p.pipeline.AppendLogs(ctx, ld, b, len(found), func(i int) (*alert.Alert, int) { return &found[i].Alert, found[i].Run })
	return ld, nil
}

// detect runs the detector; a state-store failure costs annotations and
// alerts, never the data.
func (p *retryProcessor) detect(ctx context.Context, b *jobpipeline.Batch[*runs]) []retry.Found {
	found, err := p.detector.Detect(ctx, b.Now, b.Execs.list)
	p.pipeline.StoreResult(ctx, err)
	return found
}

// annotate puts the retry count, when known (n >= 0), on an execution. A
// freshly decoded attribute slice is usually full, and append would double
// it (a copy of every attribute into twice the memory, for one more);
// EnsureCapacity grows it by exactly the one attribute.
func annotate(attrs pcommon.Map, n int64) {
	if n < 0 {
		return
	}
	attrs.EnsureCapacity(attrs.Len() + 1)
	attrs.PutInt(AttrRetryCount, n)
}
