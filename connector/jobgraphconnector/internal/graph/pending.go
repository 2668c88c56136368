// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package graph finds the edges of the job dependency graph (job class A
// enqueued a job of class B), keeps them bounded, and finds the cycles among
// them. It knows spans only as keys and jobs as strings: the connector turns
// pdata into calls here.
package graph // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/graph"

import (
	"strings"
	"time"
)

// SpanKey identifies a span: its trace id and span id.
type SpanKey struct {
	Trace [16]byte
	Span  [8]byte
}

// Job is what one half of an edge knows of a job. An execution knows all
// three; a producer span may lack the class (River's insert_many of several
// kinds) or the queue (River).
type Job struct {
	System, Class, Queue string
}

// Edge is one parent class -> child class edge: System and Queue are the
// child's.
type Edge struct {
	System, Parent, Child, Queue string
}

// EmitFunc receives each edge found, once per enqueue, with the trace of the
// producer span.
type EmitFunc func(e Edge, trace [16]byte)

type nodeKind uint8

const (
	// kindExecution is a job execution, the parent of the producer spans
	// it contains.
	kindExecution nodeKind = iota + 1
	// kindAwaitedExecution is the parent of producer spans that arrived
	// before it; producers lists them.
	kindAwaitedExecution
	// kindProducer is a producer span; children lists the child executions
	// waiting for its parent's job.
	kindProducer
)

// node is one pending half, keyed by its span.
type node struct {
	kind nodeKind
	job  Job
	// parent is a producer's parent span; parentJob its execution's job
	// once known (resolved).
	parent    SpanKey
	parentJob Job
	resolved  bool
	// counted says the producer span named the child's class and queue, so
	// its one edge was counted and its children add nothing.
	counted   bool
	producers []SpanKey
	children  []Job
	expires   int64
}

type expiry struct {
	key     SpanKey
	expires int64
}

// Pending matches the halves of edges: producer spans with the executions
// that contain them, and child executions with the producer spans that are
// their parent or link. Halves wait at most ttl; at most max wait at once,
// the oldest dropped (and counted in Dropped) to make room. It is not safe
// for concurrent use.
type Pending struct {
	max   int
	ttl   int64
	nodes map[SpanKey]*node
	// queue holds every node's key in the order created: one TTL for all,
	// so that is the order they expire.
	queue []expiry
	head  int
	// Dropped counts the halves dropped by the max bound, and those past
	// maxChildren waiting for one span.
	Dropped int64

	interned map[string]string
}

// NewPending returns an empty store of at most max halves.
func NewPending(max int, ttl time.Duration) *Pending {
	return &Pending{max: max, ttl: int64(ttl), nodes: make(map[SpanKey]*node), interned: make(map[string]string)}
}

// Len is the number of pending halves.
func (p *Pending) Len() int { return len(p.nodes) }

// Wants reports whether the execution span key, whose parent and links are
// refs, would take part in an edge: a producer span waits for it as its
// parent, or it is the child of a producer span still pending. Only those
// are worth recognising (Execution): a batch's producer spans go in first,
// and the execution around a producer span ends after it, a child after
// its enqueue, so the producer is there when they come.
func (p *Pending) Wants(key SpanKey, refs []SpanKey) bool {
	if len(p.nodes) == 0 {
		return false
	}
	if n := p.nodes[key]; n != nil && n.kind == kindAwaitedExecution {
		return true
	}
	for _, ref := range refs {
		if n := p.nodes[ref]; n != nil && n.kind == kindProducer && !n.counted {
			return true
		}
	}
	return false
}

// Execution records a job execution that Wants: the parent of the producer
// spans waiting for it and, when it is the job's first attempt (attempt 0
// or 1: later attempts were enqueued once, before the first), a child of
// the producer spans it refers to (refs: its parent span and its links).
func (p *Pending) Execution(now time.Time, key SpanKey, job Job, attempt int, refs []SpanKey, emit EmitFunc) {
	p.Expire(now)
	n := p.nodes[key]
	switch {
	case n == nil:
		// Kept for the producer spans of later batches.
		n = p.add(now, key)
		n.kind, n.job = kindExecution, p.cloneJob(job)
	case n.kind == kindExecution:
		return // the same span again: its enqueue was counted
	case n.kind == kindAwaitedExecution:
		n.kind, n.job = kindExecution, p.cloneJob(job)
		for _, pk := range n.producers {
			if prod := p.nodes[pk]; prod != nil && prod.kind == kindProducer {
				p.resolve(prod, pk, n.job, emit)
			}
		}
		n.producers = nil
	}
	if attempt > 1 {
		return
	}
	for _, ref := range refs {
		prod := p.nodes[ref]
		if prod == nil || prod.kind != kindProducer || prod.counted {
			continue
		}
		if prod.resolved {
			emit(childEdge(prod, job), ref.Trace)
		} else {
			p.addChild(prod, job)
		}
	}
}

// maxChildren bounds the children waiting for one producer span (River
// inserts batches of any size), so that max_pending bounds the memory.
const maxChildren = 1000

func (p *Pending) addChild(n *node, child Job) {
	if len(n.children) >= maxChildren {
		p.Dropped++
		return
	}
	n.children = append(n.children, p.cloneJob(child))
}

// Producer records a producer span whose parent span is parent; job is what
// it names of the enqueued job. A producer without a parent (enqueued
// outside any job: a web request, a script) makes no edge and is not kept.
func (p *Pending) Producer(now time.Time, key, parent SpanKey, job Job, emit EmitFunc) {
	if parent.Span == ([8]byte{}) {
		return
	}
	p.Expire(now)
	if p.nodes[key] != nil {
		return // seen before
	}
	n := p.add(now, key)
	n.kind, n.job, n.parent = kindProducer, p.cloneJob(job), parent
	par := p.nodes[parent]
	switch {
	case par == nil:
		par = p.add(now, parent)
		par.kind = kindAwaitedExecution
		par.producers = []SpanKey{key}
	case par.kind == kindAwaitedExecution:
		if len(par.producers) >= maxChildren {
			p.Dropped++
			return
		}
		par.producers = append(par.producers, key)
	case par.kind == kindExecution:
		p.resolve(n, key, par.job, emit)
	}
}

// resolve gives producer n its parent's job: the edge is counted now when n
// names the child's class and queue, else once per child execution (those
// waiting now, and those to come).
func (p *Pending) resolve(n *node, key SpanKey, parent Job, emit EmitFunc) {
	if n.resolved {
		return
	}
	n.resolved, n.parentJob = true, parent
	if n.job.Class != "" && n.job.Queue != "" {
		n.counted = true
		emit(Edge{System: n.job.System, Parent: parent.Class, Child: n.job.Class, Queue: n.job.Queue}, key.Trace)
		n.children = nil
		return
	}
	for _, c := range n.children {
		emit(childEdge(n, c), key.Trace)
	}
	n.children = nil
}

// childEdge is the edge from resolved producer n to one child execution:
// what the producer names, else what the child says.
func childEdge(n *node, child Job) Edge {
	return Edge{
		System: firstNonEmpty(n.job.System, child.System),
		Parent: n.parentJob.Class,
		Child:  firstNonEmpty(n.job.Class, child.Class),
		Queue:  firstNonEmpty(n.job.Queue, child.Queue),
	}
}

// add creates an empty node for key. When the store is full it drops the
// oldest half first (and counts it): under a load the bound cannot hold,
// the newest halves are the likeliest to meet their other half.
func (p *Pending) add(now time.Time, key SpanKey) *node {
	for len(p.nodes) >= p.max && p.dropOldest() {
	}
	n := &node{expires: now.UnixNano() + p.ttl}
	p.nodes[key] = n
	if p.head > 0 && p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	}
	p.queue = append(p.queue, expiry{key, n.expires})
	return n
}

// dropOldest forgets the oldest live half and reports whether there was
// one.
func (p *Pending) dropOldest() bool {
	for p.head < len(p.queue) {
		e := p.queue[p.head]
		p.queue[p.head] = expiry{}
		p.head++
		if n := p.nodes[e.key]; n != nil && n.expires == e.expires {
			delete(p.nodes, e.key)
			p.Dropped++
			return true
		}
	}
	return false
}

// Expire forgets the halves older than the TTL.
func (p *Pending) Expire(now time.Time) {
	t := now.UnixNano()
	for p.head < len(p.queue) && p.queue[p.head].expires <= t {
		e := p.queue[p.head]
		if n := p.nodes[e.key]; n != nil && n.expires == e.expires {
			delete(p.nodes, e.key)
		}
		p.queue[p.head] = expiry{}
		p.head++
	}
	// Compact once the expired head outweighs the live tail, so the queue
	// stays within twice the store.
	if p.head > len(p.queue)/2 && p.head > 64 {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.head = 0
	}
}

// maxInterned bounds the strings Pending keeps one copy of: the systems,
// classes and queues of the jobs in flight are few, and a flood of distinct
// ones empties the table rather than growing it.
const maxInterned = 4096

// cloneJob copies job's strings, which share memory with a whole batch of
// spans, so that a pending half does not pin the batch; one copy of each
// for all the halves that hold it.
func (p *Pending) cloneJob(j Job) Job {
	return Job{System: p.intern(j.System), Class: p.intern(j.Class), Queue: p.intern(j.Queue)}
}

func (p *Pending) intern(s string) string {
	if s == "" {
		return ""
	}
	if c, ok := p.interned[s]; ok {
		return c
	}
	if len(p.interned) >= maxInterned {
		clear(p.interned)
	}
	c := strings.Clone(s)
	p.interned[c] = c
	return c
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
