// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"context"
	"hash/maphash"
	"strings"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/fingerprint"
)

// Record is an alert record and the index of the event it is about: for a
// firing or escalated class cluster the class's last failure in the batch
// (its last execution when the batch has none and other replicas' failures
// raised the level), for a dependency cluster the fingerprint's last
// failure, for a resolution the class's last execution.
type Record struct {
	Alert alert.Alert
	Event int
}

// Batch collects the job executions of one incoming batch, then, once
// Observe ran, holds the verdicts: the alert records to emit and the
// clusters each failure belongs to. Events are read during Add and Observe
// only; nothing of them is kept without a copy. A Batch is reused with
// Reset and is not safe for concurrent use.
type Batch struct {
	d              *Detector
	h              maphash.Hash
	nowMs          int64
	events         []eventRef
	classIdx       map[uint64]int32
	classes        []batchClass
	fingerprintIdx map[uint64]int32
	prints         []batchFingerprint
	rawIdx         map[uint64]int32 // hash of error type and message -> prints
	seen           map[uint64]struct{}
	arena          []byte // fingerprints of the batch
	marked         []markedEvent
	markKeys       []byte // the marks' keys, as one string once queued
	ops            statestore.Batch
	lists          [2]string // scratch for a claim's listed sets
	records        []Record
	failures       int
}

// eventRef is what the batch knows of each added event.
type eventRef struct {
	class, print int32 // -1: none
	failure      bool
}

// batchClass is one class's executions in the batch. Its strings share the
// events' memory until Observe resolves state.
type batchClass struct {
	hash                          uint64
	system, class, classlessQueue string
	queue                         string // of the last failure
	state                         *classState
	level                         int64
	topKey, prevKey               string

	adds                   []bucketAdd
	failures               int64
	firstMs, lastMs        int64 // of failures
	lastEventMs            int64
	lastFailure, lastEvent int32
	types                  []typeCount
	traces                 traceRing

	failRef, execRef, firstRef, lastRef, claimRef statestore.Ref
	windowFailures, windowExecutions              int64
}

// bucketAdd is a class's executions and failures of one bucket: those
// without a dedupe mark, and how many with one (they count by CountOnce).
type bucketAdd struct {
	bucket, atMs, failures, executions int64
	markedFailures                     int64
	execRef, failRef                   statestore.Ref
}

type typeCount struct {
	print int32
	n     int64  // without a dedupe mark
	typ   string // the fingerprint's normalized error type, once resolved
	ref   statestore.Ref
}

// markedEvent is an execution the store counts once, by its dedupe mark.
type markedEvent struct {
	class, print int32 // print -1: none (a success, or past the batch's bound)
	bucket       int64
	failure      bool
	ids          [24]byte // trace and span ids
}

// batchFingerprint is one error fingerprint's failures in the batch.
type batchFingerprint struct {
	hash          uint64
	start, end    int // in the arena
	typeLen       int
	sample        string
	state         *fingerprintState
	level         int64
	classes       []int32 // failing with it within the dependency window
	lastMs        int64
	lastEvent     int32
	traces        traceRing
	ref, claimRef statestore.Ref
	classCount    int64
}

// Bounds of the per-batch dedup and message memo maps; beyond them a batch
// neither dedups nor memoizes (it stays correct, only slower).
const maxBatchMemo = 8192

// NewBatch returns an empty batch for d.
func (d *Detector) NewBatch() *Batch {
	b := &Batch{
		d:              d,
		classIdx:       make(map[uint64]int32),
		fingerprintIdx: make(map[uint64]int32),
		rawIdx:         make(map[uint64]int32),
		seen:           make(map[uint64]struct{}),
	}
	b.h.SetSeed(d.seed)
	return b
}

// Reset empties the batch, keeping its memory but nothing of the events.
func (b *Batch) Reset() {
	for i := range b.classes {
		c := &b.classes[i]
		c.system, c.class, c.classlessQueue, c.queue, c.state = "", "", "", "", nil
	}
	for i := range b.prints {
		b.prints[i].sample, b.prints[i].state = "", nil
	}
	b.events = b.events[:0]
	clear(b.classIdx)
	b.classes = b.classes[:0]
	clear(b.fingerprintIdx)
	b.prints = b.prints[:0]
	clear(b.rawIdx)
	clear(b.seen)
	b.arena = b.arena[:0]
	b.marked = b.marked[:0]
	b.markKeys = b.markKeys[:0]
	b.records = b.records[:0]
	b.failures = 0
}

// Len is the number of events added.
func (b *Batch) Len() int { return len(b.events) }

// Failures is the number of failed executions added (duplicates and events
// older than the window excluded).
func (b *Batch) Failures() int { return b.failures }

// Begin starts a batch judged as of now, the batch's clock.
func (b *Batch) Begin(now time.Time) { b.nowMs = now.UnixMilli() }

// Add adds one job execution; its index is the number of events added
// before it. Executions of unknown outcome, older than the window, or seen
// earlier in the batch (same system, class, id and attempt: the Sidekiq and
// ActiveJob spans of one run) are not counted.
func (b *Batch) Add(ev *jobevent.Event) {
	b.events = append(b.events, b.add(ev, int32(len(b.events))))
}

func (b *Batch) add(ev *jobevent.Event, i int32) eventRef {
	ref := eventRef{class: -1, print: -1}
	d := b.d
	if ev.Outcome == jobevent.OutcomeUnknown {
		return ref
	}
	atMs := ev.Time.UnixMilli()
	if ev.Time.IsZero() || atMs > b.nowMs {
		atMs = b.nowMs
	}
	if !d.window.Live(atMs, b.nowMs) {
		return ref // older than the window
	}
	bucket := d.window.Bucket(atMs)
	system, class, classlessQueue := name(ev.System), name(ev.Class), ""
	if class == "" {
		classlessQueue = name(ev.Queue)
	}
	ci := b.classIndex(system, class, classlessQueue)
	if ci < 0 {
		return ref
	}
	failure := ev.Outcome == jobevent.OutcomeFailure
	ref.class, ref.failure = ci, failure
	if b.duplicate(ev, system, class) {
		return ref
	}
	c := &b.classes[ci]
	marked := d.cfg.Dedupe > 0 && !ev.TraceID.IsEmpty() && !ev.SpanID.IsEmpty()
	c.add(bucket, atMs, failure, marked)
	c.lastEvent = i
	if !failure {
		if marked {
			b.mark(ev, ci, -1, bucket, false)
		}
		return ref
	}
	b.failures++
	c.lastFailure = i
	if q := name(ev.Queue); q != "" {
		c.queue = q
	}
	c.traces.add(ev.TraceID)
	pi := b.fingerprintIndex(ev)
	ref.print = pi
	if marked {
		b.mark(ev, ci, pi, bucket, true)
	}
	if pi < 0 {
		return ref
	}
	c.addType(pi, marked)
	p := &b.prints[pi]
	p.lastMs, p.lastEvent = max(p.lastMs, atMs), i
	p.traces.add(ev.TraceID)
	if d.cfg.MinClasses > 0 && atMs > b.nowMs-d.cfg.DependencyWindow.Milliseconds() && len(p.classes) < classesPerFingerprint {
		p.addClass(ci)
	}
	return ref
}

// classIndex returns the batch's entry of a class, adding it; -1 when the
// batch already holds as many classes as it may.
func (b *Batch) classIndex(system, class, classlessQueue string) int32 {
	b.h.Reset()
	b.h.WriteString(system)
	b.h.WriteByte(0)
	b.h.WriteString(class)
	b.h.WriteByte(0)
	b.h.WriteString(classlessQueue)
	h := b.h.Sum64()
	if ci, ok := b.classIdx[h]; ok {
		return ci
	}
	if len(b.classes) >= b.d.batchCap {
		return -1
	}
	ci := int32(len(b.classes))
	b.classIdx[h] = ci
	if len(b.classes) < cap(b.classes) {
		b.classes = b.classes[:ci+1]
	} else {
		b.classes = append(b.classes, batchClass{})
	}
	c := &b.classes[ci]
	*c = batchClass{
		hash: h, system: system, class: class, classlessQueue: classlessQueue,
		adds: c.adds[:0], types: c.types[:0],
		firstMs: 1<<63 - 1, lastMs: -1 << 63, lastFailure: -1,
		failRef: -1, execRef: -1, firstRef: -1, lastRef: -1, claimRef: -1,
	}
	return ci
}

// duplicate reports a second execution with the same system, class, id and
// attempt in the batch.
func (b *Batch) duplicate(ev *jobevent.Event, system, class string) bool {
	if ev.ID == "" || len(b.seen) >= maxBatchMemo {
		return false
	}
	b.h.Reset()
	b.h.WriteString(system)
	b.h.WriteByte(0)
	b.h.WriteString(class)
	b.h.WriteByte(0)
	b.h.WriteString(ev.ID)
	b.h.WriteByte(0)
	b.h.WriteByte(byte(ev.Attempt))
	b.h.WriteByte(byte(ev.Attempt >> 8))
	h := b.h.Sum64()
	if _, dup := b.seen[h]; dup {
		return true
	}
	b.seen[h] = struct{}{}
	return false
}

// fingerprintIndex returns the batch's entry of the event's error fingerprint,
// normalizing each distinct message once; -1 when the batch already holds
// as many fingerprints as it may.
func (b *Batch) fingerprintIndex(ev *jobevent.Event) int32 {
	d := b.d
	errType, message := ev.ErrorType, ev.ErrorMessage
	if errType == "" {
		errType = "unknown"
	}
	if d.cfg.MinClasses == 0 {
		message = "" // only the error type matters
	}
	b.h.Reset()
	b.h.WriteString(errType)
	b.h.WriteByte(0)
	b.h.WriteString(message[:min(len(message), fingerprint.MaxScan)])
	raw := b.h.Sum64()
	if pi, ok := b.rawIdx[raw]; ok {
		return pi
	}
	start := len(b.arena)
	var typeLen int
	b.arena, typeLen = fingerprint.Append(b.arena, errType, message)
	fp := b.arena[start:]
	h := maphash.Bytes(d.seed, fp)
	pi, ok := b.fingerprintIdx[h]
	switch {
	case ok:
		b.arena = b.arena[:start]
	case len(b.prints) >= d.batchCap:
		b.arena = b.arena[:start]
		return -1
	default:
		pi = int32(len(b.prints))
		b.fingerprintIdx[h] = pi
		if len(b.prints) < cap(b.prints) {
			b.prints = b.prints[:pi+1]
		} else {
			b.prints = append(b.prints, batchFingerprint{})
		}
		p := &b.prints[pi]
		*p = batchFingerprint{
			hash: h, start: start, end: len(b.arena), typeLen: typeLen, sample: ev.ErrorMessage,
			classes: p.classes[:0], lastMs: -1 << 63, ref: -1, claimRef: -1,
		}
	}
	if len(b.rawIdx) < maxBatchMemo {
		b.rawIdx[raw] = pi
	}
	return pi
}

// mark records a counted execution that has trace and span ids: the store
// counts it once (CountOnce), however often it arrives.
func (b *Batch) mark(ev *jobevent.Event, class, print int32, bucket int64, failure bool) {
	m := markedEvent{class: class, print: print, bucket: bucket, failure: failure}
	copy(m.ids[:16], ev.TraceID[:])
	copy(m.ids[16:], ev.SpanID[:])
	b.marked = append(b.marked, m)
}

func (c *batchClass) add(bucket, atMs int64, failure, marked bool) {
	if failure {
		c.failures++
		c.firstMs, c.lastMs = min(c.firstMs, atMs), max(c.lastMs, atMs)
	}
	var f, x, mf int64 // failures, executions, marked failures
	switch {
	case marked && failure:
		mf = 1
	case !marked && failure:
		f, x = 1, 1
	case !marked:
		x = 1
	}
	c.lastEventMs = max(c.lastEventMs, atMs)
	for k := range c.adds {
		if a := &c.adds[k]; a.bucket == bucket {
			a.atMs, a.failures, a.executions = max(a.atMs, atMs), a.failures+f, a.executions+x
			a.markedFailures += mf
			return
		}
	}
	c.adds = append(c.adds, bucketAdd{bucket: bucket, atMs: atMs, failures: f, executions: x, markedFailures: mf})
	// Oldest first, so the last window op reads the whole window.
	for k := len(c.adds) - 1; k > 0 && c.adds[k].bucket < c.adds[k-1].bucket; k-- {
		c.adds[k], c.adds[k-1] = c.adds[k-1], c.adds[k]
	}
}

// anchor is the event a record of the class is about: for a firing record
// its last failure in the batch (its last execution if it had none: another
// replica's failures raised the level), for a resolved one its last
// execution.
func (c *batchClass) anchor(state alert.State) int32 {
	if state == alert.StateFiring && c.lastFailure >= 0 {
		return c.lastFailure
	}
	return c.lastEvent
}

// addType counts a failure of fingerprint pi; a marked one counts by
// CountOnce.
func (c *batchClass) addType(pi int32, marked bool) {
	var n int64 = 1
	if marked {
		n = 0
	}
	for k := range c.types {
		if c.types[k].print == pi {
			c.types[k].n += n
			return
		}
	}
	if len(c.types) < errorTypesKept {
		c.types = append(c.types, typeCount{print: pi, n: n})
	}
}

// mergeTypes names the class's error types and adds up those of different
// messages with the same type.
func (c *batchClass) mergeTypes(prints []batchFingerprint) {
	n := 0
	for _, t := range c.types {
		t.typ = prints[t.print].state.errType()
		merged := false
		for k := range c.types[:n] {
			if c.types[k].typ == t.typ {
				c.types[k].n += t.n
				merged = true
				break
			}
		}
		if !merged {
			c.types[n] = t
			n++
		}
	}
	c.types = c.types[:n]
}

func (p *batchFingerprint) addClass(ci int32) {
	for _, x := range p.classes {
		if x == ci {
			return
		}
	}
	p.classes = append(p.classes, ci)
}

// ClusterID is the id of the failure_cluster alert the event at index i
// belongs to: a failure of a class whose cluster is firing; "" otherwise.
func (b *Batch) ClusterID(i int) string {
	ref := b.events[i]
	if !ref.failure || ref.class < 0 {
		return ""
	}
	if c := &b.classes[ref.class]; c.level > 0 && c.state != nil {
		return c.state.id
	}
	return ""
}

// DependencyID is the id of the dependency_failure alert the event at index
// i belongs to; "" when its error fingerprint is not firing.
func (b *Batch) DependencyID(i int) string {
	ref := b.events[i]
	if ref.print < 0 {
		return ""
	}
	if p := &b.prints[ref.print]; p.level > 0 && p.state != nil {
		return p.state.id
	}
	return ""
}

// Records are the alert records Observe decided on, valid until Reset.
func (b *Batch) Records() []Record { return b.records }

// Observe applies the batch to the store, which decides, in the same round
// trip, which clusters fire, escalate or resolve; Observe then records what
// this replica won. On error nothing is decided and the batch carries no
// records.
func (b *Batch) Observe(ctx context.Context) error {
	if len(b.classes) == 0 {
		return nil
	}
	d := b.d
	d.mu.Lock()
	for i := range b.prints {
		p := &b.prints[i]
		st := d.fingerprintFor(p.hash, b.arena[p.start:p.end], p.typeLen, p.sample)
		p.state, p.level = st, st.level
		st.traces.addAll(&p.traces)
	}
	for i := range b.classes {
		c := &b.classes[i]
		st := d.classFor(c.hash, c.system, c.class, c.classlessQueue)
		c.state, c.level = st, st.level
		if c.failures == 0 {
			if c.level > 0 { // it may resolve: its error types name the record
				c.topKey, c.prevKey = st.topKeys(d.window.Epoch(b.nowMs))
			}
			continue
		}
		if c.queue != "" && c.class != "" && c.queue != st.queue {
			st.queue = strings.Clone(c.queue)
		}
		st.traces.addAll(&c.traces)
		c.topKey, c.prevKey = st.topKeys(d.window.Epoch(c.lastMs))
		c.mergeTypes(b.prints)
	}
	d.mu.Unlock()

	b.queue()
	if err := d.store.Apply(ctx, &b.ops); err != nil {
		return err
	}
	b.decide()
	return nil
}

// queue adds the batch's ops: window adds, error types, failure times and
// the classes of each fingerprint, and the claims on the new counts of the
// classes that failed or fire and of the fingerprints that failed in some
// class within the dependency window.
func (b *Batch) queue() {
	d := b.d
	ops := &b.ops
	ops.Reset()
	ttl := d.window.TTL()
	for i := range b.classes {
		c := &b.classes[i]
		st := c.state
		claim := c.failures > 0 || c.level > 0
		for k := range c.adds {
			a := &c.adds[k]
			at := time.UnixMilli(a.atMs)
			a.execRef = ops.WindowAdd(st.executionsKey, d.window, at, a.executions)
			c.execRef, a.failRef = a.execRef, -1
			if (a.failures > 0 || a.markedFailures > 0) && (!claim || k < len(c.adds)-1) {
				a.failRef = ops.WindowAdd(st.failuresKey, d.window, at, a.failures)
			}
		}
		if c.failures > 0 {
			for k := range c.types {
				t := &c.types[k]
				t.ref = ops.TopAdd(c.topKey, t.typ, t.n, errorTypesKept, 2*d.cfg.Window)
			}
			c.lastRef = ops.Max(st.lastFailureKey, c.lastMs, ttl)
			c.firstRef = ops.Max(st.firstFailureKey, -c.firstMs, ttl)
		}
		if !claim {
			continue
		}
		// The claim on the failures of the window ending in the last
		// bucket, over its executions; with the error types for the record.
		last := &c.adds[len(c.adds)-1]
		c.failRef = ops.WindowAdd(st.failuresKey, d.window, time.UnixMilli(last.atMs), last.failures)
		last.failRef = c.failRef
		b.lists = [2]string{c.topKey, c.prevKey}
		c.claimRef = ops.Claim(c.failRef, statestore.Claim{
			Set: activeClassesKey, Member: st.member, Capacity: d.cfg.MaxClasses, TTL: d.regTTL,
			Rule: d.classRule, Known: c.level, Of: st.executionsKey, List: b.lists[:], ListLimit: errorTypesKept,
		})
	}
	b.countOnce()
	for i := range b.prints {
		p := &b.prints[i]
		for _, ci := range p.classes {
			p.ref = ops.DistinctAdd(p.state.key, b.classes[ci].state.member, time.UnixMilli(p.lastMs), d.cfg.DependencyWindow, classesPerFingerprint)
		}
		if p.ref >= 0 {
			b.lists[0] = p.state.key
			p.claimRef = ops.Claim(p.ref, statestore.Claim{
				Set: activePrintsKey, Member: p.state.print, Capacity: d.cfg.MaxFingerprints, TTL: d.regTTL,
				Rule: d.fingerprintRule, Known: p.level, List: b.lists[:1], ListLimit: classesPerFingerprint,
			})
		}
	}
}

// countOnce has each marked execution counted once in its class's windows
// and error types, by its dedupe mark.
func (b *Batch) countOnce() {
	if len(b.marked) == 0 {
		return
	}
	d := b.d
	for _, m := range b.marked {
		b.markKeys = statestore.AppendMark(b.markKeys, markKeyPrefix, [16]byte(m.ids[:16]), [8]byte(m.ids[16:]))
	}
	keys := string(b.markKeys)
	keyLen := len(keys) / len(b.marked)
	for k, m := range b.marked {
		mark := b.ops.Dedupe(keys[k*keyLen:(k+1)*keyLen], d.cfg.Dedupe)
		c := &b.classes[m.class]
		var a *bucketAdd
		for j := range c.adds {
			if c.adds[j].bucket == m.bucket {
				a = &c.adds[j]
				break
			}
		}
		b.ops.CountOnce(a.execRef, mark, 1)
		if !m.failure {
			continue
		}
		b.ops.CountOnce(a.failRef, mark, 1)
		if m.print < 0 {
			continue
		}
		typ := b.prints[m.print].state.errType()
		for _, t := range c.types {
			if t.typ == typ {
				b.ops.CountOnce(t.ref, mark, 1)
				break
			}
		}
	}
}

// decide records what the store decided for this replica: the alerts it
// raised or resolved, and the levels of the others.
func (b *Batch) decide() {
	d := b.d
	ops := &b.ops
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range b.classes {
		c := &b.classes[i]
		if c.claimRef < 0 {
			continue
		}
		c.windowFailures, c.windowExecutions = ops.Value(c.failRef), ops.Value(c.execRef)
		level := ops.Value(c.claimRef)
		switch {
		case ops.OK(c.claimRef) && level > 0:
			c.level = level
			b.records = append(b.records, Record{Alert: b.classAlert(c, alert.StateFiring), Event: int(c.anchor(alert.StateFiring))})
		case ops.OK(c.claimRef):
			b.records = append(b.records, Record{Alert: b.classAlert(c, alert.StateResolved), Event: int(c.anchor(alert.StateResolved))})
			c.level = 0
		default:
			c.level = level // as known, or as another replica left it
		}
		d.classes.setLevel(c.state, c.level)
	}
	for i := range b.prints {
		p := &b.prints[i]
		if p.claimRef < 0 {
			continue
		}
		p.classCount = ops.Value(p.ref)
		level := ops.Value(p.claimRef)
		switch {
		case ops.OK(p.claimRef) && level > 0:
			p.level = level
			b.records = append(b.records, Record{Alert: b.fingerprintAlert(p, alert.StateFiring), Event: int(p.lastEvent)})
		case ops.OK(p.claimRef):
			b.records = append(b.records, Record{Alert: b.fingerprintAlert(p, alert.StateResolved), Event: int(p.lastEvent)})
			p.level = 0
		default:
			p.level = level
		}
		d.prints.setLevel(p.state, p.level)
	}
}

// classAlert is the record of a class's claim. Called with d.mu held.
func (b *Batch) classAlert(c *batchClass, state alert.State) alert.Alert {
	at := c.lastEventMs
	if state == alert.StateFiring && c.lastFailure >= 0 {
		at = c.lastMs
	}
	f := classFacts{
		state: state, level: c.level, failures: c.windowFailures, executions: c.windowExecutions,
		types: b.ops.Entries(c.claimRef),
		at:    time.UnixMilli(at), queue: c.state.queue, traces: c.state.traces.list(),
	}
	if c.firstRef >= 0 {
		f.firstMs, f.lastMs = b.d.firstFailure(b.ops.Value(c.firstRef), b.nowMs), b.ops.Value(c.lastRef)
	}
	return b.d.classRecord(c.state, f)
}

// fingerprintAlert is the record of a fingerprint's claim. Called with d.mu held.
func (b *Batch) fingerprintAlert(p *batchFingerprint, state alert.State) alert.Alert {
	f := fingerprintFacts{
		state: state, level: p.level, classes: p.classCount,
		at: time.UnixMilli(p.lastMs), traces: p.state.traces.list(),
	}
	if state == alert.StateFiring {
		f.names = liveMembers(b.ops.Entries(p.claimRef), b.nowMs-b.d.cfg.DependencyWindow.Milliseconds())
	}
	return b.d.fingerprintRecord(p.state, f)
}

// liveMembers are the members of a distinct set seen after cutoffMs (their
// score is when they were last seen).
func liveMembers(members []statestore.Entry, cutoffMs int64) []statestore.Entry {
	n := 0
	for _, m := range members {
		if m.Score > cutoffMs {
			members[n] = m
			n++
		}
	}
	return members[:n]
}
