// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package river

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// Job kinds of the scenario, each worked by a real River worker.
type (
	okArgs     struct{}
	flakyArgs  struct{} // fails: retryable until its attempts run out
	panicArgs  struct{}
	cancelArgs struct{}
	snoozeArgs struct{}
	longArgs   struct{} // runs until the test ends
)

func (okArgs) Kind() string     { return "ok" }
func (flakyArgs) Kind() string  { return "flaky" }
func (panicArgs) Kind() string  { return "boom" }
func (cancelArgs) Kind() string { return "cancel" }
func (snoozeArgs) Kind() string { return "snooze" }
func (longArgs) Kind() string   { return "long" }

var errDeclined = errors.New("card declined")

type okWorker struct{ river.WorkerDefaults[okArgs] }

func (okWorker) Work(context.Context, *river.Job[okArgs]) error { return nil }

type flakyWorker struct {
	river.WorkerDefaults[flakyArgs]
}

func (flakyWorker) Work(context.Context, *river.Job[flakyArgs]) error {
	return fmt.Errorf("charge card: %w", errDeclined)
}

type panicWorker struct {
	river.WorkerDefaults[panicArgs]
}

func (panicWorker) Work(context.Context, *river.Job[panicArgs]) error { panic("nil map") }

type cancelWorker struct {
	river.WorkerDefaults[cancelArgs]
}

func (cancelWorker) Work(context.Context, *river.Job[cancelArgs]) error {
	return river.JobCancel(errors.New("customer gone"))
}

type snoozeWorker struct {
	river.WorkerDefaults[snoozeArgs]
}

func (snoozeWorker) Work(context.Context, *river.Job[snoozeArgs]) error {
	return river.JobSnooze(time.Hour)
}

type longWorker struct {
	river.WorkerDefaults[longArgs]
	started chan struct{}
}

func (w longWorker) Work(ctx context.Context, _ *river.Job[longArgs]) error {
	w.started <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// Timeout: the long jobs run until the client stops.
func (longWorker) Timeout(*river.Job[longArgs]) time.Duration { return -1 }

// laterRetry puts every failed job an hour away, so that a retryable job
// stays retryable while the test looks (River's default policy retries the
// first failure within a second).
type laterRetry struct{}

func (laterRetry) NextRetry(*rivertype.JobRow) time.Time { return time.Now().Add(time.Hour) }

// scenario runs a real River client over several queues and leaves jobs in
// every state River has: completed, retryable, discarded (out of attempts,
// one by a panic), cancelled (JobCancel), scheduled (snoozed, and inserted
// for later), pending, running (two long jobs), available (a paused queue,
// and a queue no client works, which has no river_queue row).
func scenario(t *testing.T, pool *pgxpool.Pool) *river.Client[pgx.Tx] {
	t.Helper()
	ctx := context.Background()
	workers := river.NewWorkers()
	river.AddWorker(workers, &okWorker{})
	river.AddWorker(workers, &flakyWorker{})
	river.AddWorker(workers, &panicWorker{})
	river.AddWorker(workers, &cancelWorker{})
	river.AddWorker(workers, &snoozeWorker{})
	started := make(chan struct{}, 10)
	river.AddWorker(workers, &longWorker{started: started})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues: map[string]river.QueueConfig{
			"default":  {MaxWorkers: 10},
			"critical": {MaxWorkers: 5},
			"paused":   {MaxWorkers: 5},
		},
		Workers:           workers,
		RetryPolicy:       laterRetry{},
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.StopAndCancel(stopCtx)
	})

	paused, cancelSub := client.Subscribe(river.EventKindQueuePaused)
	defer cancelSub()
	require.NoError(t, client.QueuePause(ctx, "paused", nil))
	select {
	case <-paused:
	case <-time.After(time.Minute):
		require.Fail(t, "queue not paused")
	}

	insert := func(args river.JobArgs, n int, opts river.InsertOpts) {
		for range n {
			_, err := client.Insert(ctx, args, &opts)
			require.NoError(t, err)
		}
	}
	insert(okArgs{}, 5, river.InsertOpts{})
	insert(flakyArgs{}, 2, river.InsertOpts{MaxAttempts: 5})
	insert(flakyArgs{}, 1, river.InsertOpts{MaxAttempts: 1})
	insert(panicArgs{}, 1, river.InsertOpts{MaxAttempts: 1})
	insert(cancelArgs{}, 1, river.InsertOpts{})
	insert(snoozeArgs{}, 1, river.InsertOpts{})
	insert(okArgs{}, 1, river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
	insert(okArgs{}, 1, river.InsertOpts{Pending: true})
	insert(longArgs{}, 2, river.InsertOpts{})
	insert(okArgs{}, 3, river.InsertOpts{Queue: "critical"})
	insert(flakyArgs{}, 1, river.InsertOpts{Queue: "critical", MaxAttempts: 3})
	insert(flakyArgs{}, 2, river.InsertOpts{Queue: "critical", MaxAttempts: 1})
	insert(longArgs{}, 1, river.InsertOpts{Queue: "critical"})
	insert(okArgs{}, 3, river.InsertOpts{Queue: "paused"})
	insert(okArgs{}, 4, river.InsertOpts{Queue: "backlog"})
	for range 3 {
		<-started
	}
	// Settled: in the worked queues, nothing left available and only the
	// three long jobs running.
	snapshottest.WaitFor(t, "River to work the jobs", func() bool {
		res, err := client.JobList(ctx, river.NewJobListParams().Queues("default", "critical").
			States(rivertype.JobStateAvailable, rivertype.JobStateRunning).First(100))
		require.NoError(t, err)
		return len(res.Jobs) == 3
	})
	return client
}

// TestRiver compares every figure of a snapshot with River's own counts on
// the same database: JobList per queue and state, River UI's statements
// (JobCountByAllStates: SELECT state, count(*) GROUP BY state;
// JobCountByQueueAndState: available and running per queue; QueueList for
// pausing), and the jobs' own timestamps and errors for latency, running
// ages and the breakdown.
func TestRiver(t *testing.T) {
	srv, pool := migrated(t)
	client := scenario(t, pool)
	ctx := context.Background()
	c := newClient(t, srv, "postgres", "public")
	// Ten minutes on: the long jobs are stalled beyond 5m.
	now := time.Now().Add(10 * time.Minute)
	r := NewReader(c, Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: 100,
		Now: func() time.Time { return now }})
	c.Counter().Reset()
	s, err := r.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Counter().RoundTrips(), "one round trip")
	assert.Equal(t, "river", s.System)
	assert.Equal(t, StateDiscarded, s.DeadState)
	assert.True(t, s.ProcessesUnknown, "no process registry in open-source River")
	assert.Empty(t, s.Processes)
	assert.Empty(t, s.Totals)
	assert.Empty(t, s.Problems)

	queues := []string{"backlog", "critical", "default", "paused"}
	assert.Equal(t, queues, snapshottest.QueueNames(s))
	assert.Equal(t, 4, s.QueuesDiscovered)

	states := []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
		rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
	}
	exec := riverpgxv5.New(pool).GetExecutor()
	byState, err := exec.JobCountByAllStates(ctx, &riverdriver.JobCountByAllStatesParams{})
	require.NoError(t, err)
	sums := map[rivertype.JobState]int{}
	for _, q := range queues {
		jobs := snapshottest.Jobs(s, q)
		assert.Len(t, jobs, len(states), "every River state, per queue")
		for _, state := range states {
			res, err := client.JobList(ctx, river.NewJobListParams().Queues(q).States(state).First(10_000))
			require.NoError(t, err)
			assert.Equal(t, int64(len(res.Jobs)), jobs[string(state)], "%s/%s", q, state)
			sums[state] += int(jobs[string(state)])
		}
	}
	for _, state := range states {
		assert.Equal(t, byState[state], sums[state], "River UI's count of %s", state)
	}
	// The scenario's own expectations, so that the comparison is not
	// between two empty sets.
	assert.Equal(t, map[string]int64{"available": 0, "cancelled": 1, "completed": 5, "discarded": 2, "pending": 1,
		"retryable": 2, "running": 2, "scheduled": 2}, snapshottest.Jobs(s, "default"))
	assert.Equal(t, map[string]int64{"available": 0, "cancelled": 0, "completed": 3, "discarded": 2, "pending": 0,
		"retryable": 1, "running": 1, "scheduled": 0}, snapshottest.Jobs(s, "critical"))

	perQueue, err := exec.JobCountByQueueAndState(ctx, &riverdriver.JobCountByQueueAndStateParams{QueueNames: queues})
	require.NoError(t, err)
	require.Len(t, perQueue, len(queues))
	registry, err := client.QueueList(ctx, river.NewQueueListParams().First(100))
	require.NoError(t, err)
	paused := map[string]bool{}
	for _, q := range registry.Queues {
		paused[q.Name] = q.PausedAt != nil
	}
	assert.Equal(t, map[string]bool{"default": false, "critical": false, "paused": true}, paused)
	for _, counts := range perQueue {
		q := snapshottest.Queue(t, s, counts.Queue)
		assert.Equal(t, counts.CountAvailable, q.Size, counts.Queue)
		assert.Equal(t, counts.CountRunning, q.Running, counts.Queue)
		assert.Equal(t, paused[counts.Queue], q.Paused, counts.Queue)
		assert.True(t, q.PausedKnown)

		available, err := client.JobList(ctx, river.NewJobListParams().Queues(counts.Queue).States(rivertype.JobStateAvailable).First(100))
		require.NoError(t, err)
		var latency time.Duration
		for _, j := range available.Jobs {
			latency = max(latency, now.Sub(j.ScheduledAt))
		}
		assert.Equal(t, latency, q.Latency, "%s: the oldest available job's scheduled_at", counts.Queue)

		running, err := client.JobList(ctx, river.NewJobListParams().Queues(counts.Queue).States(rivertype.JobStateRunning).First(100))
		require.NoError(t, err)
		var age time.Duration
		for _, j := range running.Jobs {
			age = max(age, now.Sub(*j.AttemptedAt))
		}
		assert.Equal(t, age, q.RunningMaxAge, "%s: the oldest running job's attempted_at", counts.Queue)
		assert.Equal(t, int64(len(running.Jobs)), q.Stalled, "%s: every running job is 10m old", counts.Queue)
	}
	assert.Positive(t, snapshottest.Queue(t, s, "paused").Latency)
	assert.Positive(t, snapshottest.Queue(t, s, "default").RunningMaxAge)

	// The breakdown: the jobs River gave up on or will retry, by kind and
	// the last error's derived type.
	cells := snapshot.ClassCells{}
	for _, state := range []rivertype.JobState{rivertype.JobStateDiscarded, rivertype.JobStateRetryable} {
		res, err := client.JobList(ctx, river.NewJobListParams().States(state).First(100))
		require.NoError(t, err)
		for _, j := range res.Jobs {
			last := j.Errors[len(j.Errors)-1]
			typ, _, _ := strings.Cut(last.Error, ": ")
			if last.Trace != "" {
				typ = "panic"
			}
			cells.Add(string(state), j.Kind, typ)
		}
	}
	assert.Equal(t, cells.List(), s.ByClass)
	assert.Equal(t, []snapshot.ClassCount{
		{State: "discarded", Class: "boom", ErrorType: "panic", Count: 1},
		{State: "discarded", Class: "flaky", ErrorType: "charge card", Count: 3},
		{State: "retryable", Class: "flaky", ErrorType: "charge card", Count: 3},
	}, s.ByClass)

	// EstimateAbove 0 counts exactly too; a low one switches the finalized
	// states beyond it to one estimated figure each.
	exact, err := NewReader(c, Options{Now: r.opts.Now}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.Jobs, exact.Jobs)
	srv.Exec(database, "ANALYZE river_job")
	low, err := NewReader(c, Options{EstimateAbove: 4, Now: r.opts.Now}).Snapshot(ctx)
	require.NoError(t, err)
	global := map[string]snapshot.StateCount{}
	for _, j := range low.Jobs {
		if j.Queue == "" {
			global[j.State] = j
		}
		if slices.Contains([]string{"completed"}, j.State) {
			assert.Empty(t, j.Queue, "completed (8 jobs) is beyond 4: no per-queue figure")
		}
	}
	require.Contains(t, global, "completed")
	assert.True(t, global["completed"].Estimated)
	assert.Equal(t, int64(byState[rivertype.JobStateCompleted]), global["completed"].Count, "ANALYZE just ran: the planner knows")
	assert.NotContains(t, global, "discarded", "4 discarded jobs: still exact, per queue")
	assert.Equal(t, int64(2), snapshottest.Jobs(low, "critical")["discarded"])
}
