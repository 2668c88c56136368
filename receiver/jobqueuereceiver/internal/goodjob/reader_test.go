// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goodjob

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// goodJobScopes are GoodJob::Job's state scopes (app/models/good_job/job.rb)
// as the SQL ActiveRecord generates for them, $1 standing for
// Time.current; JobsFilter#states counts each of them.
var goodJobScopes = map[string]string{
	StateScheduled: `finished_at IS NULL AND scheduled_at > $1 AND ((serialized_params->>'executions'))::integer < 2`,
	StateRetried:   `finished_at IS NULL AND scheduled_at > $1 AND ((serialized_params->>'executions'))::integer > 1`,
	StateQueued:    `performed_at IS NULL AND finished_at IS NULL AND scheduled_at <= $1`,
	StateRunning:   `performed_at IS NOT NULL AND finished_at IS NULL`,
	StateSucceeded: `finished_at IS NOT NULL AND error IS NULL`,
	StateDiscarded: `finished_at IS NOT NULL AND error IS NOT NULL`,
}

// goodJobCounts is the dashboard's job_status for one queue (JobsFilter
// with queue_name): each scope's count, succeeded the way succeeded_count
// computes it (all jobs minus the unfinished or errored ones).
func (f *fixture) goodJobCounts(queue string) map[string]int64 {
	f.tb.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	for state, where := range goodJobScopes {
		if state == StateSucceeded {
			continue
		}
		args := []any{queue}
		if strings.Contains(where, "$1") {
			where = strings.ReplaceAll(where, "$1", "$2")
			args = append(args, f.now)
		}
		var n int64
		require.NoError(f.tb, f.conn.QueryRow(ctx, `SELECT count(*) FROM good_jobs WHERE queue_name = $1 AND `+where, args...).Scan(&n))
		out[state] = n
	}
	var all, unfinishedOrErrored int64
	require.NoError(f.tb, f.conn.QueryRow(ctx, `SELECT count(*) FROM good_jobs WHERE queue_name = $1`, queue).Scan(&all))
	require.NoError(f.tb, f.conn.QueryRow(ctx, `SELECT count(*) FROM good_jobs WHERE queue_name = $1 AND (finished_at IS NULL OR error IS NOT NULL)`, queue).Scan(&unfinishedOrErrored))
	out[StateSucceeded] = max(all-unfinishedOrErrored, 0)
	return out
}

// goodJobActiveProcesses is GoodJob::Process.active.count, with
// joins_advisory_locks as GoodJob writes it.
func (f *fixture) goodJobActiveProcesses() int64 {
	f.tb.Helper()
	key := `('x' || substr(md5('good_job_processes' || '-' || "good_job_processes"."id"::text), 1, 16))::bit(64)::bigint`
	var n int64
	require.NoError(f.tb, f.conn.QueryRow(context.Background(), `SELECT count(*) FROM "good_job_processes"
		LEFT JOIN pg_locks ON pg_locks.locktype = 'advisory' AND pg_locks.objsubid = 1
		AND pg_locks.classid = substring((`+key+`)::bit(64) from 1 for 32)::bit(32)::int
		AND pg_locks.objid = substring((`+key+`)::bit(64) from 33 for 32)::bit(32)::int
		WHERE ("good_job_processes"."lock_type" = 0 AND "pg_locks"."locktype" IS NOT NULL)
		OR ("good_job_processes"."lock_type" IS NULL AND "good_job_processes"."updated_at" > $1)`,
		f.now.Add(-5*time.Minute)).Scan(&n))
	return n
}

// oldestQueued is the first row of the dashboard's queued filter
// (ordered by scheduled_at asc): its scheduled_at.
func (f *fixture) oldestQueued(queue string) *time.Time {
	f.tb.Helper()
	var at *time.Time
	require.NoError(f.tb, f.conn.QueryRow(context.Background(), `SELECT min(scheduled_at) FROM good_jobs WHERE queue_name = $2 AND `+
		goodJobScopes[StateQueued], f.now, queue).Scan(&at))
	return at
}

// scenario writes jobs of every state in three queues, four processes
// (two active: one advisory-locked, one by heartbeat) and two paused
// queues, one without jobs.
func scenario(f *fixture) (procA, procB string) {
	now := f.now
	procA = f.process(stateJSON("worker-1", 101, 204800, []map[string]any{schedulerStats("default", 5, 1)}, 100, 5), f.ago(20*time.Second), true)
	f.lockProcess(procA)
	procB = f.process(stateJSON("worker-2", 102, 0, []map[string]any{schedulerStats("mailers,low", 3, 1), schedulerStats("*", 2, 0)}, 7, 1),
		f.ago(2*time.Minute), false)
	f.process(stateJSON("worker-3", 103, 1000, nil, 0, 0), f.ago(10*time.Minute), false) // expired heartbeat
	f.process(stateJSON("worker-4", 104, 1000, nil, 0, 0), f.ago(10*time.Second), true)  // advisory, lock gone

	// default: two queued, one scheduled, one retried once (GoodJob
	// calls it scheduled: executions 1), one retried twice, one running for
	// 10 minutes, two succeeded, one discarded.
	f.enqueue("default", "HardJob", f.ago(2*time.Minute), f.ago(2*time.Minute))
	f.enqueue("default", "HardJob", f.ago(10*time.Second), f.ago(10*time.Second))
	f.enqueue("default", "LaterJob", f.ago(time.Minute), now.Add(time.Hour))
	f.enqueue("default", "FlakyJob", f.ago(time.Hour), f.ago(time.Hour)).perform(procA, f.ago(50*time.Minute)).
		retry(f.ago(49*time.Minute), now.Add(10*time.Minute), "Net::ReadTimeout", "timed out")
	f.enqueue("default", "FlakyJob", f.ago(time.Hour), f.ago(time.Hour)).
		perform(procA, f.ago(50*time.Minute)).retry(f.ago(49*time.Minute), f.ago(40*time.Minute), "Net::ReadTimeout", "timed out").
		perform(procA, f.ago(40*time.Minute)).retry(f.ago(39*time.Minute), now.Add(30*time.Minute), "Net::ReadTimeout", "timed out")
	f.enqueue("default", "HardJob", f.ago(11*time.Minute), f.ago(11*time.Minute)).perform(procA, f.ago(10*time.Minute))
	f.enqueue("default", "HardJob", f.ago(time.Hour), f.ago(time.Hour)).perform(procA, f.ago(59*time.Minute)).succeed(f.ago(58 * time.Minute))
	f.enqueue("default", "HardJob", f.ago(time.Hour), f.ago(time.Hour)).perform(procA, f.ago(59*time.Minute)).succeed(f.ago(58 * time.Minute))
	f.enqueue("default", "ImportJob", f.ago(time.Hour), f.ago(time.Hour)).perform(procA, f.ago(59*time.Minute)).
		discard(f.ago(58*time.Minute), "ActiveJob::DeserializationError", "Error while trying to deserialize arguments", 5)

	// mailers: one running for 30 s, one retried three times and due a
	// minute ago (queued again), one that ran out of retries.
	f.enqueue("mailers", "MailJob", f.ago(time.Minute), f.ago(time.Minute)).perform(procB, f.ago(30*time.Second))
	j := f.enqueue("mailers", "MailJob", f.ago(time.Hour), f.ago(time.Hour))
	for i := range 3 {
		retryAt := f.ago(time.Duration(40-10*i) * time.Minute)
		if i == 2 {
			retryAt = f.ago(time.Minute)
		}
		j.perform(procB, f.ago(time.Duration(50-10*i)*time.Minute)).retry(f.ago(time.Duration(49-10*i)*time.Minute), retryAt, "Net::SMTPServerBusy", "try later")
	}
	f.enqueue("mailers", "MailJob", f.ago(time.Hour), f.ago(time.Hour)).perform(procB, f.ago(59*time.Minute)).
		discard(f.ago(58*time.Minute), "Net::SMTPFatalError", "mailbox unavailable", 4)

	// low: history only.
	f.enqueue("low", "CleanupJob", f.ago(time.Hour), f.ago(time.Hour)).perform(procB, f.ago(59*time.Minute)).succeed(f.ago(58 * time.Minute))

	f.pause("mailers", "reports")
	return procA, procB
}

func (f *fixture) snapshot(opts Options) *snapshot.Snapshot {
	f.tb.Helper()
	c := f.client("postgres")
	if opts.Now == nil {
		opts.Now = func() time.Time { return f.now }
	}
	s, err := NewReader(c, opts).Snapshot(context.Background())
	require.NoError(f.tb, err)
	assert.Equal(f.tb, int64(1), c.Counter().RoundTrips(), "one round trip per snapshot")
	return s
}

// TestSnapshotMatchesGoodJob compares every figure with GoodJob's own way
// of counting it, and with the values the scenario implies.
func TestSnapshotMatchesGoodJob(t *testing.T) {
	f := newFixture(t)
	procA, procB := scenario(f)
	for _, estimateAbove := range []int64{0, 500_000} {
		s := f.snapshot(Options{StalledAfter: 5 * time.Minute, EstimateAbove: estimateAbove})

		assert.Equal(t, "good_job", s.System)
		assert.Equal(t, StateDiscarded, s.DeadState)
		assert.Equal(t, []string{"default", "low", "mailers", "reports"}, snapshottest.QueueNames(s))
		assert.Equal(t, 4, s.QueuesDiscovered)
		for _, queue := range []string{"default", "low", "mailers", "reports"} {
			want := f.goodJobCounts(queue)
			assert.Equal(t, want, snapshottest.Jobs(s, queue), "queue %s, estimate_above %d", queue, estimateAbove)
			q := snapshottest.Queue(t, s, queue)
			assert.Equal(t, want[StateQueued], q.Size, queue)
			assert.Equal(t, want[StateRunning], q.Running, queue)
			if at := f.oldestQueued(queue); at != nil {
				assert.Equal(t, f.now.Sub(*at), q.Latency, queue)
			} else {
				assert.Zero(t, q.Latency, queue)
			}
			assert.True(t, q.PausedKnown)
			assert.Equal(t, queue == "mailers" || queue == "reports", q.Paused, queue)
		}
		assert.Equal(t, map[string]int64{
			StateQueued: 2, StateScheduled: 2, StateRetried: 1, StateRunning: 1, StateSucceeded: 2, StateDiscarded: 1,
		}, snapshottest.Jobs(s, "default"), "the scenario's states")
		assert.Equal(t, map[string]int64{
			StateQueued: 1, StateScheduled: 0, StateRetried: 0, StateRunning: 1, StateSucceeded: 0, StateDiscarded: 1,
		}, snapshottest.Jobs(s, "mailers"))
		def, mailers := snapshottest.Queue(t, s, "default"), snapshottest.Queue(t, s, "mailers")
		assert.Equal(t, 2*time.Minute, def.Latency)
		assert.Equal(t, time.Minute, mailers.Latency, "a retry due a minute ago waits since then")
		assert.Equal(t, 10*time.Minute, def.RunningMaxAge)
		assert.Equal(t, int64(1), def.Stalled, "running 10 minutes > 5")
		assert.Equal(t, 30*time.Second, mailers.RunningMaxAge)
		assert.Zero(t, mailers.Stalled)

		require.Len(t, s.Processes, 2)
		assert.Equal(t, f.goodJobActiveProcesses(), int64(len(s.Processes)))
		assert.Equal(t, 2, s.ProcessesStale, "an expired heartbeat, an advisory process whose lock is gone")
		byID := map[string]snapshot.Process{}
		for _, p := range s.Processes {
			byID[p.ID] = p
		}
		assert.Equal(t, snapshot.Process{
			ID: procA, Hostname: "worker-1", PID: 101, Tag: "good_job", Busy: 1, Concurrency: 5,
			MemoryBytes: 204800 * 1024, MemoryKnown: true, HeartbeatAge: 20 * time.Second, Queues: []string{"default"},
		}, byID[procA])
		assert.Equal(t, snapshot.Process{
			ID: procB, Hostname: "worker-2", PID: 102, Tag: "good_job", Busy: 1, Concurrency: 5,
			HeartbeatAge: 2 * time.Minute, Queues: []string{"mailers,low", "*"},
		}, byID[procB], "memory 0 is unmeasured")
		assert.Equal(t, []snapshot.Totals{{Processed: 113, Failed: 6}}, s.Totals, "summed over the active processes")
		assert.Nil(t, s.ByClass, "off unless asked")
		assert.Empty(t, s.Problems)
	}
}

func TestSelection(t *testing.T) {
	f := newFixture(t)
	scenario(f)
	s := f.snapshot(Options{Selection: snapshot.Selection{
		Exclude: []*regexp.Regexp{regexp.MustCompile("^low$")},
		Max:     2,
	}})
	assert.Equal(t, []string{"default", "mailers"}, snapshottest.QueueNames(s))
	assert.Equal(t, 4, s.QueuesDiscovered)
	assert.Equal(t, 1, s.QueuesDropped, "reports cut by max")
	for _, j := range s.Jobs {
		assert.Contains(t, []string{"default", "mailers"}, j.Queue, "no counts of queues not kept")
	}
}

// TestEstimateAbove: a terminal state beyond estimate_above becomes one
// global planner estimate; one below it stays exact per queue. Once over,
// later snapshots send only the estimate, until it is back at or below
// estimate_above; the snapshot after that counts exactly again.
func TestEstimateAbove(t *testing.T) {
	f := newFixture(t)
	for range 20 {
		f.enqueue("default", "HardJob", f.ago(time.Hour), f.ago(time.Hour)).perform(newUUID(), f.ago(59*time.Minute)).succeed(f.ago(58 * time.Minute))
	}
	f.enqueue("low", "HardJob", f.ago(time.Hour), f.ago(time.Hour)).perform(newUUID(), f.ago(59*time.Minute)).
		discard(f.ago(58*time.Minute), "RuntimeError", "boom", 1)
	f.exec("ANALYZE good_jobs")

	c := f.client("postgres")
	r := NewReader(c, Options{EstimateAbove: 5, Now: func() time.Time { return f.now }})
	take := func() *snapshot.Snapshot {
		c.Counter().Reset()
		s, err := r.Snapshot(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(1), c.Counter().RoundTrips())
		return s
	}
	estimated := func(s *snapshot.Snapshot) []snapshot.StateCount {
		var out []snapshot.StateCount
		for _, j := range s.Jobs {
			if j.Estimated {
				out = append(out, j)
			}
		}
		return out
	}

	s := take()
	est := estimated(s)
	require.Len(t, est, 1)
	assert.Equal(t, StateSucceeded, est[0].State)
	assert.Empty(t, est[0].Queue, "one global figure")
	assert.GreaterOrEqual(t, est[0].Count, int64(6), "never below what the capped count proved")
	assert.InDelta(t, 20, est[0].Count, 2, "the planner's estimate after ANALYZE")
	assert.NotContains(t, snapshottest.Jobs(s, "default"), StateSucceeded)
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "low")[StateDiscarded])
	assert.Equal(t, int64(7), c.Counter().Commands(), "queues, pauses, processes, 2 counts, 2 estimates")

	s = take()
	assert.Equal(t, int64(6), c.Counter().Commands(), "succeeded is over: its count is not sent again")
	require.Len(t, estimated(s), 1)
	assert.InDelta(t, 20, estimated(s)[0].Count, 2)

	f.exec("DELETE FROM good_jobs WHERE finished_at IS NOT NULL AND error IS NULL AND ctid IN (SELECT ctid FROM good_jobs WHERE error IS NULL LIMIT 17)")
	f.exec("ANALYZE good_jobs")
	s = take()
	require.Len(t, estimated(s), 1, "still the estimate, now at or below estimate_above")
	assert.LessOrEqual(t, estimated(s)[0].Count, int64(5))
	s = take()
	assert.Empty(t, estimated(s), "counted exactly again")
	assert.Equal(t, int64(3), snapshottest.Jobs(s, "default")[StateSucceeded])

	s = f.snapshot(Options{EstimateAbove: 3})
	assert.Equal(t, int64(3), snapshottest.Jobs(s, "default")[StateSucceeded], "3 is not above 3: exact")
}

func TestByClass(t *testing.T) {
	f := newFixture(t)
	scenario(f)
	s := f.snapshot(Options{ByClassMaxEntries: 10})
	assert.Equal(t, []snapshot.ClassCount{
		{State: StateDiscarded, Class: "ImportJob", ErrorType: "ActiveJob::DeserializationError", Count: 1},
		{State: StateDiscarded, Class: "MailJob", ErrorType: "Net::SMTPFatalError", Count: 1},
		{State: StateRetried, Class: "FlakyJob", ErrorType: "Net::ReadTimeout", Count: 1},
	}, s.ByClass)

	for range 3 {
		f.enqueue("default", "BoomJob", f.ago(time.Hour), f.ago(time.Hour)).perform(newUUID(), f.ago(time.Minute)).
			discard(f.now, "RuntimeError", "boom", 1)
	}
	s = f.snapshot(Options{ByClassMaxEntries: 2})
	assert.Equal(t, []snapshot.ClassCount{
		{State: StateDiscarded, Class: "BoomJob", ErrorType: "RuntimeError", Count: 2},
		{State: StateRetried, Class: "FlakyJob", ErrorType: "Net::ReadTimeout", Count: 1},
	}, s.ByClass, "the newest 2 discarded only")
}

// TestBadData: values GoodJob would not write are skipped and reported,
// never fatal; names are bounded.
func TestBadData(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("q", 1000)
	f.enqueue(long, "HardJob", f.ago(time.Minute), f.ago(time.Minute))
	future := f.enqueue("default", "HardJob", f.ago(time.Minute), f.now.Add(time.Hour))
	f.exec(`UPDATE good_jobs SET serialized_params = jsonb_set(serialized_params, '{executions}', '"many"') WHERE id = $1`, future.id)
	missing := f.enqueue("default", "HardJob", f.ago(time.Minute), f.ago(time.Minute))
	f.exec(`UPDATE good_jobs SET scheduled_at = NULL WHERE id = $1`, missing.id)
	f.process(`{"hostname": 7, "pid": "x", "memory": [1], "schedulers": {"queues": "*"}}`, f.ago(time.Second), false)
	f.process(`null`, f.ago(time.Second), false)
	f.exec(`INSERT INTO good_job_settings (key, value, created_at, updated_at) VALUES ('pauses', '["default"]', now(), now())`)

	s := f.snapshot(Options{})
	require.Len(t, s.Queues, 2)
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
	}
	assert.Equal(t, map[string]int64{
		StateQueued: 0, StateScheduled: 0, StateRetried: 0, StateRunning: 0, StateSucceeded: 0, StateDiscarded: 0,
	}, snapshottest.Jobs(s, "default"), "as GoodJob: the future job without executions and the job without scheduled_at are in no state")
	assert.Equal(t, map[string]int{
		kindInvalidValue: 1, kindMissingTimestamp: 1, snapshot.KindNameTooLong: 1, kindInvalidJSON: 5,
	}, snapshottest.ProblemKinds(s), "%v", s.Problems)
	assert.True(t, snapshottest.HasProblem(s, kindInvalidValue, "good_jobs.queue_name=default"))
	assert.True(t, snapshottest.HasProblem(s, kindInvalidJSON, "good_job_settings.pauses"))
	require.Len(t, s.Processes, 2, "a process of the wrong shape is still a live process")
	assert.False(t, s.Queues[0].Paused)
}

// TestMissingTables: a database without GoodJob's tables (wrong system or
// schema) fails with the table named.
func TestMissingTables(t *testing.T) {
	f := newFixture(t)
	f.exec(`CREATE SCHEMA jobs`)
	c := f.client("postgres")
	_, err := NewReader(c, Options{Schema: "jobs"}).Snapshot(context.Background())
	require.ErrorContains(t, err, `relation "jobs.good_jobs" does not exist`)
	require.ErrorContains(t, err, "good_job: reading good_jobs per queue")
}
