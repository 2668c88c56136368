// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func key(trace, span byte) SpanKey {
	return SpanKey{Trace: [16]byte{trace}, Span: [8]byte{span}}
}

// recorder collects the edges a Pending emits.
type recorder struct{ edges []Edge }

func (r *recorder) emit(e Edge, _ [16]byte) { r.edges = append(r.edges, e) }

func TestPendingForms(t *testing.T) {
	parent := Job{System: "bullmq", Class: "import", Queue: "imports"}
	child := Job{System: "bullmq", Class: "row", Queue: "rows"}
	named := Job{System: "bullmq", Class: "row", Queue: "rows"}
	river := Job{System: "river"} // insert_many of several kinds: no class, no queue
	want := Edge{System: "bullmq", Parent: "import", Child: "row", Queue: "rows"}
	type step func(p *Pending, r *recorder)
	exec := func(k SpanKey, j Job, attempt int, refs ...SpanKey) step {
		return func(p *Pending, r *recorder) { p.Execution(t0, k, j, attempt, refs, r.emit) }
	}
	prod := func(k, par SpanKey, j Job) step {
		return func(p *Pending, r *recorder) { p.Producer(t0, k, par, j, r.emit) }
	}
	pe, pp, ce := key(1, 1), key(1, 2), key(1, 3)
	linked := key(2, 3) // the child in a trace of its own (River)
	tests := []struct {
		name  string
		steps []step
		want  []Edge
	}{
		{"parent-child: producer names the child, parent first", []step{exec(pe, parent, 1), prod(pp, pe, named), exec(ce, child, 1, pp)}, []Edge{want}},
		{"parent-child: producer first (the parent span ends last)", []step{prod(pp, pe, named), exec(ce, child, 1, pp), exec(pe, parent, 1)}, []Edge{want}},
		{"parent-child: the parent in an earlier batch than its producer", []step{exec(pe, parent, 1), prod(pp, pe, named)}, []Edge{want}},
		{"a producer that names the child counts once, its child adds nothing", []step{exec(pe, parent, 1), prod(pp, pe, named), exec(ce, child, 1, pp), exec(key(1, 4), child, 0, pp)}, []Edge{want}},
		{"link: class and queue from the child", []step{exec(pe, parent, 1), prod(pp, pe, river), exec(linked, child, 1, pp)},
			[]Edge{{System: "river", Parent: "import", Child: "row", Queue: "rows"}}},
		{"link: children before their producer's parent, one edge each", []step{prod(pp, pe, river), exec(linked, child, 1, pp), exec(key(3, 3), Job{Class: "notify", Queue: "default"}, 1, pp), exec(pe, parent, 1)},
			[]Edge{{System: "river", Parent: "import", Child: "row", Queue: "rows"}, {System: "river", Parent: "import", Child: "notify", Queue: "default"}}},
		{"a child before its producer span is not matched: it runs after its enqueue", []step{exec(linked, child, 1, pp), prod(pp, pe, river), exec(pe, parent, 1)}, nil},
		{"a retry was enqueued once", []step{exec(pe, parent, 1), prod(pp, pe, river), exec(linked, child, 1, pp), exec(key(2, 4), child, 2, pp)},
			[]Edge{{System: "river", Parent: "import", Child: "row", Queue: "rows"}}},
		{"a root enqueue has no parent job", []step{prod(pp, SpanKey{Trace: [16]byte{1}}, named), exec(ce, child, 1, pp)}, nil},
		{"a producer in a non-job span waits, then expires", []step{prod(pp, key(1, 9), named), exec(ce, child, 1, pp)}, nil},
		{"an execution whose parent is an execution (run inline) is no edge", []step{exec(pe, parent, 1), exec(ce, child, 1, pe)}, nil},
		{"the same child span twice counts once", []step{prod(pp, pe, river), exec(linked, child, 1, pp), exec(linked, child, 1, pp), exec(pe, parent, 1), exec(linked, child, 1, pp)},
			[]Edge{{System: "river", Parent: "import", Child: "row", Queue: "rows"}}},
		{"the same producer span twice counts once", []step{exec(pe, parent, 1), prod(pp, pe, named), prod(pp, pe, named)}, []Edge{want}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, r := NewPending(100, time.Minute), &recorder{}
			for _, s := range tt.steps {
				s(p, r)
			}
			assert.Equal(t, tt.want, r.edges)
		})
	}
}

// A full store drops its oldest half for a new one: the newest halves still
// meet.
func TestPendingDropsOldest(t *testing.T) {
	p, r := NewPending(3, time.Minute), &recorder{}
	named := Job{Class: "row", Queue: "rows"}
	p.Producer(t0, key(1, 2), key(1, 1), named, r.emit) // and the execution it awaits: 2 halves
	p.Producer(t0.Add(time.Second), key(2, 2), key(2, 1), named, r.emit)
	assert.Equal(t, 3, p.Len())
	assert.Equal(t, int64(1), p.Dropped)
	p.Execution(t0.Add(2*time.Second), key(1, 1), Job{Class: "import"}, 1, nil, r.emit)
	p.Execution(t0.Add(2*time.Second), key(2, 1), Job{Class: "export"}, 1, nil, r.emit)
	assert.Equal(t, []Edge{{Parent: "export", Child: "row", Queue: "rows"}}, r.edges, "the first producer was dropped")
	assert.LessOrEqual(t, p.Len(), 3)
}

// The children waiting for one producer span are bounded too.
func TestPendingBoundsChildren(t *testing.T) {
	p, r := NewPending(10*maxChildren, time.Minute), &recorder{}
	pp := key(1, 2)
	p.Producer(t0, pp, key(1, 1), Job{System: "river"}, r.emit)
	for i := range maxChildren + 10 {
		p.Execution(t0, SpanKey{Trace: [16]byte{2, byte(i), byte(i >> 8)}}, Job{Class: "row"}, 1, []SpanKey{pp}, r.emit)
	}
	assert.Equal(t, int64(10), p.Dropped)
	p.Execution(t0, key(1, 1), Job{Class: "import"}, 1, nil, r.emit)
	assert.Len(t, r.edges, maxChildren)
}

func TestPendingWants(t *testing.T) {
	p, r := NewPending(100, time.Minute), &recorder{}
	parent, pp, river := key(1, 1), key(1, 2), key(2, 1)
	assert.False(t, p.Wants(parent, nil), "an empty store wants nothing")
	p.Producer(t0, pp, parent, Job{System: "river"}, r.emit)
	assert.True(t, p.Wants(parent, nil), "the execution around a producer span")
	assert.True(t, p.Wants(river, []SpanKey{key(9, 9), pp}), "a child of a pending producer")
	assert.False(t, p.Wants(key(3, 1), []SpanKey{key(3, 2)}), "any other span")
	p.Producer(t0, key(4, 2), key(4, 1), Job{Class: "row", Queue: "rows"}, r.emit)
	p.Execution(t0, key(4, 1), Job{Class: "import"}, 1, nil, r.emit)
	assert.False(t, p.Wants(key(5, 1), []SpanKey{key(4, 2)}), "the child of a producer that named it adds nothing")
}

func TestPendingExpires(t *testing.T) {
	p, r := NewPending(100, time.Minute), &recorder{}
	parent, pp := key(1, 1), key(1, 2)
	p.Producer(t0, pp, parent, Job{Class: "row", Queue: "rows"}, r.emit)
	assert.Equal(t, 2, p.Len(), "the producer and the execution it waits for")
	p.Execution(t0.Add(time.Minute), parent, Job{Class: "import"}, 1, nil, r.emit)
	assert.Empty(t, r.edges, "the producer expired before its parent came")
	p.Expire(t0.Add(3 * time.Minute))
	assert.Zero(t, p.Len())
}

// With a million distinct classes, the pending halves stay within
// max_pending (the oldest are dropped and counted) and the edges within
// max_edges (the least recently seen are evicted and counted).
func TestBoundsUnderMillionClasses(t *testing.T) {
	const n = 1_000_000
	p := NewPending(1000, time.Second)
	edges := NewEdges(500, time.Hour)
	var now time.Time
	emit := func(e Edge, tr [16]byte) { edges.Add(now, e, tr) }
	var refs [1]SpanKey
	for i := range n {
		// One job a millisecond, each a new class: 3000 halves would wait
		// at once without the bound.
		now = t0.Add(time.Duration(i) * time.Millisecond)
		k := SpanKey{Span: [8]byte{byte(i), byte(i >> 8), byte(i >> 16), 1}}
		pk, ck := k, k
		pk.Span[3], ck.Span[3] = 2, 3
		class := strconv.Itoa(i)
		parent := Job{Class: "p" + class}
		// Fully matched edges: an execution, its producer, its child.
		p.Execution(now, k, parent, 1, nil, emit)
		p.Producer(now, pk, k, Job{Class: "c" + class}, emit)
		refs[0] = pk
		p.Execution(now, ck, Job{Class: "c" + class, Queue: "q"}, 1, refs[:], emit)
		if i%100_000 == 0 {
			assert.LessOrEqual(t, p.Len(), 1000)
			assert.LessOrEqual(t, edges.Len(), 500)
		}
	}
	assert.Positive(t, p.Dropped)
	assert.Equal(t, 500, edges.Len())
	assert.Positive(t, edges.Evicted)
	assert.Greater(t, edges.Evicted, int64(n/10), "the edges of the halves kept were counted")
	p.Expire(now.Add(time.Second))
	assert.Zero(t, p.Len())
	assert.Less(t, len(p.queue), 2*1000+64, "the expiry queue is compacted")
}

func TestEdgesLRUAndTTL(t *testing.T) {
	s := NewEdges(2, time.Hour)
	ab, bc, cd := Edge{Parent: "a", Child: "b"}, Edge{Parent: "b", Child: "c"}, Edge{Parent: "c", Child: "d"}
	s.Add(t0, ab, [16]byte{1})
	s.Add(t0.Add(time.Minute), bc, [16]byte{2})
	st := s.Add(t0.Add(2*time.Minute), ab, [16]byte{3})
	assert.Equal(t, int64(2), st.Count)
	assert.Equal(t, [][16]byte{{1}, {3}}, st.Traces)
	s.Add(t0.Add(3*time.Minute), cd, [16]byte{4})
	assert.Nil(t, s.Get(bc), "the least recently seen is evicted")
	assert.Equal(t, int64(1), s.Evicted)
	assert.False(t, s.Expire(t0.Add(time.Hour+time.Minute)))
	assert.True(t, s.Expire(t0.Add(time.Hour+2*time.Minute)), "ab was last seen at +2m")
	assert.Nil(t, s.Get(ab))
	assert.NotNil(t, s.Get(cd))
	assert.Equal(t, int64(1), s.Expired)
}

func TestEdgeMember(t *testing.T) {
	var w Watch
	for _, e := range []Edge{{}, {System: "river", Parent: "a\x00b", Child: "ünï", Queue: "q"}, {Parent: string(make([]byte, 300))}} {
		got, ok := decode(w.encode(e))
		assert.True(t, ok)
		assert.Equal(t, e, got)
	}
	for _, bad := range []string{"", "\x05ab", "\x00\x00\x00\x00extra"} {
		_, ok := decode(bad)
		assert.False(t, ok, "%q", bad)
	}
}
