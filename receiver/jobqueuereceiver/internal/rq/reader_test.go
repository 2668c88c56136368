// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

func fixedNow(opts Options) Options {
	opts.Now = func() time.Time { return testNow }
	return opts
}

func take(t *testing.T, srv *redistest.Server, opts Options) *snapshot.Snapshot {
	t.Helper()
	return snapshottest.Take(t, srv, NewReader, fixedNow(opts))
}

// TestSnapshotStates checks each registry against RQ's clean-up rule:
// started, finished and failed drop scores in [0, now] (now in whole
// seconds, inclusive) before counting; -1 (failure_ttl=-1) and future
// scores stay; deferred, scheduled and canceled are never cleaned, so a due
// scheduled job still counts.
func TestSnapshotStates(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t))
	now := float64(testNow.Unix())
	f.enqueue("default", f.ago(time.Minute), f.ago(time.Second))
	for _, score := range []float64{now + 90, now + 1, now, now - 100} {
		f.register("rq:wip:", "default", "started", score)
	}
	for _, score := range []float64{now + 500, now - 1, 0} {
		f.register("rq:finished:", "default", "finished", score)
	}
	for _, score := range []float64{now + 31536000, -1, now - 5} {
		f.register("rq:failed:", "default", "failed", score)
	}
	for _, score := range []float64{now + 3600, now - 60} {
		f.register("rq:scheduled:", "default", "scheduled", score)
	}
	f.register("rq:deferred:", "default", "deferred", now-600)
	f.register("rq:canceled:", "default", "canceled", now-600)

	s := take(t, srv, Options{})
	assert.Equal(t, map[string]int64{
		StateQueued: 2, StateStarted: 2, StateFinished: 1, StateFailed: 2,
		StateScheduled: 2, StateDeferred: 1, StateCanceled: 1,
	}, snapshottest.Jobs(s, "default"))
	assert.Equal(t, []snapshot.Queue{{Name: "default", Size: 2, Latency: time.Minute}}, s.Queues)
	assert.Empty(t, s.Problems)
}

// TestSnapshotWorkers covers every way a worker hash is judged: idle, busy
// (running age, stalled), suspended and shutting down (quiet), a TTL just
// under 60 s (a busy worker before its next beat: live), under 30 s
// (overdue: stale), no TTL, and a registry entry whose hash is gone.
func TestSnapshotWorkers(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c)
	f.enqueue("default", f.ago(time.Second))
	f.enqueue("low")

	f.worker(rqWorker{name: "idle", state: "idle", hostname: "web-1", pid: 11, queues: []string{"default", "low"},
		beat: f.ago(400 * time.Second), successful: 7, failed: 2, ttl: 80 * time.Second})
	f.worker(rqWorker{name: "busy-old", state: "busy", hostname: "web-1", pid: 12, queues: []string{"default"},
		beat: f.ago(29 * time.Second), successful: 1, job: "j-old", origin: "default", started: f.ago(10 * time.Minute),
		ttl: 59 * time.Second})
	f.worker(rqWorker{name: "busy-new", state: "busy", hostname: "web-2", pid: 13, queues: []string{"default"},
		beat: f.ago(time.Second), job: "j-new", origin: "default", started: f.ago(2 * time.Second), ttl: 89 * time.Second})
	f.worker(rqWorker{name: "busy-other", state: "busy", hostname: "web-2", pid: 14, queues: []string{"unlisted"},
		beat: f.ago(time.Second), job: "j-other", origin: "unlisted", started: f.ago(time.Hour), ttl: 89 * time.Second})
	f.worker(rqWorker{name: "suspended", state: "suspended", hostname: "web-3", pid: 15, queues: []string{"low"},
		beat: f.ago(100 * time.Second), ttl: 300 * time.Second})
	f.worker(rqWorker{name: "stopping", state: "idle", hostname: "web-3", pid: 16, queues: []string{"low"},
		beat: f.ago(time.Second), ttl: 400 * time.Second})
	require.NoError(t, c.HSet(ctx, "rq:worker:stopping", "shutdown_requested_date", utc(f.ago(time.Second))).Err())
	f.worker(rqWorker{name: "overdue", state: "busy", hostname: "web-4", pid: 17, queues: []string{"default"},
		beat: f.ago(61 * time.Second), successful: 100, failed: 50, job: "j-dead", origin: "default",
		started: f.ago(time.Hour), ttl: 29 * time.Second})
	f.worker(rqWorker{name: "forever", state: "idle", hostname: "web-5", pid: 18, queues: []string{"low"},
		beat: f.ago(time.Hour)})
	require.NoError(t, c.SAdd(ctx, "rq:workers", "rq:worker:gone").Err())

	s := take(t, srv, Options{StalledAfter: 5 * time.Minute})
	assert.Empty(t, s.Problems)
	assert.Equal(t, []snapshot.Process{
		{ID: "busy-new", Hostname: "web-2", PID: 13, Busy: 1, Concurrency: 1, HeartbeatAge: time.Second, Queues: []string{"default"}},
		{ID: "busy-old", Hostname: "web-1", PID: 12, Busy: 1, Concurrency: 1, HeartbeatAge: 29 * time.Second, Queues: []string{"default"}},
		{ID: "busy-other", Hostname: "web-2", PID: 14, Busy: 1, Concurrency: 1, HeartbeatAge: time.Second, Queues: []string{"unlisted"}},
		{ID: "forever", Hostname: "web-5", PID: 18, Concurrency: 1, HeartbeatAge: time.Hour, Queues: []string{"low"}},
		{ID: "idle", Hostname: "web-1", PID: 11, Concurrency: 1, HeartbeatAge: 400 * time.Second, Queues: []string{"default", "low"}},
		{ID: "stopping", Hostname: "web-3", PID: 16, Concurrency: 1, HeartbeatAge: time.Second, Quiet: true, Queues: []string{"low"}},
		{ID: "suspended", Hostname: "web-3", PID: 15, Concurrency: 1, HeartbeatAge: 100 * time.Second, Quiet: true, Queues: []string{"low"}},
	}, s.Processes)
	assert.Equal(t, 2, s.ProcessesStale, "overdue and gone")
	assert.Equal(t, []snapshot.Totals{{Processed: 7 + 2 + 1 + 100 + 50, Failed: 2 + 50}}, s.Totals,
		"the overdue worker's executions happened")
	assert.Equal(t, int64(3), s.WorkersBusy())
	assert.Equal(t, int64(7), s.WorkersCapacity())

	def := snapshottest.Queue(t, s, "default")
	assert.Equal(t, int64(2), def.Running, "the overdue worker's job is not counted")
	assert.Equal(t, 10*time.Minute, def.RunningMaxAge)
	assert.Equal(t, int64(1), def.Stalled)
	assert.Equal(t, snapshot.Queue{Name: "low"}, snapshottest.Queue(t, s, "low"))
	assert.Equal(t, int64(3), snapshottest.Jobs(s, "default")[StateStarted], "the wip entries, the overdue worker's included")
}

// TestSnapshotLatency reads the head job's enqueued_at in both formats RQ
// has written, and skips what it cannot read.
func TestSnapshotLatency(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c)
	f.enqueue("micro", f.ago(1500*time.Millisecond), f.ago(time.Second))
	old := f.enqueue("seconds", f.ago(time.Minute))
	require.NoError(t, c.HSet(ctx, "rq:job:"+old[0], "enqueued_at", f.ago(time.Minute).Format("2006-01-02T15:04:05Z")).Err())
	f.enqueue("future", f.now.Add(time.Minute))
	dangling := f.enqueue("dangling", f.ago(time.Hour), f.ago(time.Second))
	require.NoError(t, c.Del(ctx, "rq:job:"+dangling[0]).Err())
	bad := f.enqueue("bad", f.ago(time.Second))
	require.NoError(t, c.HSet(ctx, "rq:job:"+bad[0], "enqueued_at", "yesterday").Err())
	none := f.enqueue("none", f.ago(time.Second))
	require.NoError(t, c.HDel(ctx, "rq:job:"+none[0], "enqueued_at").Err())
	local := f.enqueue("offset", f.ago(time.Second))
	require.NoError(t, c.HSet(ctx, "rq:job:"+local[0], "enqueued_at", "2026-11-27T13:00:00+01:00").Err())

	s := take(t, srv, Options{})
	assert.Equal(t, 1500*time.Millisecond, snapshottest.Queue(t, s, "micro").Latency, "microseconds, head job")
	assert.Equal(t, time.Minute+123456*time.Microsecond, snapshottest.Queue(t, s, "seconds").Latency, "pre-1.x format without %f")
	assert.Zero(t, snapshottest.Queue(t, s, "future").Latency, "a job from the future has waited 0s")
	for _, q := range []string{"dangling", "bad", "none", "offset"} {
		assert.Zero(t, snapshottest.Queue(t, s, q).Latency, q)
	}
	assert.True(t, snapshottest.HasProblem(s, kindMissingJob, "rq:queue:dangling"), "%+v", s.Problems)
	assert.True(t, snapshottest.HasProblem(s, kindInvalidTimestamp, "rq:job:"+bad[0]))
	assert.True(t, snapshottest.HasProblem(s, kindMissingTimestamp, "rq:job:"+none[0]))
	assert.True(t, snapshottest.HasProblem(s, kindInvalidTimestamp, "rq:job:"+local[0]), "RQ writes UTC with a literal Z only")
	assert.Len(t, s.Problems, 4)
}

func TestSnapshotSelection(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t))
	for _, q := range []string{"critical", "default", "low", "tmp_1", "tmp_2"} {
		f.enqueue(q, f.ago(time.Second))
	}
	s := take(t, srv, Options{Selection: snapshot.Selection{
		Exclude: []*regexp.Regexp{regexp.MustCompile(`^tmp_`)},
		Max:     2,
	}})
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, 1, s.QueuesDropped, "low passed the filters but is beyond max")
	require.Len(t, s.Queues, 2)
	assert.Equal(t, "critical", s.Queues[0].Name)
	assert.Equal(t, "default", s.Queues[1].Name)
	assert.Len(t, s.Jobs, 2*len(registries)+2, "states of the reported queues only")
}
