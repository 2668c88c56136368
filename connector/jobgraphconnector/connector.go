// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/graph"
	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/scc"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// The metric and its attributes (DESIGN.md, "Job dependency graph").
const (
	MetricEnqueues  = "jobqueue.graph.enqueues"
	AttrClass       = "jobqueue.job.class"
	AttrChildClass  = "jobqueue.job.child_class"
	AttrSystem      = "messaging.system"
	AttrChildQueue  = "messaging.destination.name"
	AttrCycle       = "alert.cycle"
	AttrCycleCounts = "alert.cycle.enqueues"
	AttrCycleSCC    = "alert.cycle.classes"
)

const scopeName = "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"

// tick is how often pending halves and edges expire, metrics are flushed
// (metrics_flush_interval permitting) and the cycle decisions of the last
// batch are taken when no batch comes to carry them.
const tick = time.Second

var (
	firingAttrs   = metric.WithAttributeSet(attribute.NewSet(attribute.String("alert.state", alert.StateFiring.String())))
	resolvedAttrs = metric.WithAttributeSet(attribute.NewSet(attribute.String("alert.state", alert.StateResolved.String())))
)

type jobGraph struct {
	logger    *zap.Logger
	clock     clockwork.Clock
	cfg       *Config
	extractor *jobevent.Extractor
	telemetry *metadata.TelemetryBuilder
	version   string
	// Exactly one of metrics and logs is set: the instance counts edges
	// (traces -> metrics) or raises cycles (traces -> logs).
	metrics  consumer.Metrics
	logs     consumer.Logs
	store    statestore.Store
	failures *statestore.FailureLog

	mu      sync.Mutex
	pending *graph.Pending
	edges   *graph.Edges
	watch   *graph.Watch
	// delta are the enqueues per edge not yet in the state store.
	delta     map[graph.Edge]int64
	lastFlush time.Time
	// now is the clock's reading for the batch being walked.
	now time.Time
	// scratch of the walk, and addEdge as a value made once (a method
	// value made per call would allocate).
	ev      jobevent.Event
	enq     jobevent.Enqueue
	refs    []graph.SpanKey
	addEdge graph.EmitFunc

	done chan struct{}
	wg   sync.WaitGroup
}

func newConnector(ctx context.Context, set connector.Settings, cfg *Config, clock clockwork.Clock,
	metrics consumer.Metrics, logs consumer.Logs,
) (*jobGraph, error) {
	c := &jobGraph{
		logger: set.Logger, clock: clock, cfg: cfg, version: set.BuildInfo.Version,
		metrics: metrics, logs: logs,
		pending: graph.NewPending(cfg.MaxPending, cfg.PendingTTL),
		edges:   graph.NewEdges(cfg.MaxEdges, cfg.EdgeTTL),
		done:    make(chan struct{}),
	}
	c.addEdge = c.countEdge
	var err error
	if c.extractor, err = jobevent.NewExtractor(cfg.Config); err != nil {
		return nil, err
	}
	if logs != nil {
		if c.store, err = cfg.State.NewStore(ctx, set.Logger, statestore.WithClock(clock)); err != nil {
			return nil, err
		}
		c.watch = graph.NewWatch(c.store, cfg.EdgeTTL, cfg.MaxEdges, cycleID)
		c.delta = make(map[graph.Edge]int64)
		c.failures = statestore.NewFailureLog(set.Logger, "job_graph: state store failed; the batch's edges are kept for the next one and cycle decisions wait")
	}
	if c.telemetry, err = metadata.NewTelemetryBuilder(set.TelemetrySettings); err != nil {
		return nil, errors.Join(err, c.closeStore())
	}
	err = errors.Join(
		c.telemetry.RegisterConnectorJobGraphEdgesCallback(c.observe(func() int64 { return int64(c.edges.Len()) })),
		c.telemetry.RegisterConnectorJobGraphEdgesEvictedCallback(c.observe(func() int64 { return c.edges.Evicted })),
		c.telemetry.RegisterConnectorJobGraphPendingCallback(c.observe(func() int64 { return int64(c.pending.Len()) })),
		c.telemetry.RegisterConnectorJobGraphPendingDroppedCallback(c.observe(func() int64 { return c.pending.Dropped })),
	)
	if err != nil {
		c.telemetry.Shutdown()
		return nil, errors.Join(err, c.closeStore())
	}
	return c, nil
}

// observe reads a value of the graph under the lock for an async metric.
func (c *jobGraph) observe(read func() int64) metric.Int64Callback {
	return func(_ context.Context, o metric.Int64Observer) error {
		c.mu.Lock()
		defer c.mu.Unlock()
		o.Observe(read())
		return nil
	}
}

func (c *jobGraph) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *jobGraph) Start(context.Context, component.Host) error {
	c.wg.Add(1)
	go c.run()
	return nil
}

func (c *jobGraph) Shutdown(context.Context) error {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
	c.telemetry.Shutdown()
	return c.closeStore()
}

func (c *jobGraph) closeStore() error {
	if c.store == nil {
		return nil
	}
	return c.store.Close()
}

func (c *jobGraph) run() {
	defer c.wg.Done()
	t := c.clock.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.Chan():
			c.tick(context.Background())
		}
	}
}

// tick expires what is due, flushes the metrics when their interval has
// passed, and takes the pending cycle decisions.
func (c *jobGraph) tick(ctx context.Context) {
	c.mu.Lock()
	now := c.clock.Now()
	c.pending.Expire(now)
	c.edges.Expire(now)
	var md pmetric.Metrics
	if c.metrics != nil && c.cfg.MetricsFlushInterval > 0 && now.Sub(c.lastFlush) >= c.cfg.MetricsFlushInterval {
		md = c.buildMetrics(now)
	}
	var ld plog.Logs
	if c.watch != nil {
		ld = c.syncCycles(ctx, now)
	}
	c.mu.Unlock()
	c.send(ctx, md, ld)
}

// ConsumeTraces finds the edges in td; it passes nothing on but the metrics
// or alerts they make.
func (c *jobGraph) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	c.mu.Lock()
	c.now = c.clock.Now()
	c.walk(td)
	c.edges.Expire(c.now)
	var md pmetric.Metrics
	if c.metrics != nil && c.cfg.MetricsFlushInterval == 0 {
		md = c.buildMetrics(c.now)
	}
	var ld plog.Logs
	if c.watch != nil {
		ld = c.syncCycles(ctx, c.now)
	}
	c.mu.Unlock()
	return c.send(ctx, md, ld)
}

func (c *jobGraph) send(ctx context.Context, md pmetric.Metrics, ld plog.Logs) error {
	var err error
	if md != (pmetric.Metrics{}) && md.MetricCount() > 0 {
		err = c.metrics.ConsumeMetrics(ctx, md)
	}
	if ld != (plog.Logs{}) && ld.LogRecordCount() > 0 {
		err = errors.Join(err, c.logs.ConsumeLogs(ctx, ld))
	}
	return err
}

// walk hands td's producer spans to the pending store, then the executions
// that take part in an edge with them. Other spans cost a kind check, or a
// few map look-ups, without allocating: a job execution is only recognised
// (internal/jobevent) when a producer span waits for it.
func (c *jobGraph) walk(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			scope := ss.Scope()
			for _, span := range ss.Spans().All() {
				if span.Kind() == ptrace.SpanKindProducer && c.extractor.FromProducerSpan(scope, span, &c.enq) {
					e := &c.enq
					c.pending.Producer(c.now, spanKey(e.TraceID, e.SpanID), spanKey(e.TraceID, e.ParentSpanID),
						graph.Job{System: e.System, Class: e.Class, Queue: e.Queue}, c.addEdge)
				}
			}
		}
	}
	if c.pending.Len() == 0 {
		return
	}
	r := c.extractor.At(c.now)
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			scope := ss.Scope()
			for _, span := range ss.Spans().All() {
				switch span.Kind() {
				case ptrace.SpanKindProducer, ptrace.SpanKindClient, ptrace.SpanKindServer:
					continue
				}
				key := spanKey(span.TraceID(), span.SpanID())
				c.refs = c.refs[:0]
				if p := span.ParentSpanID(); !p.IsEmpty() {
					c.refs = append(c.refs, spanKey(span.TraceID(), p))
				}
				for _, l := range span.Links().All() {
					c.refs = append(c.refs, spanKey(l.TraceID(), l.SpanID()))
				}
				if c.pending.Wants(key, c.refs) && r.FromSpan(scope, span, &c.ev) {
					ev := &c.ev
					c.pending.Execution(c.now, key, graph.Job{System: ev.System, Class: ev.Class, Queue: ev.Queue},
						ev.Attempt, c.refs, c.addEdge)
				}
			}
		}
	}
}

// countEdge counts one enqueue; an edge needs both classes to be drawn.
func (c *jobGraph) countEdge(e graph.Edge, trace [16]byte) {
	if e.Parent == "" || e.Child == "" {
		return
	}
	st := c.edges.Add(c.now, e, trace)
	if c.delta != nil {
		c.delta[st.Edge]++
	}
}

func spanKey(t pcommon.TraceID, s pcommon.SpanID) graph.SpanKey {
	return graph.SpanKey{Trace: t, Span: s}
}

// buildMetrics is jobqueue.graph.enqueues for every live edge: a
// cumulative count since the edge was first seen (or came back after it
// expired or was evicted, which starts a new series).
func (c *jobGraph) buildMetrics(now time.Time) pmetric.Metrics {
	c.lastFlush = now
	md := pmetric.NewMetrics()
	if c.edges.Len() == 0 {
		return md
	}
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(scopeName)
	sm.Scope().SetVersion(c.version)
	m := sm.Metrics().AppendEmpty()
	m.SetName(MetricEnqueues)
	m.SetUnit("{job}")
	m.SetDescription("Jobs that a job of class jobqueue.job.class enqueued, of class jobqueue.job.child_class, to queue messaging.destination.name.")
	sum := m.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sum.SetIsMonotonic(true)
	dps := sum.DataPoints()
	dps.EnsureCapacity(c.edges.Len())
	ts := pcommon.NewTimestampFromTime(now)
	c.edges.All(func(st *graph.EdgeState) {
		dp := dps.AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(st.First))
		dp.SetTimestamp(ts)
		dp.SetIntValue(st.Count)
		a := dp.Attributes()
		a.EnsureCapacity(4)
		a.PutStr(AttrClass, st.Edge.Parent)
		a.PutStr(AttrChildClass, st.Edge.Child)
		if st.Edge.System != "" {
			a.PutStr(AttrSystem, st.Edge.System)
		}
		if st.Edge.Queue != "" {
			a.PutStr(AttrChildQueue, st.Edge.Queue)
		}
	})
	return md
}

// syncCycles brings the batch's edges to the state store, with the cycle
// claims of the previous sync, and turns the claims won into alerts.
func (c *jobGraph) syncCycles(ctx context.Context, now time.Time) plog.Logs {
	decisions, err := c.watch.Sync(ctx, now, c.delta)
	if err != nil {
		c.telemetry.ConnectorJobGraphStateErrors.Add(ctx, 1)
		c.failures.Record(err)
	}
	if !errors.Is(err, statestore.ErrUnavailable) {
		clear(c.delta)
	}
	if len(decisions) == 0 {
		return plog.Logs{}
	}
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(scopeName)
	sl.Scope().SetVersion(c.version)
	for _, d := range decisions {
		a := c.cycleAlert(d, now)
		a.FillLogRecord(sl.LogRecords().AppendEmpty())
		if d.Resolved {
			c.telemetry.ConnectorJobGraphAlerts.Add(ctx, 1, resolvedAttrs)
		} else {
			c.telemetry.ConnectorJobGraphAlerts.Add(ctx, 1, firingAttrs)
		}
	}
	return ld
}

// cycleID is a cycle's alert id: the same for its classes on every
// replica.
func cycleID(cy scc.Cycle) string { return alert.NewID(alert.JobCycle, cy.Classes...) }

func (c *jobGraph) cycleAlert(d graph.Decision, now time.Time) alert.Alert {
	path := d.Cycle.Path
	steps := len(path) - 1
	loop := strings.Join(path, " -> ")
	counts := make([]string, steps)
	var traces []pcommon.TraceID
	for i := range steps {
		counts[i] = path[i] + " -> " + path[i+1] + ": " + strconv.FormatInt(d.Enqueues[i], 10)
		c.edges.All(func(st *graph.EdgeState) {
			if st.Edge.Parent == path[i] && st.Edge.Child == path[i+1] {
				for _, t := range st.Traces {
					traces = append(traces, t)
				}
			}
		})
	}
	a := alert.Alert{
		Name: alert.JobCycle, ID: d.ID, Severity: c.cfg.Severity, Time: now,
		Summary:   fmt.Sprintf("job cycle %s (%d classes)", loop, steps),
		Threshold: 0, Value: float64(steps),
		System: d.System, Class: path[0], TraceIDs: traces,
		Attributes: []alert.Attribute{
			alert.String(AttrCycle, loop),
			alert.String(AttrCycleCounts, strings.Join(counts, ", ")),
		},
	}
	if d.Resolved {
		a.State = alert.StateResolved
		a.Summary = "job cycle " + loop + " ended: an edge expired"
	}
	if len(d.Cycle.Classes) > steps {
		a.Attributes = append(a.Attributes, alert.String(AttrCycleSCC, strings.Join(d.Cycle.Classes, ", ")))
	}
	return a
}
