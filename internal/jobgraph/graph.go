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

// findCycles fills Cycles with Tarjan's strongly connected components over
// the classes: one pass over the edges, whatever the number of cycles, and
// iterative, so that a chain of a million classes needs no deep stack.
func (g *Graph) findCycles() {
	index := make(map[string]int, len(g.Classes))
	for i, c := range g.Classes {
		index[c] = i
	}
	n := len(g.Classes)
	out := make([][]int, n)
	selfLoop := make([]bool, n)
	for _, e := range g.Edges {
		p, c := index[e.Parent], index[e.Child]
		out[p] = append(out[p], c)
		selfLoop[p] = selfLoop[p] || p == c
	}

	const unvisited = -1
	order := make([]int, n) // discovery order
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range order {
		order[i] = unvisited
	}
	var stack []int // Tarjan's stack of open classes
	type frame struct{ v, next int }
	var path []frame // the depth-first path, with each class's next edge to follow
	seen := 0
	g.component = make(map[string]int)
	for root := range n {
		if order[root] != unvisited {
			continue
		}
		path = append(path, frame{v: root})
		order[root], low[root] = seen, seen
		seen++
		stack = append(stack, root)
		onStack[root] = true
		for len(path) > 0 {
			f := &path[len(path)-1]
			v := f.v
			if f.next < len(out[v]) {
				w := out[v][f.next]
				f.next++
				switch {
				case order[w] == unvisited:
					order[w], low[w] = seen, seen
					seen++
					stack = append(stack, w)
					onStack[w] = true
					path = append(path, frame{v: w})
				case onStack[w]:
					low[v] = min(low[v], order[w])
				}
				continue
			}
			// Every edge of v followed: close v, and hand its low link to its
			// parent on the path.
			path = path[:len(path)-1]
			if len(path) > 0 {
				parent := path[len(path)-1].v
				low[parent] = min(low[parent], low[v])
			}
			if low[v] != order[v] {
				continue
			}
			var members []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				members = append(members, g.Classes[w])
				if w == v {
					break
				}
			}
			if len(members) > 1 || selfLoop[v] {
				slices.Sort(members)
				g.Cycles = append(g.Cycles, members)
			}
		}
	}
	slices.SortFunc(g.Cycles, func(a, b []string) int { return cmp.Compare(a[0], b[0]) })
	for i, members := range g.Cycles {
		for _, c := range members {
			g.component[c] = i
		}
	}
}
