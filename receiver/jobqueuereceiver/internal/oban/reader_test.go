// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package oban

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

const (
	runtimeError = "** (RuntimeError) boom\n    (app 0.1.0) lib/app/workers/mailer.ex:9: App.Workers.Mailer.perform/1"
	argError     = "** (ArgumentError) argument error\n    :erlang.binary_to_integer(\"x\")"
	performError = "** (Oban.PerformError) App.Workers.Sync failed with {:error, :timeout}"
)

// writeScenario writes three queues as Oban runs them: default with
// jobs in every state, mailers with priorities and a suspended job,
// archive with completed jobs only.
func writeScenario(f *fixture) {
	now := testNow
	at := func(d time.Duration) time.Time { return now.Add(-d) }

	// default: three available jobs, the oldest inserted 2 minutes ago.
	for _, d := range []time.Duration{2 * time.Minute, 30 * time.Second, 0} {
		f.now = at(d)
		f.insert("default", "App.Workers.Mailer", jobOpts{})
	}
	// Two executing, started 10 minutes and 30 seconds ago: inserted
	// before the available ones, so fetched first.
	f.now = at(20 * time.Minute)
	f.insert("default", "App.Workers.Sync", jobOpts{})
	f.insert("default", "App.Workers.Sync", jobOpts{})
	f.start("default", at(10*time.Minute))
	f.start("default", at(30*time.Second))
	// One failed and waiting for its retry, two discarded, four completed,
	// one cancelled, one scheduled for later.
	f.now = at(time.Hour)
	ids := make([]int64, 8)
	for i := range ids {
		ids[i] = f.insert("default", "App.Workers.Mailer", jobOpts{maxAttempts: 1})
	}
	for i, id := range ids {
		require.Equal(f.tb, id, f.start("default", at(time.Hour-time.Duration(i)*time.Second)))
	}
	f.fail(ids[0], at(50*time.Minute), 2*time.Hour, runtimeError)
	f.discard(ids[1], at(40*time.Minute), argError)
	f.discard(ids[2], at(39*time.Minute), performError)
	for _, id := range ids[3:7] {
		f.complete(id, at(30*time.Minute))
	}
	f.cancel(ids[7], at(20*time.Minute))
	f.insert("default", "App.Workers.Digest", jobOpts{scheduledAt: now.Add(time.Hour)})

	// mailers: an available job at priority 3 due 5 minutes ago (scheduled,
	// then staged), one at priority 0 inserted a minute ago, one suspended.
	f.now = at(10 * time.Minute)
	f.insert("mailers", "App.Workers.Mailer", jobOpts{scheduledAt: at(5 * time.Minute), priority: 3})
	f.stage(at(4 * time.Minute))
	f.now = at(time.Minute)
	f.insert("mailers", "App.Workers.Mailer", jobOpts{})
	f.insert("mailers", "App.Workers.Mailer", jobOpts{state: StateSuspended})

	// archive: completed jobs only.
	f.now = at(2 * time.Hour)
	for range 2 {
		f.insert("archive", "App.Workers.Export", jobOpts{})
		f.complete(f.start("archive", at(2*time.Hour)), at(2*time.Hour))
	}
	f.now = now
}

func TestSnapshot(t *testing.T) {
	f := newFixture(t, "public")
	writeScenario(f)
	c := f.client("postgres")
	s, err := NewReader(c, f.options(Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Counter().RoundTrips())
	assert.Empty(t, s.Problems)

	assert.Equal(t, "oban", s.System)
	assert.Equal(t, testNow, s.Time)
	assert.Equal(t, StateDiscarded, s.DeadState)
	assert.True(t, s.ProcessesUnknown, "open-source Oban keeps no process table")
	assert.Empty(t, s.Processes)
	assert.Empty(t, s.Totals, "Oban keeps no execution counters in its tables")
	assert.Nil(t, s.ByClass, "off unless asked for")
	assert.Equal(t, 3, s.QueuesDiscovered)
	assert.Equal(t, []snapshot.Queue{
		{Name: "archive"},
		{Name: "default", Size: 3, Latency: 2 * time.Minute, Running: 2, RunningMaxAge: 10 * time.Minute, Stalled: 1},
		{Name: "mailers", Size: 2, Latency: 5 * time.Minute},
	}, s.Queues, "paused unknown: pausing lives in the producers' memory (Oban Pro: oban_producers)")

	all := func(n map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for _, st := range []string{StateAvailable, StateSuspended, StateScheduled, StateExecuting, StateRetryable, StateCompleted, StateDiscarded, StateCancelled} {
			out[st] = n[st]
		}
		return out
	}
	assert.Equal(t, all(map[string]int64{StateCompleted: 2}), snapshottest.Jobs(s, "archive"))
	assert.Equal(t, all(map[string]int64{
		StateAvailable: 3, StateScheduled: 1, StateExecuting: 2, StateRetryable: 1,
		StateCompleted: 4, StateDiscarded: 2, StateCancelled: 1,
	}), snapshottest.Jobs(s, "default"))
	assert.Equal(t, all(map[string]int64{StateAvailable: 2, StateSuspended: 1}), snapshottest.Jobs(s, "mailers"))
	assertSameAsOban(t, f, s)
}

// assertSameAsOban compares every per-queue count of s with Oban Met's
// own count query on the same database.
func assertSameAsOban(t *testing.T, f *fixture, s *snapshot.Snapshot) {
	t.Helper()
	got := map[string]int64{}
	for _, j := range s.Jobs {
		require.NotEmpty(t, j.Queue, "every state counted per queue")
		if j.Count > 0 {
			got[j.State+"/"+j.Queue] = j.Count
		}
	}
	assert.Equal(t, f.obanCounts(), got)
}

func TestSnapshotByClass(t *testing.T) {
	f := newFixture(t, "public")
	writeScenario(f)
	// Lifeline rescues a job executing past rescue_after and out of
	// attempts: discarded without an error entry.
	f.now = testNow.Add(-3 * time.Hour)
	id := f.insert("default", "App.Workers.Stuck", jobOpts{maxAttempts: 1})
	f.start("default", f.now)
	f.exec("UPDATE "+f.table()+" SET state = 'discarded', discarded_at = $2 WHERE id = $1", id, ts(testNow.Add(-time.Hour)))
	f.now = testNow

	s, err := NewReader(f.client("postgres"), f.options(Options{ByClassMaxEntries: 100})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Empty(t, s.Problems)
	assert.Equal(t, []snapshot.ClassCount{
		{State: StateDiscarded, Class: "App.Workers.Mailer", ErrorType: "ArgumentError", Count: 1},
		{State: StateDiscarded, Class: "App.Workers.Mailer", ErrorType: "Oban.PerformError", Count: 1},
		{State: StateDiscarded, Class: "App.Workers.Stuck", ErrorType: "", Count: 1},
		{State: StateRetryable, Class: "App.Workers.Mailer", ErrorType: "RuntimeError", Count: 1},
	}, s.ByClass)

	// Bounded to the newest: of the discarded jobs, the latest discarded_at
	// (the ArgumentError 40 minutes ago, the PerformError 39).
	s, err = NewReader(f.client("postgres"), f.options(Options{ByClassMaxEntries: 1})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []snapshot.ClassCount{
		{State: StateDiscarded, Class: "App.Workers.Mailer", ErrorType: "Oban.PerformError", Count: 1},
		{State: StateRetryable, Class: "App.Workers.Mailer", ErrorType: "RuntimeError", Count: 1},
	}, s.ByClass)
}

func TestErrorType(t *testing.T) {
	for text, want := range map[string]string{
		runtimeError:                             "RuntimeError",
		performError:                             "Oban.PerformError",
		"** (exit) :killed":                      "exit",
		"** (throw) :oops":                       "throw",
		"** (EXIT from #PID<0.123.0>) :shutdown": "EXIT",
		"** (Oban.TimeoutError) App.W timed out after": "Oban.TimeoutError",
		"** (": "", "plain text": "", "** (no end\n)": "", "": "",
	} {
		assert.Equal(t, want, ErrorType(text), "%q", text)
	}
}

func TestSnapshotSelection(t *testing.T) {
	f := newFixture(t, "public")
	writeScenario(f)
	sel := snapshot.Selection{Exclude: []*regexp.Regexp{regexp.MustCompile(`^archive$`)}, Max: 1}
	s, err := NewReader(f.client("postgres"), f.options(Options{Selection: sel})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"default"}, snapshottest.QueueNames(s))
	assert.Equal(t, 3, s.QueuesDiscovered)
	assert.Equal(t, 1, s.QueuesDropped)
	for _, j := range s.Jobs {
		assert.Equal(t, "default", j.Queue)
	}
}

// TestSnapshotEstimates: a terminal state beyond EstimateAbove is the
// planner's estimate, once for all queues; the others stay exact per queue.
func TestSnapshotEstimates(t *testing.T) {
	f := newFixture(t, "public")
	writeScenario(f)
	f.exec("INSERT INTO " + f.table() + " (state, queue, worker, args, completed_at, attempted_at, attempt)" +
		" SELECT 'completed', 'bulk_' || (i % 10), 'App.Workers.Bulk', '{}', now(), now(), 1 FROM generate_series(1, 20000) i")
	f.exec("ANALYZE " + f.table())
	c := f.client("postgres")

	r := NewReader(c, f.options(Options{EstimateAbove: 1000}))
	s, err := r.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Counter().RoundTrips())
	assert.Len(t, s.Queues, 13)
	var completed []snapshot.StateCount
	for _, j := range s.Jobs {
		if j.State == StateCompleted {
			completed = append(completed, j)
		}
		assert.Equal(t, j.State == StateCompleted, j.Estimated, "%+v", j)
	}
	require.Len(t, completed, 1, "one figure for all queues")
	assert.Empty(t, completed[0].Queue)
	// The planner's figure, as Oban Met's oban_count_estimate reads it.
	var plan string
	require.NoError(t, f.conn.QueryRow(context.Background(),
		"EXPLAIN (FORMAT JSON) SELECT id FROM "+f.table()+" WHERE state = 'completed'").Scan(&plan))
	want, ok := pgread.PlanRows(plan)
	require.True(t, ok)
	assert.Equal(t, want, completed[0].Count)
	assert.InDelta(t, 20006, completed[0].Count, 200, "close to the truth")
	assert.Equal(t, int64(2), snapshottest.Jobs(s, "default")[StateDiscarded], "below the bound: exact")
	assert.Equal(t, int64(10), c.Counter().Commands())

	// 0: always exact, per queue.
	exact, err := NewReader(c, f.options(Options{})).Snapshot(context.Background())
	require.NoError(t, err)
	assertSameAsOban(t, f, exact)
	assert.Equal(t, int64(2000), snapshottest.Jobs(exact, "bulk_3")[StateCompleted])

	// Known to be beyond: only estimated, no completed row read, as Oban
	// Met decides from its previous check.
	c.Counter().Reset()
	s, err = r.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(9), c.Counter().Commands())
	assert.Contains(t, s.Jobs, snapshot.StateCount{State: StateCompleted, Count: want, Estimated: true})
	// Pruned below the bound: the next snapshot estimates it below, the one
	// after counts again.
	f.exec("DELETE FROM " + f.table() + " WHERE queue LIKE 'bulk_%'")
	f.exec("ANALYZE " + f.table())
	s, err = r.Snapshot(context.Background())
	require.NoError(t, err)
	assert.Contains(t, s.Jobs, snapshot.StateCount{State: StateCompleted, Count: 6, Estimated: true})
	s, err = r.Snapshot(context.Background())
	require.NoError(t, err)
	assertSameAsOban(t, f, s)

}

// TestSnapshotBeforeV14 reads an installation migrated to v13 (Oban before
// 2.21), whose oban_job_state has no suspended: the state is not reported.
func TestSnapshotBeforeV14(t *testing.T) {
	ddl := regexp.MustCompile(`\s*'suspended',`).ReplaceAllString(schemaSQL(t, "public"), "")
	f := newFixtureDDL(t, "public", ddl)
	f.insert("default", "App.Workers.Mailer", jobOpts{})
	s, err := NewReader(f.client("postgres"), f.options(Options{EstimateAbove: 10})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{
		StateAvailable: 1, StateScheduled: 0, StateExecuting: 0, StateRetryable: 0,
		StateCompleted: 0, StateDiscarded: 0, StateCancelled: 0,
	}, snapshottest.Jobs(s, "default"))
	assert.Empty(t, s.Problems)

	// A state a later Oban would add at the end of the enum is read by no
	// statement: not reported as 0, but as a problem.
	f.exec("ALTER TYPE oban_job_state ADD VALUE 'archived'")
	s, err = NewReader(f.client("postgres"), f.options(Options{})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.NotContains(t, snapshottest.Jobs(s, "default"), "archived")
	assert.True(t, snapshottest.HasProblem(s, kindUnknownState, "oban_job_state"))
}
