// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/graph"

import (
	"container/list"
	"strings"
	"time"
)

// MaxExampleTraces is how many trace ids an edge keeps as examples.
const MaxExampleTraces = 5

// EdgeState is what is known of one edge.
type EdgeState struct {
	Edge Edge
	// Count is the enqueues counted since the edge was first seen (or last
	// came back after it expired or was evicted).
	Count int64
	// First and Last are when it was first and last seen.
	First, Last time.Time
	// Traces are the first MaxExampleTraces traces it was seen in.
	Traces [][16]byte
}

// Edges holds at most max edges, each for ttl after it was last seen; past
// max, the least recently seen is evicted (and counted in Evicted). It is
// not safe for concurrent use.
type Edges struct {
	max   int
	ttl   time.Duration
	byKey map[Edge]*list.Element // of *EdgeState
	lru   list.List              // most recently seen first
	// Evicted counts the edges dropped by the max bound, Expired those
	// dropped by the TTL.
	Evicted, Expired int64
}

// NewEdges returns an empty set.
func NewEdges(max int, ttl time.Duration) *Edges {
	return &Edges{max: max, ttl: ttl, byKey: make(map[Edge]*list.Element)}
}

// Len is the number of edges held.
func (s *Edges) Len() int { return len(s.byKey) }

// Add counts one enqueue of e seen at now in trace and returns the edge's
// state, whose Edge holds copies of e's strings.
func (s *Edges) Add(now time.Time, e Edge, trace [16]byte) *EdgeState {
	if el, ok := s.byKey[e]; ok {
		st := el.Value.(*EdgeState)
		st.Count++
		st.Last = now
		if len(st.Traces) < MaxExampleTraces && !containsTrace(st.Traces, trace) {
			st.Traces = append(st.Traces, trace)
		}
		s.lru.MoveToFront(el)
		return st
	}
	for len(s.byKey) >= s.max {
		s.remove(s.lru.Back())
		s.Evicted++
	}
	e = Edge{System: strings.Clone(e.System), Parent: strings.Clone(e.Parent),
		Child: strings.Clone(e.Child), Queue: strings.Clone(e.Queue)}
	st := &EdgeState{Edge: e, Count: 1, First: now, Last: now, Traces: [][16]byte{trace}}
	s.byKey[e] = s.lru.PushFront(st)
	return st
}

// Expire drops the edges not seen within the TTL and reports whether it
// dropped any.
func (s *Edges) Expire(now time.Time) bool {
	dropped := false
	for el := s.lru.Back(); el != nil; el = s.lru.Back() {
		if now.Sub(el.Value.(*EdgeState).Last) < s.ttl {
			break
		}
		s.remove(el)
		s.Expired++
		dropped = true
	}
	return dropped
}

// Get returns e's state, or nil.
func (s *Edges) Get(e Edge) *EdgeState {
	if el, ok := s.byKey[e]; ok {
		return el.Value.(*EdgeState)
	}
	return nil
}

// All calls f for every edge, most recently seen first.
func (s *Edges) All(f func(*EdgeState)) {
	for el := s.lru.Front(); el != nil; el = el.Next() {
		f(el.Value.(*EdgeState))
	}
}

func (s *Edges) remove(el *list.Element) {
	delete(s.byKey, el.Value.(*EdgeState).Edge)
	s.lru.Remove(el)
}

func containsTrace(ts [][16]byte, t [16]byte) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
