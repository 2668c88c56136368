// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package queuealert decides the job_queue receiver's alerts: it feeds each
// successful snapshot's figures to one alert.Tracker per rule and returns
// the records the transitions call for, as alert.Alert values. It knows
// snapshots and thresholds; turning alerts into log records is the
// receiver's job.
//
// A failed scrape is simply not evaluated, so it fires and resolves nothing.
// A queue or process missing from a successful snapshot is gone (deleted,
// exited, or its heartbeat entry expired): its firing alerts resolve.
package queuealert // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/queuealert"

import (
	"strconv"
	"time"

	"go.opentelemetry.io/collector/filter"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Bounds on what the evaluator remembers. A queue rule tracks at most
// maxQueueKeys queues, a process rule maxProcessKeys processes (the Sidekiq
// reader's own cap); observations of more are dropped and counted.
const (
	maxQueueKeys   = 20_000
	maxProcessKeys = 10_000
	// forgetAfter is shorter than any two snapshots are apart: a key not
	// observed in the latest successful snapshot is forgotten by its Sweep.
	forgetAfter = time.Nanosecond
	// maxWindowSamples bounds the samples one dead-set window keeps (an
	// hour of 1 s scrapes is 3,600; the window only keeps increasing ones).
	maxWindowSamples = 4096
)

// Rule-specific attribute keys. Process alerts carry the process's metric
// attributes, so they join the jobqueue.process.* series.
const (
	attrStalledAfter   = "alert.stalled_after"
	attrWindow         = "alert.window"
	attrDeadJobs       = "alert.dead_jobs"
	attrJobState       = "jobqueue.job.state"
	attrProcessID      = "jobqueue.process.id"
	attrHostName       = "host.name"
	attrProcessPID     = "process.pid"
	attrStaleProcesses = "alert.stale_processes"
)

// Evaluator turns the successive snapshots of one job system into alerts.
// It is not safe for concurrent use: the receiver's scrape owns it.
type Evaluator struct {
	instance     []string // identifies the job system in alert ids
	stalledAfter time.Duration
	deadWindow   time.Duration

	latency, size, stalled, dead queueRule
	memory, heartbeat            processRule
	// stale has one key: the registry's count of expired processes.
	stale processRule

	windows map[string]*minWindow // dead-state samples per queue ("" global)
}

// New returns an evaluator of cfg's enabled rules. instance identifies the
// job system (e.g. its endpoint and namespace) in alert ids, so that two
// Redis servers with the same queue names raise distinct alerts;
// stalledAfter is the receiver's, for the stalled_jobs records. cfg must be
// valid (see Config.Validate).
func New(cfg *Config, stalledAfter time.Duration, instance ...string) *Evaluator {
	tracker := func(maxKeys int) *alert.Tracker[string] {
		return alert.NewTracker[string](alert.TrackerConfig{CoolDown: cfg.CoolDown, ForgetAfter: forgetAfter, MaxKeys: maxKeys})
	}
	hb := &cfg.ProcessHeartbeatMissing
	return &Evaluator{
		instance:     instance,
		stalledAfter: stalledAfter,
		deadWindow:   cfg.DeadJobsGrowing.Window,
		latency:      newQueueRule(alert.QueueLatencyHigh, &cfg.QueueLatencyHigh, tracker(maxQueueKeys)),
		size:         newQueueRule(alert.QueueSizeLarge, &cfg.QueueSizeLarge, tracker(maxQueueKeys)),
		stalled:      newQueueRule(alert.StalledJobs, &cfg.StalledJobs, tracker(maxQueueKeys)),
		dead:         newQueueRule(alert.DeadJobsGrowing, &cfg.DeadJobsGrowing.QueueRule, tracker(maxQueueKeys)),
		memory: processRule{
			name: alert.ProcessMemoryHigh, enabled: cfg.ProcessMemoryHigh.Enabled,
			levels: cfg.ProcessMemoryHigh.levels(), tracker: tracker(maxProcessKeys),
		},
		heartbeat: processRule{
			name: alert.ProcessHeartbeatMissing, enabled: hb.Enabled,
			levels: hb.levels(), tracker: tracker(maxProcessKeys),
		},
		stale: processRule{
			// Any stale entry fires, at the rule's first severity.
			name: alert.ProcessHeartbeatMissing, enabled: hb.Enabled && hb.Stale,
			levels: alert.Levels{Steps: []alert.Step{{Above: 0, Severity: hb.Severity}}}, tracker: tracker(1),
		},
		windows: map[string]*minWindow{},
	}
}

// Evaluate feeds one successful snapshot to every rule and returns the
// alerts to emit (nil when none: the common case allocates nothing).
func (e *Evaluator) Evaluate(snap *snapshot.Snapshot) []alert.Alert {
	ev := evaluation{e: e, snap: snap}
	for i := range snap.Queues {
		q := &snap.Queues[i]
		// A waiting job with no usable timestamp reads as latency 0: that
		// is unknown, not "no latency".
		ev.queue(&e.latency, q.Name, q.Latency.Seconds(), q.Size == 0 || q.Latency > 0)
		ev.queue(&e.size, q.Name, float64(q.Size), true)
		ev.queue(&e.stalled, q.Name, float64(q.Stalled), true)
	}
	e.evaluateDead(&ev)
	for i := range snap.Processes {
		p := &snap.Processes[i]
		ev.process(&e.memory, p, float64(p.MemoryBytes), p.MemoryKnown)
		ev.process(&e.heartbeat, p, p.HeartbeatAge.Seconds(), true)
	}
	if e.stale.enabled {
		tr := e.stale.tracker.Observe("", snap.Time, float64(snap.ProcessesStale), true, e.stale.levels)
		if tr.Change != alert.NoChange {
			ev.out = append(ev.out, e.staleAlert(snap, tr))
		}
	}
	for _, r := range [...]*queueRule{&e.latency, &e.size, &e.stalled, &e.dead} {
		for _, f := range r.tracker.Sweep(snap.Time) {
			ev.out = append(ev.out, e.queueAlert(r.name, snap, f.Key, f.Transition, true))
		}
	}
	for _, r := range [...]*processRule{&e.memory, &e.heartbeat} {
		for _, f := range r.tracker.Sweep(snap.Time) {
			ev.out = append(ev.out, e.processAlert(r.name, snap, f.Key, nil, f.Transition))
		}
	}
	return ev.out
}

// evaluateDead observes how much the snapshot's dead state (the jobs its
// system gave up on) grew within the window, per queue where the system
// keeps it per queue.
func (e *Evaluator) evaluateDead(ev *evaluation) {
	if !e.dead.enabled || ev.snap.DeadState == "" {
		return
	}
	now := ev.snap.Time
	seen := false
	for _, j := range ev.snap.Jobs {
		if j.State != ev.snap.DeadState {
			continue
		}
		seen = true
		w := e.windows[j.Queue]
		if w == nil {
			if len(e.windows) >= maxQueueKeys {
				continue
			}
			w = &minWindow{}
			e.windows[j.Queue] = w
		}
		ev.queue(&e.dead, j.Queue, float64(w.add(now, j.Count, e.deadWindow)), true)
	}
	for queue, w := range e.windows {
		switch {
		case !seen:
			// The dead state could not be read: keep every window and alert.
			ev.queue(&e.dead, queue, 0, false)
		case w.last.Before(now):
			delete(e.windows, queue) // the queue is gone
		}
	}
}

// Dropped counts observations refused because a rule tracked as many
// queues or processes as it may.
func (e *Evaluator) Dropped() int {
	n := 0
	for _, r := range [...]*queueRule{&e.latency, &e.size, &e.stalled, &e.dead} {
		n += r.tracker.Dropped()
	}
	return n + e.memory.tracker.Dropped() + e.heartbeat.tracker.Dropped()
}

// queueRule is a compiled QueueRule: its levels, its overrides, and which
// applies to each queue seen so far.
type queueRule struct {
	name    alert.Name
	enabled bool
	tracker *alert.Tracker[string]
	// levels[0] is the rule's, levels[i+1] override i's.
	levels    []alert.Levels
	overrides []compiledOverride
	// byQueue caches the index into levels for each queue, -1 when the rule
	// is disabled for it; cleared when it reaches maxQueueKeys.
	byQueue map[string]int
}

type compiledOverride struct {
	match   filter.Filter
	enabled bool
}

func newQueueRule[T threshold](name alert.Name, cfg *QueueRule[T], tracker *alert.Tracker[string]) queueRule {
	r := queueRule{
		name:    name,
		enabled: cfg.Enabled,
		tracker: tracker,
		levels:  []alert.Levels{cfg.levels()},
		byQueue: map[string]int{},
	}
	for i := range cfg.Overrides {
		o := &cfg.Overrides[i]
		l := o.apply(cfg.Levels)
		r.levels = append(r.levels, l.levels())
		r.overrides = append(r.overrides, compiledOverride{
			match:   filter.CreateFilter(o.Queues),
			enabled: o.Enabled == nil || *o.Enabled,
		})
	}
	return r
}

// levelsFor returns the levels that apply to queue, false when the rule is
// disabled for it.
func (r *queueRule) levelsFor(queue string) (alert.Levels, bool) {
	i, ok := r.byQueue[queue]
	if !ok {
		i = 0
		for j, o := range r.overrides {
			if o.match.Matches(queue) {
				i = j + 1
				if !o.enabled {
					i = -1
				}
				break
			}
		}
		if len(r.byQueue) >= maxQueueKeys {
			clear(r.byQueue)
		}
		r.byQueue[queue] = i
	}
	if i < 0 {
		return alert.Levels{}, false
	}
	return r.levels[i], true
}

// processRule is a rule evaluated per process, with one set of levels.
type processRule struct {
	name    alert.Name
	enabled bool
	tracker *alert.Tracker[string]
	levels  alert.Levels
}

// evaluation is one Evaluate call: the snapshot and the alerts so far.
type evaluation struct {
	e    *Evaluator
	snap *snapshot.Snapshot
	out  []alert.Alert
}

func (ev *evaluation) queue(r *queueRule, queue string, v float64, ok bool) {
	if !r.enabled {
		return
	}
	levels, enabled := r.levelsFor(queue)
	if !enabled {
		return
	}
	if tr := r.tracker.Observe(queue, ev.snap.Time, v, ok, levels); tr.Change != alert.NoChange {
		ev.out = append(ev.out, ev.e.queueAlert(r.name, ev.snap, queue, tr, false))
	}
}

func (ev *evaluation) process(r *processRule, p *snapshot.Process, v float64, ok bool) {
	if !r.enabled {
		return
	}
	if tr := r.tracker.Observe(p.ID, ev.snap.Time, v, ok, r.levels); tr.Change != alert.NoChange {
		ev.out = append(ev.out, ev.e.processAlert(r.name, ev.snap, p.ID, p, tr))
	}
}

// base is what every record of the job system carries.
func (e *Evaluator) base(name alert.Name, snap *snapshot.Snapshot, key string, tr alert.Transition) alert.Alert {
	labels := make([]string, 0, len(e.instance)+2)
	labels = append(labels, snap.System)
	labels = append(labels, e.instance...)
	labels = append(labels, key)
	return alert.Alert{
		Name:      name,
		State:     tr.Change.State(),
		Severity:  tr.Severity,
		ID:        alert.NewID(name, labels...),
		Time:      snap.Time,
		Threshold: tr.Threshold,
		Value:     tr.Value,
		System:    snap.System,
	}
}

func (e *Evaluator) queueAlert(name alert.Name, snap *snapshot.Snapshot, queue string, tr alert.Transition, gone bool) alert.Alert {
	a := e.base(name, snap, queue, tr)
	a.Queue = queue
	subject := "queue " + queue
	var what, value, threshold, detail string
	switch name {
	case alert.QueueLatencyHigh:
		what, value, threshold = "latency", seconds(tr.Value), seconds(tr.Threshold)
	case alert.QueueSizeLarge:
		what, value, threshold = "size", count(tr.Value), count(tr.Threshold)
	case alert.StalledJobs:
		what, value, threshold = "stalled jobs", count(tr.Value), count(tr.Threshold)
		detail = " (running longer than " + e.stalledAfter.String() + ")"
		a.Attributes = []alert.Attribute{alert.Float(attrStalledAfter, e.stalledAfter.Seconds())}
	case alert.DeadJobsGrowing:
		// Named by the system's own state: "queue emails failed jobs
		// growth 12 > 10" (BullMQ), "dead jobs growth 12 > 10" (Sidekiq).
		what = snap.DeadState + " jobs growth"
		if queue == "" {
			subject, what = snap.DeadState+" jobs", "growth"
		}
		value, threshold = count(tr.Value), count(tr.Threshold)
		detail = " within " + e.deadWindow.String()
		a.Attributes = []alert.Attribute{alert.Float(attrWindow, e.deadWindow.Seconds()), alert.String(attrJobState, snap.DeadState)}
		if w := e.windows[queue]; w != nil {
			a.Attributes = append(a.Attributes, alert.Int(attrDeadJobs, w.lastValue))
		}
	}
	a.Summary = summary(subject, what, value, threshold, detail, tr.Change, gone)
	return a
}

func (e *Evaluator) processAlert(name alert.Name, snap *snapshot.Snapshot, id string, p *snapshot.Process, tr alert.Transition) alert.Alert {
	a := e.base(name, snap, id, tr)
	a.Attributes = []alert.Attribute{alert.String(attrProcessID, id)}
	if p != nil {
		a.Attributes = append(a.Attributes, alert.String(attrHostName, p.Hostname), alert.Int(attrProcessPID, p.PID))
	}
	var what, value, threshold string
	switch name {
	case alert.ProcessMemoryHigh:
		what, value, threshold = "memory", mebibytes(tr.Value), mebibytes(tr.Threshold)
	case alert.ProcessHeartbeatMissing:
		what, value, threshold = "heartbeat age", seconds(tr.Value), seconds(tr.Threshold)
	}
	a.Summary = summary("process "+id, what, value, threshold, "", tr.Change, p == nil)
	return a
}

func (e *Evaluator) staleAlert(snap *snapshot.Snapshot, tr alert.Transition) alert.Alert {
	a := e.base(alert.ProcessHeartbeatMissing, snap, "", tr)
	a.Attributes = []alert.Attribute{alert.Int(attrStaleProcesses, int64(tr.Value))}
	a.Summary = summary("process registry", "processes that stopped checking in", count(tr.Value), count(tr.Threshold),
		" (heartbeat expired, still registered)", tr.Change, false)
	return a
}

// summary is the one-line body: "queue critical latency 412s > 300s",
// "queue critical latency 12s <= 270s" when resolved, or "queue critical is
// gone (last latency 412s)" when it vanished while firing.
func summary(subject, what, value, threshold, detail string, c alert.Change, gone bool) string {
	switch {
	case gone:
		return subject + " is gone (last " + what + " " + value + ")"
	case c == alert.Resolved:
		return subject + " " + what + " " + value + " <= " + threshold + detail
	}
	return subject + " " + what + " " + value + " > " + threshold + detail
}

func seconds(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "s" }

func count(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) }

func mebibytes(v float64) string { return strconv.FormatFloat(v/float64(MiB), 'f', 0, 64) + "MiB" }

// minWindow answers "how much did a count grow within the window": the
// latest value minus the least value seen within the window. It keeps a
// monotonic queue of samples (each newer one larger), so the least value
// in the window is at the front.
type minWindow struct {
	samples   []windowSample
	last      time.Time
	lastValue int64
}

type windowSample struct {
	at    time.Time
	value int64
}

// add records value at now and returns the growth within window (>= 0).
func (w *minWindow) add(now time.Time, value int64, window time.Duration) int64 {
	w.last, w.lastValue = now, value
	for len(w.samples) > 0 && w.samples[len(w.samples)-1].value >= value {
		w.samples = w.samples[:len(w.samples)-1]
	}
	w.samples = append(w.samples, windowSample{at: now, value: value})
	start := 0
	for start < len(w.samples)-1 && (now.Sub(w.samples[start].at) > window || len(w.samples)-start > maxWindowSamples) {
		start++
	}
	w.samples = w.samples[start:]
	return value - w.samples[0].value
}
