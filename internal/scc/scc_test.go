// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package scc

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestCycles(t *testing.T) {
	tests := []struct {
		name string
		arcs []Arc
		want []Cycle
	}{
		{"no cycle: a fan-out and a chain", []Arc{{"import", "row"}, {"import", "notify"}, {"row", "index"}}, nil},
		{"length 1: a class that enqueues itself", []Arc{{"poll", "poll"}, {"a", "b"}},
			[]Cycle{{Classes: []string{"poll"}, Path: []string{"poll", "poll"}}}},
		{"length 2", []Arc{{"webhook", "retry"}, {"retry", "webhook"}, {"retry", "log"}},
			[]Cycle{{Classes: []string{"retry", "webhook"}, Path: []string{"retry", "webhook", "retry"}}}},
		{"length 5, arcs in any order", []Arc{{"e", "a"}, {"c", "d"}, {"a", "b"}, {"d", "e"}, {"b", "c"}, {"x", "a"}},
			[]Cycle{{Classes: []string{"a", "b", "c", "d", "e"}, Path: []string{"a", "b", "c", "d", "e", "a"}}}},
		{"two loops sharing a class: one component, the shortest loop through its first class",
			[]Arc{{"a", "b"}, {"b", "c"}, {"c", "a"}, {"b", "a"}, {"c", "d"}, {"d", "c"}},
			[]Cycle{{Classes: []string{"a", "b", "c", "d"}, Path: []string{"a", "b", "a"}}}},
		{"two separate cycles", []Arc{{"p", "q"}, {"q", "p"}, {"b", "b"}},
			[]Cycle{{Classes: []string{"b"}, Path: []string{"b", "b"}}, {Classes: []string{"p", "q"}, Path: []string{"p", "q", "p"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Cycles(tt.arcs))
		})
	}
}

// A cycle through a million classes and a chain of a million more: no
// recursion to overflow, one component found.
func TestCyclesMillionClasses(t *testing.T) {
	const n = 1_000_000
	arcs := make([]Arc, 0, 2*n)
	for i := range n {
		arcs = append(arcs, Arc{fmt.Sprintf("c%07d", i), fmt.Sprintf("c%07d", (i+1)%n)})
		arcs = append(arcs, Arc{fmt.Sprintf("x%07d", i), fmt.Sprintf("x%07d", i+1)})
	}
	got := Cycles(arcs)
	require.Len(t, got, 1)
	assert.Len(t, got[0].Classes, n)
	assert.Len(t, got[0].Path, n+1)
	assert.Equal(t, "c0000000", got[0].Path[0])
	assert.Equal(t, "c0000001", got[0].Path[1])
}
