// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package jobpipeline is the skeleton the job processors share: the state
// store and its gauges, the walk over a batch of spans or log records that
// collects the job executions (internal/jobevent) with their span or log
// record and resource, the batch's clock (read once and passed down), the
// pooled per-batch memory, where alert records go and how they are counted.
// A processor keeps only its detector's wiring: a Sink that receives the
// executions, and what it does with the verdicts.
package jobpipeline // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobpipeline"

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/idhash"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// Sink is a detector's per-batch memory: it receives the batch's job
// executions, in order, after Begin, and forgets them on Reset. Events are
// valid during Add only; a Sink copies what it keeps.
type Sink interface {
	// Begin starts a batch whose clock reads now.
	Begin(now time.Time)
	// Add adds one execution; parent is the parent of its span (empty for
	// a log record).
	Add(ev *jobevent.Event, parent pcommon.SpanID)
	// Reset forgets the batch, keeping its memory for the next.
	Reset()
}

// Batch is what a pipeline collected of one incoming batch: its clock, the
// detector's sink, and the span (traces) or log record and resource index
// (logs) of each execution, in the order of Add.
type Batch[S Sink] struct {
	Now   time.Time
	Execs S
	Spans []ptrace.Span
	Logs  []plog.LogRecord
	// Resources is the index of each log record's ResourceLogs.
	Resources []int
	// ev is the execution handed to Execs.Add: a call through the type
	// parameter would move an Event on the caller's stack to the heap.
	ev jobevent.Event
}

// Settings wire a detector into a Pipeline.
type Settings[S Sink] struct {
	// Component names the processor in log messages (its type).
	Component string
	// Jobs are the user's attribute keys (the processor's embedded
	// jobevent.Config).
	Jobs  jobevent.Config
	Store statestore.Store
	Clock clockwork.Clock
	// NewSink makes the detector's per-batch memory.
	NewSink func() S
	// AlertScope names the scope of alert log records (the processor's
	// metadata.ScopeName).
	AlertScope string
	// Alerts counts the alert records emitted, by alert.state, and by
	// alert.name too when AlertsByName (a processor with several alerts).
	Alerts       metric.Int64Counter
	AlertsByName bool
	// StateErrors counts the batches whose store operations failed.
	StateErrors metric.Int64Counter
	// Status is the one OpenStore reported the store's outages to; nil
	// for a store of the caller's own (tests).
	Status *Status
}

// Pipeline runs a detector over spans and log records. It is safe for
// concurrent use: each batch has its own pooled Batch.
type Pipeline[S Sink] struct {
	logger     *zap.Logger
	component  string
	resource   pcommon.Resource
	extractor  *jobevent.Extractor
	store      statestore.Store
	clock      clockwork.Clock
	scope      string
	version    string
	alerts     metric.Int64Counter
	alertAttrs map[alertKey]metric.AddOption
	stateErrs  metric.Int64Counter
	stateLog   *statestore.FailureLog
	status     *Status
	batches    sync.Pool // *Batch[S]
}

type alertKey struct {
	name  alert.Name
	state alert.State
}

// New returns the pipeline of a detector; the store stays the caller's until
// Close.
func New[S Sink](set processor.Settings, s Settings[S]) (*Pipeline[S], error) {
	extractor, err := jobevent.NewExtractor(s.Jobs)
	if err != nil {
		return nil, err
	}
	p := &Pipeline[S]{
		logger: set.Logger, component: s.Component, resource: set.Resource,
		extractor: extractor, store: s.Store, clock: s.Clock,
		scope: s.AlertScope, version: set.BuildInfo.Version,
		alerts: s.Alerts, alertAttrs: map[alertKey]metric.AddOption{},
		stateErrs: s.StateErrors,
		stateLog:  statestore.NewFailureLog(set.Logger, s.Component+": state store failed; data passes through with fewer annotations and alerts"),
		status:    s.Status,
	}
	if p.status == nil {
		p.status = &Status{}
	}
	// The counter's attribute sets, built once.
	for _, name := range alert.Names() {
		for _, st := range []alert.State{alert.StateFiring, alert.StateResolved} {
			attrs := []attribute.KeyValue{attribute.String(alert.AttrState, st.String())}
			if s.AlertsByName {
				attrs = append(attrs, attribute.String(alert.AttrName, string(name)))
			}
			p.alertAttrs[alertKey{name, st}] = metric.WithAttributeSet(attribute.NewSet(attrs...))
		}
	}
	p.batches.New = func() any { return &Batch[S]{Execs: s.NewSink()} }
	return p, nil
}

// OpenStore opens the store cfg describes, on clock; a shared store reports
// its outages to status.
func OpenStore(ctx context.Context, set processor.Settings, cfg *statestore.Config, clock clockwork.Clock, status *Status) (statestore.Store, error) {
	return cfg.NewStore(ctx, set.Logger, statestore.WithClock(clock), statestore.WithOutageReport(status.Outage))
}

// Start starts reporting the store's health as the component's status.
func (p *Pipeline[S]) Start(_ context.Context, host component.Host) error {
	p.status.start(host)
	return nil
}

// StateGauges registers the store's gauges through the processor's
// generated Register...Callback functions: entries held, estimated bytes,
// evictions, and 1 while a shared store falls back to memory.
func (p *Pipeline[S]) StateGauges(entries, bytes, evictions, fallback func(metric.Int64Callback) error) error {
	store := p.store
	return errors.Join(
		entries(Gauge(func() int64 { return store.Stats().Entries })),
		bytes(Gauge(func() int64 { return store.Stats().Bytes })),
		evictions(Gauge(func() int64 { return store.Stats().Evictions })),
		fallback(Gauge(func() int64 {
			if store.Stats().Fallback {
				return 1
			}
			return 0
		})),
	)
}

// Gauge is an observable gauge's callback that reports read().
func Gauge(read func() int64) metric.Int64Callback {
	return func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(read())
		return nil
	}
}

// Close closes the store.
func (p *Pipeline[S]) Close() error { return p.store.Close() }

// Now reads the clock: once per batch, by Traces and Logs.
func (p *Pipeline[S]) Now() time.Time { return p.clock.Now() }

// Traces collects td's job executions into a Batch, or returns nil, having
// allocated nothing, when td holds none. Release the Batch when done.
func (p *Pipeline[S]) Traces(td ptrace.Traces) *Batch[S] {
	now := p.Now()
	x := p.extractor.At(now)
	var ev jobevent.Event
	var b *Batch[S] // from the pool at the first job span: other batches need none
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			// The scope decides once whether its spans can be executions.
			scope := x.Scope(ss.Scope())
			if scope.Skip() {
				continue
			}
			for _, span := range ss.Spans().All() {
				if !scope.FromSpan(span, &ev) {
					continue
				}
				if b == nil {
					b = p.take(now)
				}
				b.ev = ev
				b.Execs.Add(&b.ev, span.ParentSpanID())
				b.Spans = append(b.Spans, span)
			}
		}
	}
	return b
}

// Logs collects ld's job executions into a Batch, or returns nil when ld
// holds none. Release the Batch when done.
func (p *Pipeline[S]) Logs(ld plog.Logs) *Batch[S] {
	now := p.Now()
	x := p.extractor.At(now)
	var ev jobevent.Event
	var b *Batch[S]
	for i, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				if !x.FromLog(lr, &ev) {
					continue
				}
				if b == nil {
					b = p.take(now)
				}
				b.ev = ev
				b.Execs.Add(&b.ev, pcommon.SpanID{})
				b.Logs = append(b.Logs, lr)
				b.Resources = append(b.Resources, i)
			}
		}
	}
	return b
}

func (p *Pipeline[S]) take(now time.Time) *Batch[S] {
	b := p.batches.Get().(*Batch[S])
	b.Now = now
	b.Execs.Begin(now)
	return b
}

// Release clears what the batch holds of the data (so the pool does not
// keep it alive) and returns it to the pool.
func (p *Pipeline[S]) Release(b *Batch[S]) {
	b.Execs.Reset()
	b.ev = jobevent.Event{}
	clear(b.Spans)
	b.Spans = b.Spans[:0]
	clear(b.Logs)
	b.Logs = b.Logs[:0]
	b.Resources = b.Resources[:0]
	p.batches.Put(b)
}

// AddSpanEvents puts n alerts on the spans of the executions they are about
// and counts them: in a traces pipeline the span event is the alert, the
// processor has no logs consumer to send a record to. at(i) is alert i and
// the index of its execution in b.
func (p *Pipeline[S]) AddSpanEvents(ctx context.Context, b *Batch[S], n int, at func(i int) (*alert.Alert, int)) {
	for i := range n {
		a, exec := at(i)
		a.AddSpanEvent(b.Spans[exec])
		p.CountAlert(ctx, a)
	}
}

// AppendLogs adds n alert records to ld and counts them: in ResourceLogs of
// their own (a copy of the resource of the record that raised them) with
// the processor's scope, so that a pipeline can route them apart. at(i) is
// alert i and the index of its execution in b.
func (p *Pipeline[S]) AppendLogs(ctx context.Context, ld plog.Logs, b *Batch[S], n int, at func(i int) (*alert.Alert, int)) {
	alert.AppendLogs(ld, p.scope, p.version, n, func(i int) (*alert.Alert, int) {
		a, exec := at(i)
		return a, b.Resources[exec]
	})
	for i := range n {
		a, _ := at(i)
		p.CountAlert(ctx, a)
	}
}

// NewLogs returns alert records of their own, with the processor's scope:
// what a detector finds without an incoming batch (a timer).
func (p *Pipeline[S]) NewLogs(alerts []alert.Alert) plog.Logs {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(p.scope)
	sl.Scope().SetVersion(p.version)
	for i := range alerts {
		alerts[i].FillLogRecord(sl.LogRecords().AppendEmpty())
	}
	return ld
}

// NewTraces returns alerts as jobqueue.alert span events on one span of the
// processor's own, in a trace of its own: what a detector finds without an
// incoming batch (a timer), for a traces pipeline, where a processor has
// only spans to send. The span is INTERNAL, named "<component> resolve",
// starts at the earliest alert's time and ends at the latest, and has the
// processor's scope (as the alert log records) under the collector's own
// resource (its service.name and service.instance.id), so that a pipeline
// can route it apart. Its ids are a hash of the processor and the alerts'
// ids, states and times: the same records always make the same span, and
// two different ones never share a trace.
func (p *Pipeline[S]) NewTraces(alerts []alert.Alert) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	p.resource.CopyTo(rs.Resource())
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName(p.scope)
	ss.Scope().SetVersion(p.version)
	span := ss.Spans().AppendEmpty()
	span.SetName(p.component + " resolve")
	span.SetKind(ptrace.SpanKindInternal)

	h := idhash.New().String(p.scope)
	var first, last pcommon.Timestamp
	var at [8]byte
	for i := range alerts {
		a := &alerts[i]
		ts := a.AddSpanEvent(span).Timestamp()
		binary.BigEndian.PutUint64(at[:], uint64(ts))
		h = h.Byte(0).String(a.ID).Byte(byte(a.State)).Bytes(at[:])
		if first == 0 || ts < first {
			first = ts
		}
		last = max(last, ts)
	}
	var trace pcommon.TraceID
	binary.BigEndian.PutUint64(trace[:8], h.String("/trace").Sum64())
	binary.BigEndian.PutUint64(trace[8:], h.String("/trace/2").Sum64())
	span.SetTraceID(trace)
	span.SetSpanID(pcommon.SpanID(binary.BigEndian.AppendUint64(nil, h.String("/span").Sum64())))
	span.SetStartTimestamp(first)
	span.SetEndTimestamp(last)
	return td
}

// CountAlert counts one alert record emitted.
func (p *Pipeline[S]) CountAlert(ctx context.Context, a *alert.Alert) {
	if attrs, ok := p.alertAttrs[alertKey{a.Name, a.State}]; ok {
		p.alerts.Add(ctx, 1, attrs)
	}
}

// StoreResult takes how a batch's store operations went. A failure is
// counted, logged (sparingly) and reported as the component's status; its
// batch passes on with fewer annotations and alerts, never dropped.
func (p *Pipeline[S]) StoreResult(ctx context.Context, err error) {
	if err != nil {
		p.stateErrs.Add(ctx, 1)
		p.stateLog.Record(err)
	}
	p.status.batch(err)
}

// Logger is the processor's logger.
func (p *Pipeline[S]) Logger() *zap.Logger { return p.logger }
