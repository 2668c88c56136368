// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"hash/maphash"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/fingerprint"
)

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
