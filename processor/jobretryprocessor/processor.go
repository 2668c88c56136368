// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor"

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/retry"
)

// AttrRetryCount is the annotation put on every job execution whose retries
// are known: how many times the job ran before.
const AttrRetryCount = "jobqueue.job.retry_count"

// Attribute sets of the alerts counter, built once.
var (
	firingAttrs   = metric.WithAttributeSet(attribute.NewSet(attribute.String("alert.state", alert.StateFiring.String())))
	resolvedAttrs = metric.WithAttributeSet(attribute.NewSet(attribute.String("alert.state", alert.StateResolved.String())))
)

type retryProcessor struct {
	logger    *zap.Logger
	extractor *jobevent.Extractor
	detector  *retry.Detector
	store     statestore.Store
	telemetry *metadata.TelemetryBuilder
	// version is the collector's, on the scope of appended alert records.
	version     string
	batches     sync.Pool // *batch
	stateErrors *statestore.FailureLog
	// clock, and its reading at the start of the latest batch (Unix
	// nanoseconds): the extractor's bound for event times, read once per
	// batch rather than once per execution.
	clock    clockwork.Clock
	batchNow atomic.Int64
}

// batch is the per-call memory of the pdata side, reused through a pool.
type batch struct {
	ev    jobevent.Event
	runs  []retry.Run
	spans []ptrace.Span
	logs  []plog.LogRecord
	// resource is the index of each log record's ResourceLogs.
	resource []int
}

func newRetryProcessor(ctx context.Context, set processor.Settings, cfg *Config, clock clockwork.Clock) (*retryProcessor, error) {
	store, err := cfg.State.NewStore(ctx, set.Logger, statestore.WithClock(clock))
	if err != nil {
		return nil, err
	}
	p, err := newRetryProcessorWithStore(set, cfg, clock, store)
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return p, nil
}

// newRetryProcessorWithStore is the seam for tests and benchmarks that bring
// their own store; the processor owns it from here on.
func newRetryProcessorWithStore(set processor.Settings, cfg *Config, clock clockwork.Clock, store statestore.Store) (*retryProcessor, error) {
	p := &retryProcessor{logger: set.Logger, store: store, version: set.BuildInfo.Version, clock: clock,
		stateErrors: statestore.NewFailureLog(set.Logger, "job_retry: state store failed; data passes through with fewer annotations and alerts")}
	var err error
	if p.extractor, err = jobevent.NewExtractor(cfg.Config, func() time.Time { return time.Unix(0, p.batchNow.Load()) }); err != nil {
		return nil, err
	}
	rules, err := cfg.rules()
	if err != nil {
		return nil, err
	}
	if p.detector, err = retry.New(store, clock, cfg.Window, cfg.EscalationFactor, rules, cfg.State.DedupeTTL()); err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p.telemetry = tb
	p.batches.New = func() any { return new(batch) }
	err = errors.Join(
		tb.RegisterProcessorJobRetryTrackedJobsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(store.Stats().Entries)
			return nil
		}),
		tb.RegisterProcessorJobRetryStateMemoryCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(store.Stats().Bytes)
			return nil
		}),
		tb.RegisterProcessorJobRetryStateEvictionsCallback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(store.Stats().Evictions)
			return nil
		}),
		tb.RegisterProcessorJobRetryStateFallbackCallback(func(_ context.Context, o metric.Int64Observer) error {
			var v int64
			if store.Stats().Fallback {
				v = 1
			}
			o.Observe(v)
			return nil
		}),
	)
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return p, nil
}

func (p *retryProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return p.store.Close()
}

func (p *retryProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	p.batchNow.Store(p.clock.Now().UnixNano())
	b := p.batches.Get().(*batch)
	defer p.release(b)
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		sss := rss.At(i).ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			scope, spans := ss.Scope(), ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if p.extractor.FromSpan(scope, span, &b.ev) {
					b.runs = append(b.runs, retry.Run{Event: b.ev, ParentSpanID: span.ParentSpanID()})
					b.spans = append(b.spans, span)
				}
			}
		}
	}
	if len(b.runs) == 0 {
		return td, nil
	}
	found := p.detect(ctx, b.runs)
	for i := range b.runs {
		if n := b.runs[i].Retries; n >= 0 {
			b.spans[i].Attributes().PutInt(AttrRetryCount, n)
		}
	}
	// In a traces pipeline the span event is the alert: the processor has
	// no logs consumer to send a record to.
	for i := range found {
		found[i].Alert.AddSpanEvent(b.spans[found[i].Run])
		p.countAlert(ctx, &found[i].Alert)
	}
	return td, nil
}

func (p *retryProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	p.batchNow.Store(p.clock.Now().UnixNano())
	b := p.batches.Get().(*batch)
	defer p.release(b)
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				if p.extractor.FromLog(lr, &b.ev) {
					b.runs = append(b.runs, retry.Run{Event: b.ev})
					b.logs = append(b.logs, lr)
					b.resource = append(b.resource, i)
				}
			}
		}
	}
	if len(b.runs) == 0 {
		return ld, nil
	}
	found := p.detect(ctx, b.runs)
	for i := range b.runs {
		if n := b.runs[i].Retries; n >= 0 {
			b.logs[i].Attributes().PutInt(AttrRetryCount, n)
		}
	}
	p.appendAlerts(ctx, ld, b, found)
	return ld, nil
}

// appendAlerts adds the alert records to ld, in ResourceLogs of their own
// (a copy of the resource of the record that raised them) with this
// processor's scope, so that a pipeline can route them apart.
func (p *retryProcessor) appendAlerts(ctx context.Context, ld plog.Logs, b *batch, found []retry.Found) {
	alert.AppendLogs(ld, metadata.ScopeName, p.version, len(found), func(i int) (*alert.Alert, int) {
		return &found[i].Alert, b.resource[found[i].Run]
	})
	for i := range found {
		p.countAlert(ctx, &found[i].Alert)
	}
}

// detect runs the detector; a state-store failure costs annotations and
// alerts, never the data.
func (p *retryProcessor) detect(ctx context.Context, runs []retry.Run) []retry.Found {
	found, err := p.detector.Detect(ctx, runs)
	if err != nil {
		p.telemetry.ProcessorJobRetryStateErrors.Add(ctx, 1)
		p.stateErrors.Record(err)
	}
	return found
}

func (p *retryProcessor) countAlert(ctx context.Context, a *alert.Alert) {
	attrs := firingAttrs
	if a.State == alert.StateResolved {
		attrs = resolvedAttrs
	}
	p.telemetry.ProcessorJobRetryAlerts.Add(ctx, 1, attrs)
}

// release clears what the batch holds of the data (so the pool does not
// keep it alive) and returns it to the pool.
func (p *retryProcessor) release(b *batch) {
	b.ev = jobevent.Event{}
	clear(b.runs)
	b.runs = b.runs[:0]
	clear(b.spans)
	b.spans = b.spans[:0]
	clear(b.logs)
	b.logs = b.logs[:0]
	b.resource = b.resource[:0]
	p.batches.Put(b)
}
