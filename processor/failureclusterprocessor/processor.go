// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobpipeline"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
)

// Annotations put on every failed job execution that belongs to a firing
// alert: the alert's id, so that a backend can group the failures.
const (
	AttrClusterID    = "jobqueue.failure_cluster.id"
	AttrDependencyID = "jobqueue.dependency_failure.id"
)

// maxHeld bounds the resolved records that wait, in a traces pipeline, for
// a span to travel on.
const maxHeld = 1024

type clusterProcessor struct {
	pipeline        *jobpipeline.Pipeline[execs]
	detector        *burst.Detector
	telemetry       *metadata.TelemetryBuilder
	clock           clockwork.Clock
	resolveInterval time.Duration

	// held are resolved records waiting for a span (traces pipelines).
	mu       sync.Mutex
	held     []alert.Alert
	nHeld    atomic.Int32
	stopTick context.CancelFunc
	ticking  chan struct{}
}

// execs is the detector's per-batch memory, as the pipeline fills it: a
// span's parent does not matter to clusters.
type execs struct{ *burst.Batch }

func (e execs) Add(ev *jobevent.Event, _ pcommon.SpanID) { e.Batch.Add(ev) }

func newClusterProcessor(ctx context.Context, set processor.Settings, cfg *Config, clock clockwork.Clock) (*clusterProcessor, error) {
	status := &jobpipeline.Status{}
	store, err := jobpipeline.OpenStore(ctx, set, &cfg.State, clock, status)
	if err != nil {
		return nil, err
	}
	p, err := newClusterProcessorWithStore(set, cfg, clock, store, status)
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return p, nil
}

// newClusterProcessorWithStore is the seam for tests and benchmarks that
// bring their own store (status: where it reports outages, or nil); the
// processor owns it from here on.
func newClusterProcessorWithStore(set processor.Settings, cfg *Config, clock clockwork.Clock, store statestore.Store, status *jobpipeline.Status) (*clusterProcessor, error) {
	detector, err := burst.New(cfg.rules(), store, clock)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	pipeline, err := jobpipeline.New(set, jobpipeline.Settings[execs]{
		Component: metadata.Type.String(), Jobs: cfg.Config, Store: store, Clock: clock,
		NewSink:    func() execs { return execs{detector.NewBatch()} },
		AlertScope: metadata.ScopeName, Alerts: tb.ProcessorFailureClusterAlerts, AlertsByName: true,
		StateErrors: tb.ProcessorFailureClusterStateErrors, Status: status,
	})
	if err == nil {
		err = errors.Join(
			pipeline.StateGauges(tb.RegisterProcessorFailureClusterStateEntriesCallback, tb.RegisterProcessorFailureClusterStateMemoryCallback,
				tb.RegisterProcessorFailureClusterStateEvictionsCallback, tb.RegisterProcessorFailureClusterStateFallbackCallback),
			tb.RegisterProcessorFailureClusterTrackedClassesCallback(jobpipeline.Gauge(func() int64 { return int64(detector.Stats().Classes) })),
			tb.RegisterProcessorFailureClusterTrackedFingerprintsCallback(jobpipeline.Gauge(func() int64 { return int64(detector.Stats().Fingerprints) })),
			tb.RegisterProcessorFailureClusterEvictedClassesCallback(jobpipeline.Gauge(func() int64 { return detector.Stats().EvictedClasses })),
			tb.RegisterProcessorFailureClusterEvictedFingerprintsCallback(jobpipeline.Gauge(func() int64 { return detector.Stats().EvictedFingerprints })),
		)
	}
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return &clusterProcessor{pipeline: pipeline, detector: detector, telemetry: tb, clock: clock, resolveInterval: cfg.ResolveInterval}, nil
}

// start runs the resolution timer, which hands what it resolves to deliver.
// The timer's context is its own: the Start context ends with Start.
func (p *clusterProcessor) start(deliver func(context.Context, []alert.Alert)) component.StartFunc {
	return func(startCtx context.Context, host component.Host) error {
		if err := p.pipeline.Start(startCtx, host); err != nil {
			return err
		}
		ctx, cancel := context.WithCancel(context.Background())
		p.stopTick, p.ticking = cancel, make(chan struct{})
		ticker := p.clock.NewTicker(p.resolveInterval)
		go func() {
			defer close(p.ticking)
			defer ticker.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-ticker.Chan():
					if resolved := p.sweep(ctx); len(resolved) > 0 {
						deliver(ctx, resolved)
					}
				}
			}
		}()
		return nil
	}
}

func (p *clusterProcessor) shutdown(context.Context) error {
	if p.stopTick != nil {
		p.stopTick()
		<-p.ticking
		p.stopTick = nil
	}
	p.telemetry.Shutdown()
	return p.pipeline.Close()
}

// sweep resolves the alerts whose counts dropped, events or not.
func (p *clusterProcessor) sweep(ctx context.Context) []alert.Alert {
	resolved, err := p.detector.Sweep(ctx)
	p.pipeline.StoreResult(ctx, err)
	for i := range resolved {
		p.pipeline.CountAlert(ctx, &resolved[i])
	}
	return resolved
}

// holdResolved keeps the timer's records for the next batch of a traces
// pipeline: a processor can only add to the spans that pass through it.
func (p *clusterProcessor) holdResolved(_ context.Context, resolved []alert.Alert) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = append(p.held, resolved...)
	if over := len(p.held) - maxHeld; over > 0 {
		p.telemetry.ProcessorFailureClusterAlertsDropped.Add(context.Background(), int64(over))
		p.held = append(p.held[:0], p.held[over:]...)
	}
	p.nHeld.Store(int32(len(p.held)))
}

func (p *clusterProcessor) takeHeld() []alert.Alert {
	if p.nHeld.Load() == 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	held := p.held
	p.held = nil
	p.nHeld.Store(0)
	return held
}

// sendResolved sends the timer's records on in a logs pipeline, as log
// records of their own.
func (p *clusterProcessor) sendResolved(next consumer.Logs) func(context.Context, []alert.Alert) {
	return func(ctx context.Context, resolved []alert.Alert) {
		if err := next.ConsumeLogs(ctx, p.pipeline.NewLogs(resolved)); err != nil {
			p.pipeline.Logger().Warn("failure_cluster: the next consumer refused resolved alert records", zap.Error(err), zap.Int("records", len(resolved)))
		}
	}
}

func (p *clusterProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	b := p.pipeline.Traces(td)
	var jobSpans []ptrace.Span
	if b != nil {
		defer p.pipeline.Release(b)
		if p.observe(ctx, b.Execs.Batch) {
			jobSpans = b.Spans
			for i, span := range b.Spans {
				annotate(span.Attributes(), b.Execs.Batch, i)
			}
			records := b.Execs.Records()
			p.pipeline.AddSpanEvents(ctx, b, len(records), func(i int) (*alert.Alert, int) { return &records[i].Alert, records[i].Event })
		}
	}
	if held := p.takeHeld(); len(held) > 0 {
		p.attachHeld(td, jobSpans, held)
	}
	return td, nil
}

// attachHeld puts resolved records on the batch's first job span, else its
// first span; a batch without spans passes them on to the next.
func (p *clusterProcessor) attachHeld(td ptrace.Traces, jobSpans []ptrace.Span, held []alert.Alert) {
	var span ptrace.Span
	switch first, ok := firstSpan(td); {
	case len(jobSpans) > 0:
		span = jobSpans[0]
	case ok:
		span = first
	default:
		p.holdResolved(context.Background(), held)
		return
	}
	for i := range held {
		held[i].AddSpanEvent(span)
	}
}

func firstSpan(td ptrace.Traces) (ptrace.Span, bool) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			if ss.Spans().Len() > 0 {
				return ss.Spans().At(0), true
			}
		}
	}
	return ptrace.Span{}, false
}

func (p *clusterProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	b := p.pipeline.Logs(ld)
	if b == nil {
		return ld, nil
	}
	defer p.pipeline.Release(b)
	if !p.observe(ctx, b.Execs.Batch) {
		return ld, nil
	}
	for i, lr := range b.Logs {
		annotate(lr.Attributes(), b.Execs.Batch, i)
	}
	records := b.Execs.Records()
	p.pipeline.AppendLogs(ctx, ld, b, len(records), func(i int) (*alert.Alert, int) { return &records[i].Alert, records[i].Event })
	return ld, nil
}

// annotate marks a failure that belongs to a firing alert with its id.
func annotate(attrs pcommon.Map, execs *burst.Batch, i int) {
	if id := execs.ClusterID(i); id != "" {
		attrs.PutStr(AttrClusterID, id)
	}
	if id := execs.DependencyID(i); id != "" {
		attrs.PutStr(AttrDependencyID, id)
	}
}

// observe runs the detector over the batch and reports whether it decided;
// a state-store failure costs annotations and alerts, never the data.
func (p *clusterProcessor) observe(ctx context.Context, execs *burst.Batch) bool {
	err := execs.Observe(ctx)
	if n := execs.Failures(); n > 0 {
		p.telemetry.ProcessorFailureClusterFailures.Add(ctx, int64(n))
	}
	p.pipeline.StoreResult(ctx, err)
	return err == nil
}
