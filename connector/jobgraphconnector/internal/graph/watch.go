// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package graph // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/graph"

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/scc"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

const (
	// refreshEvery is how often the whole edge set is read back although
	// no edge was new to this watcher: to see edges expire (and cycles
	// resolve) and the edges other replicas added.
	refreshEvery = 10 * time.Second
	// maxCycles bounds the registry of firing cycles.
	maxCycles = 10_000
	// registryTTL keeps the registry of firing cycles while nothing
	// touches it, so that their resolutions can still be claimed.
	registryTTL = 30 * 24 * time.Hour
)

// Keys of the watcher's state, under the store's prefix.
const (
	keyEdges    = "job_graph:edges"  // DistinctAdd: member edge, score last seen (ms)
	keyCounts   = "job_graph:counts" // TopAdd: member edge, score enqueues
	keyRegistry = "job_graph:cycles" // MemberMax: member cycle id, score 1 while firing
)

// Decision is a cycle that this watcher fired or resolved: exactly one
// watcher among those sharing a store gets each.
type Decision struct {
	Cycle    scc.Cycle
	ID       string
	Resolved bool
	// Enqueues are the counts of the cycle's steps, Path[i] -> Path[i+1].
	Enqueues []int64
	// System is the system of the cycle's first step.
	System string
}

// Watch keeps the live edge set in a statestore (local memory, or Redis
// shared by replicas) and finds the cycles in it. Each Sync costs one
// Apply: the edges of a batch, the claims of the cycles found by the
// previous Sync and, when needed, the read of the whole set. It is not safe
// for concurrent use.
type Watch struct {
	store    statestore.Store
	b        statestore.Batch
	ttl      time.Duration
	maxEdges int
	id       func(scc.Cycle) string

	view     map[Edge]viewEdge
	lastRead time.Time
	dirty    bool
	// known are the cycles seen in the set, by id; claims the decisions to
	// take on the store at the next Sync.
	known  map[string]*Decision
	claims []claim
	// scratch
	refs    []statestore.Ref
	touched []Edge
	member  []byte
}

type viewEdge struct {
	last  int64 // Unix ms
	count int64
}

type claim struct {
	id      string
	resolve bool
}

// NewWatch returns a watcher of the edges in store, each live for ttl after
// it was last seen, at most maxEdges of them. id names a cycle (its alert
// id).
func NewWatch(store statestore.Store, ttl time.Duration, maxEdges int, id func(scc.Cycle) string) *Watch {
	return &Watch{store: store, ttl: ttl, maxEdges: maxEdges, id: id,
		view: make(map[Edge]viewEdge), known: make(map[string]*Decision)}
}

// Sync adds the enqueues counted since the last call (delta per edge) to
// the set, takes the pending claims, and returns the decisions this watcher
// won. When the store is unreachable (statestore.ErrUnavailable) nothing is
// applied: the claims wait here, and the caller passes delta again.
func (w *Watch) Sync(ctx context.Context, now time.Time, delta map[Edge]int64) ([]Decision, error) {
	w.b.Reset()
	w.refs = w.refs[:0]
	for _, c := range w.claims {
		if c.resolve {
			w.refs = append(w.refs, w.b.RemoveMember(keyRegistry, c.id))
		} else {
			w.refs = append(w.refs, w.b.MemberMax(keyRegistry, c.id, 1, maxCycles, registryTTL))
		}
	}
	read := now.Sub(w.lastRead) >= refreshEvery
	w.touched = w.touched[:0]
	for e, n := range delta {
		if _, ok := w.view[e]; !ok {
			read = true // a new edge may close a cycle with others' edges
		}
		w.touched = append(w.touched, e)
		m := w.encode(e)
		w.b.DistinctAdd(keyEdges, m, now, w.ttl, w.maxEdges)
		w.refs = append(w.refs, w.b.TopAdd(keyCounts, m, n, w.maxEdges, w.ttl))
	}
	var edgesRef, countsRef statestore.Ref
	if read {
		edgesRef = w.b.Members(keyEdges, w.maxEdges)
		countsRef = w.b.Members(keyCounts, w.maxEdges)
	}
	if w.b.Len() == 0 {
		return nil, nil
	}
	err := w.store.Apply(ctx, &w.b)
	if errors.Is(err, statestore.ErrUnavailable) {
		return nil, err // nothing applied: the caller keeps delta, the claims stay
	}
	// Any other error failed some ops only, whose results read as zero: a
	// failed claim is not won, a failed count leaves the view's.
	nowMs := now.UnixMilli()
	for i, e := range w.touched {
		v := w.view[e]
		if _, ok := w.view[e]; !ok {
			w.dirty = true
		}
		v.last = nowMs
		if c := w.b.Value(w.refs[len(w.claims)+i]); c > 0 {
			v.count = c
		}
		w.view[e] = v
	}
	if read {
		w.readBack(now, w.b.Entries(edgesRef), w.b.Entries(countsRef))
	}
	w.expire(nowMs)
	decisions := w.takeClaims()
	w.claims = w.claims[:0]
	if w.dirty {
		w.dirty = false
		w.evaluate()
	}
	return decisions, err
}

// takeClaims turns the claims this watcher won into decisions.
func (w *Watch) takeClaims() []Decision {
	var out []Decision
	for i, c := range w.claims {
		d := w.known[c.id]
		won := w.b.OK(w.refs[i])
		if c.resolve {
			delete(w.known, c.id)
		}
		if !won || d == nil {
			continue
		}
		if !c.resolve {
			// The counts when it fires; a resolution repeats them, as its
			// edges may have left the view.
			d.Enqueues, d.System = w.counts(d.Cycle)
		}
		dec := *d
		dec.Resolved = c.resolve
		out = append(out, dec)
	}
	return out
}

// readBack replaces the view with the set as read.
func (w *Watch) readBack(now time.Time, edges, counts []statestore.Entry) {
	w.lastRead = now
	cutoff := now.Add(-w.ttl).UnixMilli()
	count := make(map[string]int64, len(counts))
	for _, c := range counts {
		count[c.Member] = c.Score
	}
	seen := make(map[Edge]struct{}, len(edges))
	for _, m := range edges {
		if m.Score <= cutoff {
			continue
		}
		e, ok := decode(m.Member)
		if !ok {
			continue
		}
		seen[e] = struct{}{}
		if _, ok := w.view[e]; !ok {
			w.dirty = true
		}
		w.view[e] = viewEdge{last: m.Score, count: count[m.Member]}
	}
	for e := range w.view {
		if _, ok := seen[e]; !ok {
			delete(w.view, e)
			w.dirty = true
		}
	}
}

func (w *Watch) expire(nowMs int64) {
	cutoff := nowMs - w.ttl.Milliseconds()
	for e, v := range w.view {
		if v.last <= cutoff {
			delete(w.view, e)
			w.dirty = true
		}
	}
}

// evaluate finds the cycles of the view and queues the claims: fire the
// new ones, resolve those gone.
func (w *Watch) evaluate() {
	arcs := make([]scc.Arc, 0, len(w.view))
	for e := range w.view {
		arcs = append(arcs, scc.Arc{From: e.Parent, To: e.Child})
	}
	live := make(map[string]bool)
	for _, c := range scc.Cycles(arcs) {
		id := w.id(c)
		live[id] = true
		if _, ok := w.known[id]; ok {
			continue
		}
		d := &Decision{Cycle: c, ID: id}
		d.Enqueues, d.System = w.counts(c)
		w.known[id] = d
		w.claims = append(w.claims, claim{id: id})
	}
	for id := range w.known {
		if !live[id] && !slices.Contains(w.claims, claim{id: id, resolve: true}) {
			w.claims = append(w.claims, claim{id: id, resolve: true})
		}
	}
}

// counts are the enqueues of each step of c in the view (over all systems
// and queues), and the system of its first step.
func (w *Watch) counts(c scc.Cycle) (enqueues []int64, system string) {
	enqueues = make([]int64, len(c.Path)-1)
	for e, v := range w.view {
		for i := range enqueues {
			if e.Parent == c.Path[i] && e.Child == c.Path[i+1] {
				enqueues[i] += v.count
				if i == 0 && (system == "" || e.System < system) {
					system = e.System
				}
			}
		}
	}
	return enqueues, system
}

// encode writes e as a store member: each field after its length, so that
// any bytes in a class name stay unambiguous.
func (w *Watch) encode(e Edge) string {
	b := w.member[:0]
	for _, s := range [...]string{e.System, e.Parent, e.Child, e.Queue} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	w.member = b
	return string(b)
}

func decode(m string) (Edge, bool) {
	var f [4]string
	for i := range f {
		n, k := binary.Uvarint([]byte(m[:min(len(m), binary.MaxVarintLen64)]))
		if k <= 0 || uint64(len(m)-k) < n {
			return Edge{}, false
		}
		f[i], m = m[k:k+int(n)], m[k+int(n):]
	}
	return Edge{System: f[0], Parent: f[1], Child: f[2], Queue: f[3]}, m == ""
}
