// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goodjob

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// populate writes jobs rows spread over queues as a busy GoodJob
// installation with preserve_job_records keeps them, oldest first (one a
// second): 95% history (succeeded, one in a hundred discarded with
// "RuntimeError: boom <n>"), then the newest 5% unfinished: one in fifty
// running (started up to 10 minutes ago, so some are stalled), one in ten
// retried (executions 2, due later), one in ten scheduled (executions 0,
// due later), the rest queued since their enqueue. Five processes hold
// their advisory locks. VACUUM ANALYZE leaves the table as autovacuum
// would.
func (f *fixture) populate(jobs, queues int) {
	f.tb.Helper()
	history := jobs * 95 / 100
	proc := f.process(stateJSON("worker-0", 100, 200000, []map[string]any{schedulerStats("*", 10, 3)}, 0, 0), f.ago(time.Second), true)
	f.lockProcess(proc)
	for i := 1; i < 5; i++ {
		id := f.process(stateJSON("worker-"+strconv.Itoa(i), 100+i, 200000, []map[string]any{schedulerStats("*", 10, 3)}, 0, 0), f.ago(time.Second), true)
		f.lockProcess(id)
	}
	n, h, q := strconv.Itoa(jobs), strconv.Itoa(history), strconv.Itoa(queues)
	state := `CASE WHEN i <= ` + h + ` AND i % 100 = 0 THEN 'discarded' WHEN i <= ` + h + ` THEN 'succeeded'
		WHEN i % 50 = 0 THEN 'running' WHEN i % 10 = 1 THEN 'retried' WHEN i % 10 = 2 THEN 'scheduled' ELSE 'queued' END`
	f.exec(`CREATE TEMP TABLE gen AS SELECT i, gen_random_uuid() AS id, 'queue_' || lpad((i % `+q+`)::text, 5, '0') AS queue,
		'Job' || (i % 20) AS class, `+state+` AS state,
		$1::timestamp - (`+n+` - i) * interval '1 second' AS created
		FROM generate_series(1, `+n+`) i`, sqlTime(f.now))
	f.exec(`INSERT INTO good_jobs (id, active_job_id, job_class, queue_name, priority, serialized_params, scheduled_at,
		performed_at, finished_at, error, error_event, executions_count, locked_by_id, locked_at, lock_type, created_at, updated_at)
		SELECT id, id, class, queue, 0,
			jsonb_build_object('job_class', class, 'job_id', id, 'provider_job_id', NULL, 'queue_name', queue, 'priority', NULL,
				'arguments', jsonb_build_array(i), 'executions', CASE state WHEN 'retried' THEN 2 WHEN 'scheduled' THEN 0 WHEN 'queued' THEN 0 ELSE 1 END,
				'exception_executions', '{}'::jsonb, 'locale', 'en', 'timezone', 'UTC',
				'enqueued_at', to_char(created, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'scheduled_at', to_char(created, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
			CASE WHEN state IN ('retried', 'scheduled') THEN $1::timestamp + interval '1 hour' ELSE created END,
			CASE WHEN state = 'running' THEN $1::timestamp - (i % 600) * interval '1 second'
				WHEN state IN ('succeeded', 'discarded') THEN created END,
			CASE WHEN state IN ('succeeded', 'discarded') THEN created + interval '1 second' END,
			CASE WHEN state IN ('discarded', 'retried') THEN 'RuntimeError: boom ' || i END,
			CASE state WHEN 'discarded' THEN 5 WHEN 'retried' THEN 3 END,
			CASE state WHEN 'retried' THEN 2 WHEN 'queued' THEN NULL WHEN 'scheduled' THEN NULL ELSE 1 END,
			CASE WHEN state = 'running' THEN $2::uuid END,
			CASE WHEN state = 'running' THEN $1::timestamp - (i % 600) * interval '1 second' END,
			CASE WHEN state = 'running' THEN 0 END,
			created, created
		FROM gen ORDER BY i`, sqlTime(f.now), proc)
	f.exec(`DROP TABLE gen`)
	f.exec(`VACUUM ANALYZE good_jobs`)
}

// planNode is a node of EXPLAIN (FORMAT JSON), with what the checks read.
type planNode struct {
	NodeType     string     `json:"Node Type"`
	RelationName string     `json:"Relation Name"`
	IndexName    string     `json:"Index Name"`
	ActualLoops  *float64   `json:"Actual Loops"`
	Plans        []planNode `json:"Plans"`
}

func (n planNode) walk(fn func(planNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// explain returns the plan of a statement the reader sends, with its
// arguments, through a client like the reader's (with analyze: as
// executed).
func (f *fixture) explain(q *pgx.QueuedQuery, analyze bool) planNode {
	f.tb.Helper()
	opts := "FORMAT JSON"
	if analyze {
		opts = "ANALYZE, FORMAT JSON"
	}
	rows, err := f.client("postgres").Query(context.Background(), "EXPLAIN ("+opts+") "+q.SQL, q.Arguments...)
	require.NoError(f.tb, err)
	var out string
	for rows.Next() {
		require.NoError(f.tb, rows.Scan(&out))
	}
	require.NoError(f.tb, rows.Err())
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(f.tb, json.Unmarshal([]byte(out), &plans))
	return plans[0].Plan
}

// TestLargeDatabase reads 1,000,000 jobs in 1,000 queues in one round
// trip, checks three queues against GoodJob's counts, and every
// statement's plan: no sequential scan of good_jobs, except where
// succeeded jobs are counted, which runs only up to estimate_above rows.
func TestLargeDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 1,000,000 jobs")
	}
	f := newFixture(t)
	f.populate(1_000_000, 1000)

	opts := Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: 1000, Now: func() time.Time { return f.now }}
	s := f.snapshot(opts)
	require.Len(t, s.Queues, 1000)
	var size, running, stalled int64
	for _, q := range s.Queues {
		size += q.Size
		running += q.Running
		stalled += q.Stalled
	}
	assert.Equal(t, int64(39_000), size)
	assert.Equal(t, int64(1_000), running)
	var wantStalled int64
	require.NoError(t, f.conn.QueryRow(context.Background(), `SELECT count(*) FROM good_jobs WHERE `+goodJobScopes[StateRunning]+
		` AND performed_at < $1`, f.ago(5*time.Minute)).Scan(&wantStalled))
	assert.Equal(t, wantStalled, stalled)
	for _, queue := range []string{"queue_00000", "queue_00001", "queue_00999"} {
		want := f.goodJobCounts(queue)
		got := snapshottest.Jobs(s, queue)
		delete(want, StateSucceeded) // estimated, globally
		assert.Equal(t, want, got, queue)
	}
	est := snapshottest.Jobs(s, "")
	assert.InEpsilon(t, 940_500, est[StateSucceeded], 0.05, "the planner's estimate")
	var discarded int64
	for _, j := range s.Jobs {
		if j.State == StateDiscarded {
			assert.False(t, j.Estimated)
			discarded += j.Count
		}
	}
	assert.Equal(t, int64(9_500), discarded, "below estimate_above: exact, per queue")
	assert.Equal(t, []snapshot.ClassCount{
		{State: StateDiscarded, Class: "Job0", ErrorType: "RuntimeError", Count: 1000},
		{State: StateRetried, Class: "Job1", ErrorType: "RuntimeError", Count: 500},
		{State: StateRetried, Class: "Job11", ErrorType: "RuntimeError", Count: 500},
	}, s.ByClass, "the newest 1,000 of each state")

	r := NewReader(nil, opts)
	for i, q := range r.batch(f.now).QueuedQueries {
		if strings.HasPrefix(q.SQL, "EXPLAIN") {
			continue
		}
		seqScans, indexes := 0, map[string]bool{}
		f.explain(q, false).walk(func(n planNode) {
			if n.NodeType == "Seq Scan" && n.RelationName == "good_jobs" {
				seqScans++
			}
			indexes[n.IndexName] = true
		})
		if q.SQL == r.stmts.queues {
			assert.True(t, indexes["index_good_jobs_on_queue_name"], "queues discovered by a loose index scan: %v", indexes)
			delete(indexes, "")
			delete(indexes, "index_good_jobs_on_queue_name")
			assert.NotEmpty(t, indexes, "the unfinished jobs read through a partial index")
		}
		if q.SQL == r.stmts.succeeded {
			// Most jobs succeeded: the planner reads the table; the
			// grouping branch never runs beyond estimate_above.
			executed := 0
			f.explain(q, true).walk(func(n planNode) {
				if n.RelationName == "good_jobs" && n.ActualLoops != nil && *n.ActualLoops > 0 {
					executed++
				}
			})
			assert.Equal(t, 1, executed, "only the capped count reads good_jobs")
			continue
		}
		assert.Zero(t, seqScans, "statement %d: %.200s", i, q.SQL)
	}
}
