// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"

import (
	"context"
	"errors"
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

type clusterProcessor struct {
	pipeline        *jobpipeline.Pipeline[execs]
	detector        *burst.Detector
	telemetry       *metadata.TelemetryBuilder
	clock           clockwork.Clock
	resolveInterval time.Duration

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

// start runs the resolution timer, which hands what it resolves to deliver
// at once, as contrib's connectors flush on their tickers: a resolution must
// not wait for unrelated data. The timer's context is its own: the Start
// context ends with Start.
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

// sendTraces sends the timer's records on in a traces pipeline, as span
// events on a span of their own (jobpipeline.NewTraces): a processor can
// only add to the spans passing through it, and the next may be long in
// coming.
func (p *clusterProcessor) sendTraces(next consumer.Traces) func(context.Context, []alert.Alert) {
	return func(ctx context.Context, resolved []alert.Alert) {
		p.refused(ctx, next.ConsumeTraces(ctx, p.pipeline.NewTraces(resolved)), len(resolved))
	}
}

// sendLogs sends the timer's records on in a logs pipeline, as log records
// of their own.
func (p *clusterProcessor) sendLogs(next consumer.Logs) func(context.Context, []alert.Alert) {
	return func(ctx context.Context, resolved []alert.Alert) {
		p.refused(ctx, next.ConsumeLogs(ctx, p.pipeline.NewLogs(resolved)), len(resolved))
	}
}

// refused reports n of the timer's records the next consumer did not take:
// they are not sent again (the sweep resolved them in the store once).
func (p *clusterProcessor) refused(ctx context.Context, err error, n int) {
	if err == nil {
		return
	}
	p.telemetry.ProcessorFailureClusterAlertsDropped.Add(ctx, int64(n))
	p.pipeline.Logger().Warn("failure_cluster: the next consumer refused resolved alert records", zap.Error(err), zap.Int("records", n))
}

func (p *clusterProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	b := p.pipeline.Traces(td)
	if b == nil {
		return td, nil
	}
	defer p.pipeline.Release(b)
	if !p.observe(ctx, b.Execs.Batch) {
		return td, nil
	}
	for i, span := range b.Spans {
		annotate(span.Attributes(), b.Execs.Batch, i)
	}
	records := b.Execs.Records()
	p.pipeline.AddSpanEvents(ctx, b, len(records), func(i int) (*alert.Alert, int) { return &records[i].Alert, records[i].Event })
	return td, nil
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
