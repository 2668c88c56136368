// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// planNode is a node of EXPLAIN (FORMAT JSON), with what the checks read.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	ActualLoops  *float64   `json:"Actual Loops"`
	ActualRows   float64    `json:"Actual Rows"`
	Plans        []planNode `json:"Plans"`
}

func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// explain returns the plan of a statement the reader sends (with analyze:
// as executed).
func explain(t *testing.T, f *fixture, s statement, analyze bool) planNode {
	t.Helper()
	opts := "FORMAT JSON"
	if analyze {
		opts = "ANALYZE, FORMAT JSON"
	}
	c := f.client("postgres")
	rows, err := c.Query(context.Background(), "EXPLAIN ("+opts+") "+s.sql, s.args...)
	require.NoError(t, err)
	var out string
	for rows.Next() {
		require.NoError(t, rows.Scan(&out))
	}
	require.NoError(t, rows.Err())
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plans))
	return plans[0].Plan
}

// TestLargeDatabase reads 1,000,000 jobs in 1,000 queues (909,900
// finished) in one round trip, checks a sample of queues against Mission
// Control's figures and every statement's plan: no sequential scan of
// solid_queue_jobs or solid_queue_ready_executions, except where finished
// jobs are counted per queue, a branch that does not run beyond
// estimate_above.
func TestLargeDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 jobs")
	}
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "public")
	f.populate(1_000_000, 1000)

	opts := Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: 1000}
	s := take(t, f, "postgres", opts)
	assert.Len(t, s.Queues, 1000)
	assert.Equal(t, 1000, s.QueuesDiscovered)
	var size, running, stalled int64
	for _, q := range s.Queues {
		size += q.Size
		running += q.Running
		stalled += q.Stalled
	}
	assert.Equal(t, int64(50_000), size)
	assert.Equal(t, int64(100), running)
	assert.Equal(t, int64(100), stalled, "claimed 10 minutes ago")
	assert.Equal(t, snapshottest.Queue(t, s, "queue_0009").RunningMaxAge, 10*time.Minute)
	global := snapshottest.Jobs(s, "")
	require.Contains(t, global, StateFinished)
	assert.InEpsilon(t, 909_900, global[StateFinished], 0.05, "the planner's estimate")
	for _, j := range s.Jobs {
		assert.Equal(t, j.State == StateFinished, j.Estimated, "%s/%s", j.State, j.Queue)
	}
	totals := map[string]int64{}
	for _, j := range s.Jobs {
		if j.Queue != "" {
			totals[j.State] += j.Count
		}
	}
	assert.Equal(t, map[string]int64{StateReady: 50_000, StateScheduled: 20_000, StateClaimed: 100, StateBlocked: 10_000, StateFailed: 10_000}, totals)
	assert.Len(t, s.Processes, 10)
	assert.Equal(t, int64(100), s.WorkersBusy())
	assert.Equal(t, []snapshot.ClassCount{}, nonFailedCells(s.ByClass))

	// A sample of queues against Mission Control's own statements.
	sample := take(t, f, "postgres", Options{
		Selection:     snapshot.Selection{Include: []*regexp.Regexp{regexp.MustCompile(`^queue_000[0-9]$`)}},
		StalledAfter:  opts.StalledAfter,
		EstimateAbove: opts.EstimateAbove,
	})
	require.Len(t, sample.Queues, 10)
	assertMatchesMissionControl(t, f, sample)

	r := NewReader(f.client("postgres"), opts)
	statements, _ := r.statements(f.now)
	for _, st := range statements {
		if strings.HasPrefix(st.sql, "EXPLAIN") {
			continue
		}
		finished := strings.Contains(st.sql, "finished_at IS NOT NULL")
		plan := explain(t, f, st, finished)
		var indexes []string
		plan.walk(func(n planNode) {
			if n.IndexName != "" {
				indexes = append(indexes, n.IndexName)
			}
			if n.NodeType != "Seq Scan" || (n.RelationName != tJobs && n.RelationName != tReady) {
				return
			}
			if finished {
				// The capped count stops at estimate_above+1 rows; the
				// per-queue count does not run beyond it.
				require.NotNil(t, n.ActualLoops)
				assert.LessOrEqual(t, n.ActualRows*(*n.ActualLoops), float64(opts.EstimateAbove+1), "%s", st.sql)
				return
			}
			assert.Failf(t, "sequential scan", "of %s in\n%s", n.RelationName, st.sql)
		})
		if st.sql == r.queuesSQL {
			assert.Contains(t, indexes, "index_solid_queue_jobs_for_filtering", "queue names by a loose index scan")
			assert.Contains(t, indexes, "index_solid_queue_poll_by_queue", "size and latency by the poll index")
		}
	}
}

// nonFailedCells returns the cells of a breakdown that are not failed
// Net::ReadTimeout ones (populate fails every job with it).
func nonFailedCells(cells []snapshot.ClassCount) []snapshot.ClassCount {
	out := []snapshot.ClassCount{}
	for _, c := range cells {
		if c.State != StateFailed || c.ErrorType != "Net::ReadTimeout" {
			out = append(out, c)
		}
	}
	return out
}
