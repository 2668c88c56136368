// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package scc finds the cycles of a directed graph of named nodes: its
// strongly connected components that hold a cycle (Tarjan's algorithm,
// iterative), each with one shortest loop through it. The job_graph
// connector raises job_cycle alerts from them and jobqctl graph draws them
// red.
package scc // import "github.com/otelcol-jobs/otelcol-jobs/internal/scc"

import (
	"slices"
	"strings"
)

// Arc is a From -> To arc of the graph (for job classes: the parent class
// enqueues the child class; the edges of several systems and queues between
// two classes are one arc).
type Arc struct{ From, To string }

// Cycle is one strongly connected component of the graph that holds a
// cycle: two classes or more, or one class that enqueues itself.
type Cycle struct {
	// Classes is the component, sorted: it identifies the cycle.
	Classes []string
	// Path is one shortest cycle through the component's first class, in
	// enqueue order, starting and ending with it: [A B C A].
	Path []string
}

// Cycles finds the strongly connected components of the graph of arcs
// (Tarjan's algorithm, iterative: a million classes need no deep stack) and
// returns those that hold a cycle, ordered by their first class.
func Cycles(arcs []Arc) []Cycle {
	ids := make(map[string]int32, len(arcs))
	var names []string
	id := func(s string) int32 {
		if i, ok := ids[s]; ok {
			return i
		}
		ids[s] = int32(len(names))
		names = append(names, s)
		return int32(len(names) - 1)
	}
	type pair struct{ from, to int32 }
	pairs := make([]pair, 0, len(arcs))
	selfLoop := make(map[int32]bool)
	for _, a := range arcs {
		p := pair{id(a.From), id(a.To)}
		pairs = append(pairs, p)
		if p.from == p.to {
			selfLoop[p.from] = true
		}
	}
	// Adjacency in compressed rows.
	n := len(names)
	start := make([]int32, n+1)
	for _, p := range pairs {
		start[p.from+1]++
	}
	for i := 1; i <= n; i++ {
		start[i] += start[i-1]
	}
	adj := make([]int32, len(pairs))
	fill := slices.Clone(start[:n])
	for _, p := range pairs {
		adj[fill[p.from]] = p.to
		fill[p.from]++
	}
	succ := func(v int32) []int32 { return adj[start[v]:start[v+1]] }
	for v := range int32(n) {
		slices.SortFunc(succ(v), func(a, b int32) int { return strings.Compare(names[a], names[b]) })
	}

	const unvisited = -1
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = unvisited
	}
	var stack []int32
	type frame struct{ v, next int32 }
	var calls []frame
	var next int32
	var out []Cycle
	comps := make([]int32, n) // component number + 1, once assigned
	prev := make([]int32, n)
	var ncomp int32
	for root := range int32(n) {
		if index[root] != unvisited {
			continue
		}
		calls = append(calls[:0], frame{root, 0})
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			if s := succ(f.v); int(f.next) < len(s) {
				w := s[f.next]
				f.next++
				if index[w] == unvisited {
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{w, 0})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] != index[v] {
				continue
			}
			ncomp++
			i := len(stack) - 1
			for stack[i] != v {
				i--
			}
			comp := stack[i:]
			stack = stack[:i]
			for _, w := range comp {
				onStack[w] = false
				comps[w] = ncomp
			}
			if len(comp) > 1 || selfLoop[v] {
				out = append(out, cycleOf(comp, ncomp, comps, prev, names, succ))
			}
		}
	}
	slices.SortFunc(out, func(a, b Cycle) int { return strings.Compare(a.Classes[0], b.Classes[0]) })
	return out
}

// cycleOf names component comp: its sorted classes, and the shortest cycle
// through the first (a breadth-first search within the component; the
// successors are in name order, so every replica finds the same path).
// comps holds each node's component number (c for comp), prev is scratch
// of one entry per node.
func cycleOf(comp []int32, c int32, comps, prev []int32, names []string, succ func(int32) []int32) Cycle {
	first := comp[0]
	for _, v := range comp {
		if names[v] < names[first] {
			first = v
		}
	}
	classes := make([]string, len(comp))
	for i, v := range comp {
		classes[i] = names[v]
		prev[v] = -1
	}
	slices.Sort(classes)

	queue := []int32{first}
	var last int32 = -1
	for len(queue) > 0 && last < 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range succ(v) {
			if comps[w] != c {
				continue
			}
			if w == first {
				last = v
				break
			}
			if prev[w] < 0 {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	path := []string{names[first]}
	for v := last; v != first; v = prev[v] {
		path = append(path, names[v])
	}
	path = append(path, names[first])
	slices.Reverse(path[1 : len(path)-1])
	return Cycle{Classes: classes, Path: path}
}
