// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package oban

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPlansUseIndexes builds 1,000,000 jobs in 1,000 queues and asks the
// planner how it runs each statement of a first snapshot's batch: none
// reads oban_jobs sequentially, except that counting a terminal state up to
// EstimateAbove+1 rows may: with 900,000 completed jobs the planner rightly
// prefers reading the heap in order until the LIMIT is reached to fetching
// 500,001 rows through an index. The figures per queue (size, latency,
// running, stalled, non-terminal states) and the queue discovery are all
// index scans.
func TestPlansUseIndexes(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 jobs")
	}
	f := newFixture(t, "public")
	f.populate(1000, 1_000_000)
	opts := f.options(Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: 1000})
	r := NewReader(f.client("postgres"), opts)

	var first [len(terminalStates)]int32 // nothing known: every statement sent
	b := r.stmts.batch(ts(testNow.Add(-5*time.Minute)).Format("2006-01-02 15:04:05.999999"), first)
	require.Equal(t, 12, b.Len())
	for i, q := range b.QueuedQueries {
		if strings.HasPrefix(q.SQL, "EXPLAIN") {
			continue // planned, never run
		}
		var plan string
		require.NoError(t, f.conn.QueryRow(context.Background(), "EXPLAIN (FORMAT JSON) "+q.SQL, q.Arguments...).Scan(&plan), q.SQL)
		bounded, unbounded := seqScans(t, plan, "oban_jobs")
		assert.Zero(t, unbounded, "statement %d reads oban_jobs sequentially: %s\n%s", i, q.SQL, plan)
		if bounded > 0 {
			assert.Contains(t, q.SQL, "WHERE state = 'completed' LIMIT 500001", "only counting completed jobs may read the heap in order")
		}
	}

	// And the figures hold on that table: completed (900,000) estimated,
	// the rest exact, as Oban Met counts them.
	s, err := r.Snapshot(context.Background())
	require.NoError(t, err)
	require.Len(t, s.Queues, 1000)
	assert.Empty(t, s.Problems)
	oban := f.obanCounts()
	for _, j := range s.Jobs {
		assert.Equal(t, j.State == StateCompleted, j.Estimated, "%+v", j)
		if !j.Estimated {
			assert.Equal(t, oban[j.State+"/"+j.Queue], j.Count, "%+v", j)
		}
	}
}

// seqScans counts the Seq Scan nodes on table in an EXPLAIN (FORMAT JSON)
// plan: under a Limit node (bounded), or not.
func seqScans(t *testing.T, plan, table string) (bounded, unbounded int) {
	t.Helper()
	var root []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal([]byte(plan), &root))
	var walk func(p *planNode, limited bool)
	walk = func(p *planNode, limited bool) {
		switch {
		case p.NodeType == "Seq Scan" && p.Relation == table && limited:
			bounded++
		case p.NodeType == "Seq Scan" && p.Relation == table:
			unbounded++
		}
		for i := range p.Plans {
			walk(&p.Plans[i], limited || p.NodeType == "Limit")
		}
	}
	walk(&root[0].Plan, false)
	return bounded, unbounded
}

type planNode struct {
	NodeType string     `json:"Node Type"`
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}
