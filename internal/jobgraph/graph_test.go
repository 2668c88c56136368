// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraph

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func edge(parent, child string, count float64) Edge {
	return Edge{Parent: parent, Child: child, System: "sidekiq", Queue: "default", Count: count}
}

// Cycles of length 1, 2 and 5 are found, each once, beside edges that are
// on no cycle: a diamond (two paths to one class is no loop), an edge into
// a cycle and one out of it.
func TestCycles(t *testing.T) {
	g := New([]Edge{
		edge("RetryJob", "RetryJob", 3),                                                     // length 1
		edge("WebhookJob", "WebhookRetryJob", 10), edge("WebhookRetryJob", "WebhookJob", 9), // length 2
		edge("A", "B", 1), edge("B", "C", 1), edge("C", "D", 1), edge("D", "E", 1), edge("E", "A", 1), // length 5
		edge("ImportJob", "RowJob", 5000), edge("ImportJob", "AuditJob", 1), edge("RowJob", "IndexJob", 5000), edge("AuditJob", "IndexJob", 1),
		edge("ImportJob", "A", 2), edge("C", "MailJob", 4),
	})
	assert.Equal(t, [][]string{{"A", "B", "C", "D", "E"}, {"RetryJob"}, {"WebhookJob", "WebhookRetryJob"}}, g.Cycles)
	var red []string
	for _, e := range g.Edges {
		if g.InCycle(e) {
			red = append(red, e.Parent+">"+e.Child)
		}
	}
	assert.ElementsMatch(t, []string{"RetryJob>RetryJob", "WebhookJob>WebhookRetryJob", "WebhookRetryJob>WebhookJob",
		"A>B", "B>C", "C>D", "D>E", "E>A"}, red)
	assert.Equal(t, -1, g.CycleOf("ImportJob"))
	assert.Equal(t, 0, g.CycleOf("C"))
	assert.Equal(t, 5000.0, g.MaxCount())
}

// Two cycles joined by one edge are two components; joined both ways they
// are one.
func TestCyclesJoined(t *testing.T) {
	oneWay := []Edge{edge("A", "B", 1), edge("B", "A", 1), edge("C", "D", 1), edge("D", "C", 1), edge("B", "C", 1)}
	assert.Equal(t, [][]string{{"A", "B"}, {"C", "D"}}, New(oneWay).Cycles)
	g := New(append(oneWay, edge("D", "A", 1)))
	assert.Equal(t, [][]string{{"A", "B", "C", "D"}}, g.Cycles)
	assert.True(t, g.InCycle(edge("B", "C", 1)))
}

// Series that differ only in count are one edge; the same classes through
// another queue or system are another.
func TestNewAddsUpSeries(t *testing.T) {
	g := New([]Edge{
		edge("A", "B", 2), edge("A", "B", 3),
		{Parent: "A", Child: "B", System: "sidekiq", Queue: "low", Count: 1},
		{Parent: "A", Child: "B", System: "river", Queue: "default", Count: 7},
	})
	assert.Equal(t, []Edge{
		{Parent: "A", Child: "B", System: "river", Queue: "default", Count: 7},
		{Parent: "A", Child: "B", System: "sidekiq", Queue: "default", Count: 5},
		{Parent: "A", Child: "B", System: "sidekiq", Queue: "low", Count: 1},
	}, g.Edges)
	assert.Equal(t, []string{"A", "B"}, g.Classes)
	assert.Empty(t, g.Cycles)
}

// A loop of 100,000 classes is one cycle, and the chain left when one of
// its edges goes is none: the search is iterative, its depth costs no
// stack.
func TestCyclesDeep(t *testing.T) {
	const n = 100_000
	edges := make([]Edge, 0, n)
	for i := range n {
		edges = append(edges, edge(fmt.Sprint("C", i), fmt.Sprint("C", (i+1)%n), 1))
	}
	g := New(edges)
	if assert.Len(t, g.Cycles, 1) {
		assert.Len(t, g.Cycles[0], n)
	}
	g = New(edges[:n-1])
	assert.Empty(t, g.Cycles)
}

func TestWidth(t *testing.T) {
	assert.Equal(t, minWidth, Width(0, 100))
	assert.Equal(t, minWidth, Width(5, 0))
	assert.Equal(t, maxWidth, Width(100, 100))
	assert.InDelta(t, minWidth+(maxWidth-minWidth)/2, Width(9, 99), 1e-9, "log scale: 10 of 100 is half way")
	assert.Less(t, Width(10, 5000), Width(1000, 5000))
}
