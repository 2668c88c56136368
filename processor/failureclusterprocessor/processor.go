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
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/cluster"
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

// Attribute sets of the alerts counter, built once.
var alertAttrs = func() map[alert.Name][2]metric.AddOption {
	out := make(map[alert.Name][2]metric.AddOption, 2)
	for _, name := range []alert.Name{alert.FailureCluster, alert.DependencyFailure} {
		var byState [2]metric.AddOption
		for _, st := range []alert.State{alert.StateFiring, alert.StateResolved} {
			byState[st] = metric.WithAttributeSet(attribute.NewSet(
				attribute.String(alert.AttrName, string(name)), attribute.String(alert.AttrState, st.String())))
		}
		out[name] = byState
	}
	return out
}()

type clusterProcessor struct {
	logger          *zap.Logger
	extractor       *jobevent.Extractor
	detector        *cluster.Detector
	store           statestore.Store
	telemetry       *metadata.TelemetryBuilder
	clock           clockwork.Clock
	resolveInterval time.Duration
	// alertScope names the scope of alert log records.
	alertScope, version string
	batches             sync.Pool // *batch
	stateErrors         *statestore.FailureLog
	// batchNow is the clock read at the start of the latest batch (Unix
	// ns): the extractor clamps event times to it, one clock read per
	// batch rather than one per span.
	batchNow atomic.Int64

	// held are resolved records waiting for a span (traces pipelines).
	mu       sync.Mutex
	held     []alert.Alert
	nHeld    atomic.Int32
	stopTick context.CancelFunc
	ticking  chan struct{}
}

// batch is the per-call memory of the pdata side, reused through a pool.
type batch struct {
	execs *cluster.Batch
	spans []ptrace.Span
	logs  []plog.LogRecord
	// resource is the index of each log record's ResourceLogs.
	resource []int
}

func newClusterProcessor(ctx context.Context, set processor.Settings, cfg *Config, clock clockwork.Clock) (*clusterProcessor, error) {
	store, err := cfg.State.NewStore(ctx, set.Logger, statestore.WithClock(clock))
	if err != nil {
		return nil, err
	}
	p, err := newClusterProcessorWithStore(set, cfg, clock, store)
	if err != nil {
		return nil, errors.Join(err, store.Close())
	}
	return p, nil
}

// newClusterProcessorWithStore is the seam for tests and benchmarks that
// bring their own store; the processor owns it from here on.
func newClusterProcessorWithStore(set processor.Settings, cfg *Config, clock clockwork.Clock, store statestore.Store) (*clusterProcessor, error) {
	p := &clusterProcessor{}
	extractor, err := jobevent.NewExtractor(cfg.Config, func() time.Time { return time.Unix(0, p.batchNow.Load()) })
	if err != nil {
		return nil, err
	}
	detector, err := cluster.New(cfg.rules(), store, clock)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p.logger, p.extractor, p.detector, p.store, p.telemetry = set.Logger, extractor, detector, store, tb
	p.clock, p.resolveInterval = clock, cfg.ResolveInterval
	p.alertScope, p.version = metadata.ScopeName, set.BuildInfo.Version
	p.stateErrors = statestore.NewFailureLog(set.Logger, "failure_cluster: state store failed; data passes through with fewer annotations and alerts")
	p.batches.New = func() any { return &batch{execs: detector.NewBatch()} }
	if err := p.registerGauges(); err != nil {
		tb.Shutdown()
		return nil, err
	}
	return p, nil
}

func (p *clusterProcessor) registerGauges() error {
	observe := func(read func() int64) metric.Int64Callback {
		return func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(read())
			return nil
		}
	}
	tb, d, store := p.telemetry, p.detector, p.store
	return errors.Join(
		tb.RegisterProcessorFailureClusterTrackedClassesCallback(observe(func() int64 { return int64(d.Stats().Classes) })),
		tb.RegisterProcessorFailureClusterTrackedFingerprintsCallback(observe(func() int64 { return int64(d.Stats().Fingerprints) })),
		tb.RegisterProcessorFailureClusterEvictedClassesCallback(observe(func() int64 { return d.Stats().EvictedClasses })),
		tb.RegisterProcessorFailureClusterEvictedFingerprintsCallback(observe(func() int64 { return d.Stats().EvictedFingerprints })),
		tb.RegisterProcessorFailureClusterStateEntriesCallback(observe(func() int64 { return store.Stats().Entries })),
		tb.RegisterProcessorFailureClusterStateMemoryCallback(observe(func() int64 { return store.Stats().Bytes })),
		tb.RegisterProcessorFailureClusterStateEvictionsCallback(observe(func() int64 { return store.Stats().Evictions })),
		tb.RegisterProcessorFailureClusterStateFallbackCallback(observe(func() int64 {
			if store.Stats().Fallback {
				return 1
			}
			return 0
		})),
	)
}

// start runs the resolution timer, which hands what it resolves to deliver.
// The timer's context is its own: the Start context ends with Start.
func (p *clusterProcessor) start(deliver func(context.Context, []alert.Alert)) component.StartFunc {
	return func(context.Context, component.Host) error {
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
	return p.store.Close()
}

// sweep resolves the alerts whose counts dropped, events or not.
func (p *clusterProcessor) sweep(ctx context.Context) []alert.Alert {
	resolved, err := p.detector.Sweep(ctx)
	if err != nil {
		p.stateError(ctx, err)
	}
	for i := range resolved {
		p.countAlert(ctx, &resolved[i])
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
		ld := plog.NewLogs()
		sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
		p.setScope(sl.Scope())
		for i := range resolved {
			resolved[i].FillLogRecord(sl.LogRecords().AppendEmpty())
		}
		if err := next.ConsumeLogs(ctx, ld); err != nil {
			p.logger.Warn("failure_cluster: the next consumer refused resolved alert records", zap.Error(err), zap.Int("records", len(resolved)))
		}
	}
}

func (p *clusterProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	p.batchNow.Store(p.clock.Now().UnixNano())
	var ev jobevent.Event
	var b *batch // from the pool at the first job span: other batches need none
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			scope := ss.Scope()
			for _, span := range ss.Spans().All() {
				if !p.extractor.FromSpan(scope, span, &ev) {
					continue
				}
				if b == nil {
					b = p.batches.Get().(*batch)
				}
				b.execs.Add(&ev)
				b.spans = append(b.spans, span)
			}
		}
	}
	if b != nil {
		defer p.release(b)
	}
	var jobSpans []ptrace.Span
	if b != nil && p.observe(ctx, b.execs) {
		jobSpans = b.spans
		for i, span := range b.spans {
			annotate(span.Attributes(), b.execs, i)
		}
		// In a traces pipeline the span event is the alert: the processor
		// has no logs consumer to send a record to.
		for _, r := range b.execs.Records() {
			r.Alert.AddSpanEvent(b.spans[r.Event])
			p.countAlert(ctx, &r.Alert)
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
	p.batchNow.Store(p.clock.Now().UnixNano())
	var ev jobevent.Event
	var b *batch // from the pool at the first job record
	for i, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if !p.extractor.FromLog(lr, &ev) {
					continue
				}
				if b == nil {
					b = p.batches.Get().(*batch)
				}
				b.execs.Add(&ev)
				b.logs = append(b.logs, lr)
				b.resource = append(b.resource, i)
			}
		}
	}
	if b == nil {
		return ld, nil
	}
	defer p.release(b)
	if !p.observe(ctx, b.execs) {
		return ld, nil
	}
	for i, lr := range b.logs {
		annotate(lr.Attributes(), b.execs, i)
	}
	p.appendAlerts(ctx, ld, b)
	return ld, nil
}

// appendAlerts adds the batch's alert records to ld, in ResourceLogs of
// their own (a copy of the resource of the record that raised them) with
// this processor's scope, so that a pipeline can route them apart.
func (p *clusterProcessor) appendAlerts(ctx context.Context, ld plog.Logs, b *batch) {
	records := b.execs.Records()
	alert.AppendLogs(ld, p.alertScope, p.version, len(records), func(i int) (*alert.Alert, int) {
		return &records[i].Alert, b.resource[records[i].Event]
	})
	for i := range records {
		p.countAlert(ctx, &records[i].Alert)
	}
}

func (p *clusterProcessor) setScope(s pcommon.InstrumentationScope) {
	s.SetName(p.alertScope)
	s.SetVersion(p.version)
}

// annotate marks a failure that belongs to a firing alert with its id.
func annotate(attrs pcommon.Map, execs *cluster.Batch, i int) {
	if id := execs.ClusterID(i); id != "" {
		attrs.PutStr(AttrClusterID, id)
	}
	if id := execs.DependencyID(i); id != "" {
		attrs.PutStr(AttrDependencyID, id)
	}
}

// observe runs the detector over the batch and reports whether it decided;
// a state-store failure costs annotations and alerts, never the data.
func (p *clusterProcessor) observe(ctx context.Context, execs *cluster.Batch) bool {
	err := execs.Observe(ctx)
	if n := execs.Failures(); n > 0 {
		p.telemetry.ProcessorFailureClusterFailures.Add(ctx, int64(n))
	}
	if err != nil {
		p.stateError(ctx, err)
		return false
	}
	return true
}

func (p *clusterProcessor) stateError(ctx context.Context, err error) {
	p.telemetry.ProcessorFailureClusterStateErrors.Add(ctx, 1)
	p.stateErrors.Record(err)
}

func (p *clusterProcessor) countAlert(ctx context.Context, a *alert.Alert) {
	if byState, ok := alertAttrs[a.Name]; ok {
		p.telemetry.ProcessorFailureClusterAlerts.Add(ctx, 1, byState[a.State])
	}
}

// release clears what the batch holds of the data (so the pool does not
// keep it alive) and returns it to the pool.
func (p *clusterProcessor) release(b *batch) {
	b.execs.Reset()
	clear(b.spans)
	b.spans = b.spans[:0]
	clear(b.logs)
	b.logs = b.logs[:0]
	b.resource = b.resource[:0]
	p.batches.Put(b)
}
