// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"context"
	"hash/maphash"
	"strings"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
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

	b.planOps()
	if err := d.store.Apply(ctx, &b.ops); err != nil {
		return err
	}
	b.decide()
	return nil
}
