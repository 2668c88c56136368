// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package jobgraph reads the job dependency graph that the job_graph
// connector exports (jobqueue.graph.enqueues: which job classes enqueue
// which) back from OTLP metrics or a Prometheus endpoint, finds its cycles
// and draws it as DOT, Mermaid, SVG or PNG. jobqctl graph is its command
// line; nothing here is linked into the collector.
//
// A class is a node; each series of the metric (parent class, child class,
// system, child's queue) is an edge, drawn wider the more jobs went along
// it. Edges inside a strongly connected component (a loop of enqueues, or a
// class that enqueues itself) are drawn red.
package jobgraph // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph"

import (
	"cmp"
	"slices"

	"github.com/otelcol-jobs/otelcol-jobs/internal/scc"
)

// Edge is one series of jobqueue.graph.enqueues: Count jobs of class Child
// enqueued into Queue of System by jobs of class Parent.
type Edge struct {
	Parent, Child string
	System, Queue string
	Count         float64
}

// key is an edge without its count.
type key struct{ parent, child, system, queue string }

func (e Edge) key() key { return key{e.Parent, e.Child, e.System, e.Queue} }

// Graph is a set of edges, sorted, one per series, with the classes that
// lie on a cycle.
type Graph struct {
	// Edges are sorted by parent, child, system and queue.
	Edges []Edge
	// Classes are every parent and child, sorted.
	Classes []string
	// Cycles are the strongly connected components that hold a cycle:
	// two or more classes that reach each other, or one class that
	// enqueues itself. Each is sorted; the list is sorted by its first
	// class.
	Cycles [][]string

	component map[string]int // class -> index in Cycles
}

// New builds the graph of edges; edges of the same series are added up.
func New(edges []Edge) *Graph {
	sum := make(map[key]float64, len(edges))
	for _, e := range edges {
		sum[e.key()] += e.Count
	}
	g := &Graph{Edges: make([]Edge, 0, len(sum))}
	classes := make(map[string]bool)
	for k, n := range sum {
		g.Edges = append(g.Edges, Edge{Parent: k.parent, Child: k.child, System: k.system, Queue: k.queue, Count: n})
		classes[k.parent], classes[k.child] = true, true
	}
	slices.SortFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(cmp.Compare(a.Parent, b.Parent), cmp.Compare(a.Child, b.Child),
			cmp.Compare(a.System, b.System), cmp.Compare(a.Queue, b.Queue))
	})
	for c := range classes {
		g.Classes = append(g.Classes, c)
	}
	slices.Sort(g.Classes)
	g.findCycles()
	return g
}

// InCycle reports whether e lies on a cycle: its parent and child are in
// the same cycle's component.
func (g *Graph) InCycle(e Edge) bool {
	i, ok := g.component[e.Parent]
	if !ok {
		return false
	}
	j, ok := g.component[e.Child]
	return ok && i == j
}

// CycleOf returns the index in Cycles of the component class is in, or -1.
func (g *Graph) CycleOf(class string) int {
	if i, ok := g.component[class]; ok {
		return i
	}
	return -1
}

// MaxCount is the largest edge count (0 without edges).
func (g *Graph) MaxCount() float64 {
	var m float64
	for _, e := range g.Edges {
		m = max(m, e.Count)
	}
	return m
}

// findCycles fills Cycles with the strongly connected components that hold
// a cycle (scc.Cycles, as the job_graph connector finds them).
func (g *Graph) findCycles() {
	arcs := make([]scc.Arc, len(g.Edges))
	for i, e := range g.Edges {
		arcs[i] = scc.Arc{From: e.Parent, To: e.Child}
	}
	g.component = make(map[string]int)
	for i, c := range scc.Cycles(arcs) {
		g.Cycles = append(g.Cycles, c.Classes)
		for _, class := range c.Classes {
			g.component[class] = i
		}
	}
}
