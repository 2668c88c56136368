// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"
)

// TestRQDemo plays nine minutes of the demo as RQ 1.13 and accounts for
// every job: each is waiting, scheduled, started (running, or abandoned by
// the crashed workers until clean-up), or has finished or failed for good;
// the workers' counters add up to the executions.
func TestRQDemo(t *testing.T) {
	m, c := newMiniredis(t)
	sim, err := workload.NewRQ(c, workload.Demo(), 5)
	require.NoError(t, err)
	ctx := context.Background()
	var registeredAt90s int
	total := play(t, sim, m, 9*60, func(now time.Time) {
		if now.Sub(start) == 90*time.Second {
			registeredAt90s = int(c.SCard(ctx, "rq:workers").Val())
		}
	})

	var waiting, started, scheduled, failed, finished int64
	for _, key := range c.SMembers(ctx, "rq:queues").Val() {
		q := strings.TrimPrefix(key, "rq:queue:")
		waiting += c.LLen(ctx, key).Val()
		started += c.ZCard(ctx, "rq:wip:"+q).Val()
		scheduled += c.ZCard(ctx, "rq:scheduled:"+q).Val()
		failed += c.ZCard(ctx, "rq:failed:"+q).Val()
		finished += c.ZCard(ctx, "rq:finished:"+q).Val()
	}
	assert.EqualValues(t, total.Enqueued+total.Scheduled, waiting+scheduled+started+int64(total.Succeeded+total.Died),
		"no job lost or duplicated")
	assert.EqualValues(t, total.Died, failed, "every final failure is in a failed registry")
	assert.Positive(t, finished)
	assert.Positive(t, total.Retried)
	assert.Positive(t, total.Requeued, "due retries and enqueue_in jobs moved by the scheduler")

	var successful, failedRuns int64
	gone := 0
	for _, key := range c.SMembers(ctx, "rq:workers").Val() {
		h := c.HGetAll(ctx, key).Val()
		if len(h) == 0 {
			gone++ // crashed: the hash expired, the registry entry stays
			continue
		}
		_, err := time.Parse("2006-01-02T15:04:05.000000Z", h["last_heartbeat"])
		require.NoError(t, err, "utcformat: %q", h["last_heartbeat"])
		successful += atoi(h["successful_job_count"])
		failedRuns += atoi(h["failed_job_count"])
		assert.Contains(t, []string{"idle", "busy"}, h["state"])
		if h["state"] == "busy" {
			job := c.HGetAll(ctx, "rq:job:"+h["current_job"]).Val()
			assert.Equal(t, "started", job["status"])
			assert.Contains(t, strings.Split(h["queues"], ","), job["origin"])
		}
	}
	assert.Equal(t, 10+10+5, registeredAt90s, "reports-1 shut down; batch-1 crashed but stays registered")
	assert.Equal(t, 5, gone, "batch-1's hashes expired (90 s busy, 480 s idle after their last beat)")
	assert.LessOrEqual(t, successful+failedRuns, total.StatProcessed, "live workers' counts (stopped and crashed ones took theirs)")
	assert.EqualValues(t, total.Succeeded+total.Failed, total.StatProcessed)

	_, err = sim.Stop(ctx, start.Add(9*time.Minute))
	require.NoError(t, err)
	assert.Len(t, c.SMembers(ctx, "rq:workers").Val(), 5,
		"stopped workers register their death; crashed ones stay until Worker.all() removes them")
}

func atoi(s string) int64 {
	var n int64
	_ = json.Unmarshal([]byte(s), &n)
	return n
}

// TestRQReadsSimulatedState plays 90 s of the demo (ending now) into a real
// redis-server and compares what the job_queue receiver reads with what
// RQ 1.13's own API (the rq reader's api_view.py) reports on it.
func TestRQReadsSimulatedState(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import rq").Run(); err != nil {
		redistest.Missing(t, "python3-rq not importable by /usr/bin/python3 (install: apt-get install -y python3-rq)")
	}
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	sim, err := workload.NewRQ(c, workload.Demo(), 11)
	require.NoError(t, err)
	begin := time.Now().Add(-89 * time.Second)
	for i := range 90 {
		_, err := sim.Step(context.Background(), begin.Add(time.Duration(i)*time.Second))
		require.NoError(t, err, "step %d", i)
	}

	cfg := jobqueuereceiver.NewDefaultConfig()
	cfg.System = "rq"
	cfg.Endpoint = srv.Addr()
	snapshotter, err := jobqueuereceiver.NewSnapshotter(context.Background(), cfg)
	require.NoError(t, err)
	defer snapshotter.Close()
	s, err := snapshotter.Snapshot(context.Background())
	require.NoError(t, err)
	require.Empty(t, s.Problems)
	assert.LessOrEqual(t, s.RoundTrips, int64(3))

	cmd := exec.Command("/usr/bin/python3", "../../../../receiver/jobqueuereceiver/internal/rq/python/api_view.py")
	cmd.Env = append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0")
	out, err := cmd.Output()
	require.NoError(t, err)
	var view struct {
		Queues []struct {
			Name                                                             string
			Queued, Started, Deferred, Scheduled, Finished, Failed, Canceled int64
		}
		Workers []struct {
			Name, State string
		}
	}
	require.NoError(t, json.Unmarshal(out, &view), "%s", out)

	got := map[string]int64{}
	for _, j := range s.Jobs {
		got[j.Queue+"/"+j.State] = j.Count
	}
	require.Len(t, s.Queues, len(view.Queues))
	for _, q := range view.Queues {
		for state, n := range map[string]int64{"queued": q.Queued, "started": q.Started, "scheduled": q.Scheduled, "finished": q.Finished, "failed": q.Failed} {
			assert.Equal(t, n, got[q.Name+"/"+state], q.Name+"/"+state)
		}
	}
	// Simulated time runs faster than Redis's TTLs here: batch-1, crashed
	// at 60 s, still has most of its TTL and counts as live for both.
	assert.Len(t, s.Processes, len(view.Workers))
	assert.Zero(t, s.ProcessesStale)
	busy := 0
	for _, w := range view.Workers {
		if w.State == "busy" {
			busy++
		}
	}
	assert.EqualValues(t, busy, s.WorkersBusy())
	queues := map[string]jobqueuereceiver.Queue{}
	for _, q := range s.Queues {
		queues[q.Name] = q
	}
	assert.Greater(t, queues["reports"].Latency, 5*time.Minute, "reports falls behind")
	assert.Equal(t, int64(1), queues["default"].Stalled, "web-2's migration")
}
