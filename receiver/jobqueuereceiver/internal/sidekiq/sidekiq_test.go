// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// apiView is what ruby/api_view.rb prints: Sidekiq's own API at one instant.
type apiView struct {
	NowNS int64 `json:"now_ns"`
	Stats struct {
		Processed     int64 `json:"processed"`
		Failed        int64 `json:"failed"`
		ScheduledSize int64 `json:"scheduled_size"`
		RetrySize     int64 `json:"retry_size"`
		DeadSize      int64 `json:"dead_size"`
		WorkersSize   int64 `json:"workers_size"`
		ProcessesSize int   `json:"processes_size"`
	} `json:"stats"`
	Queues []struct {
		Name    string  `json:"name"`
		Size    int64   `json:"size"`
		Latency float64 `json:"latency"`
		Paused  bool    `json:"paused"`
	} `json:"queues"`
	Processes []struct {
		Identity    string   `json:"identity"`
		Hostname    string   `json:"hostname"`
		PID         int64    `json:"pid"`
		Tag         string   `json:"tag"`
		Concurrency int64    `json:"concurrency"`
		Busy        int64    `json:"busy"`
		RSS         int64    `json:"rss"`
		Quiet       string   `json:"quiet"`
		Beat        float64  `json:"beat"`
		Queues      []string `json:"queues"`
	} `json:"processes"`
	Workers []struct {
		Process string `json:"process"`
		Queue   string `json:"queue"`
		RunAt   int64  `json:"run_at"`
	} `json:"workers"`
	ByClass []struct {
		State      string `json:"state"`
		Class      string `json:"class"`
		ErrorClass string `json:"error_class"`
		Count      int64  `json:"count"`
	} `json:"by_class"`
}

// TestAgainstSidekiq produces state with the real Sidekiq 6.4.1 library (a
// running server with busy, failing, retried and dead jobs, plus client
// pushes), freezes it, and compares every figure of a snapshot with what
// Sidekiq's API reports at the same instant. It runs without and with a
// redis-namespace prefix.
func TestAgainstSidekiq(t *testing.T) {
	redistest.RequireTool(t, "ruby", "apt-get install -y ruby-sidekiq")
	redistest.RequireTool(t, "sidekiq", "apt-get install -y ruby-sidekiq")
	t.Run("plain", func(t *testing.T) {
		t.Parallel()
		againstSidekiq(t, "")
	})
	t.Run("namespace", func(t *testing.T) {
		t.Parallel()
		if err := exec.Command("ruby", "-e", `require "redis-namespace"`).Run(); err != nil {
			redistest.Missing(t, "ruby gem redis-namespace not found (install: apt-get install -y ruby-redis-namespace)")
		}
		againstSidekiq(t, "myapp")
	})
}

func againstSidekiq(t *testing.T, namespace string) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	key := func(k string) string {
		if namespace == "" {
			return k
		}
		return namespace + ":" + k
	}
	env := append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0", "SIDEKIQ_NAMESPACE="+namespace)
	dir, err := filepath.Abs("ruby")
	require.NoError(t, err)

	var serverOut bytes.Buffer
	server := exec.Command("sidekiq", "-r", filepath.Join(dir, "worker.rb"), "-c", "6", "-q", "critical", "-q", "default", "-t", "1")
	server.Env, server.Stdout, server.Stderr = env, &serverOut, &serverOut
	require.NoError(t, server.Start())
	t.Cleanup(func() {
		_ = server.Process.Kill()
		_ = server.Wait()
		if t.Failed() {
			t.Logf("sidekiq output:\n%s", serverOut.String())
		}
	})
	phase := func(name string) {
		t.Helper()
		cmd := exec.Command("ruby", filepath.Join(dir, "scenario.rb"), name)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "scenario %s: %s", name, out)
	}
	zcard := func(k string) int64 { return admin.ZCard(ctx, key(k)).Val() }
	field := func(f string) string {
		ids := admin.SMembers(ctx, key("processes")).Val()
		if len(ids) != 1 {
			return ""
		}
		return admin.HGet(ctx, key(ids[0]), f).Val()
	}

	snapshottest.WaitFor(t, "the server's first heartbeat", func() bool { return field("info") != "" })
	phase("failures")
	// 3 FlakyJob + 1 with a display_class + 2 FragileJob in retry; 2 DoomedJob dead.
	snapshottest.WaitFor(t, "first failures", func() bool { return zcard("retry") == 6 && zcard("dead") == 2 })
	phase("retry")
	// The retries fail again: Flaky ones go back to retry, Fragile ones die.
	snapshottest.WaitFor(t, "real retries", func() bool {
		if zcard("retry") != 4 || zcard("dead") != 4 {
			return false
		}
		for _, e := range admin.ZRange(ctx, key("retry"), 0, -1).Val() {
			var j struct {
				RetryCount int `json:"retry_count"`
			}
			if json.Unmarshal([]byte(e), &j) != nil || j.RetryCount != 1 {
				return false
			}
		}
		return true
	})
	phase("waiting")
	snapshottest.WaitFor(t, "three slow jobs in the heartbeat", func() bool { return field("busy") == "3" })
	phase("quiet")
	snapshottest.WaitFor(t, "the process to report quiet", func() bool { return field("quiet") == "true" })
	// A registry entry whose process is gone, as a crashed process leaves.
	require.NoError(t, admin.SAdd(ctx, key("processes"), "crashed:1:000000000000").Err())

	// Freeze Sidekiq (heartbeat, poller, fetchers) so both views see the same data.
	require.NoError(t, server.Process.Signal(syscall.SIGSTOP))
	cmd := exec.Command("ruby", filepath.Join(dir, "api_view.rb"))
	cmd.Env = env
	var view apiView
	snapshottest.RunJSON(t, cmd, &view)

	now := time.Unix(0, view.NowNS)
	// Two of the three slow jobs started several seconds before the third:
	// a threshold between them makes some, not all, stalled.
	stalledAfter := time.Second
	if len(view.Workers) > 0 {
		oldest, newest := view.Workers[0].RunAt, view.Workers[0].RunAt
		for _, w := range view.Workers {
			oldest, newest = min(oldest, w.RunAt), max(newest, w.RunAt)
		}
		stalledAfter = now.Sub(time.Unix((oldest+newest)/2, 0))
	}
	c, counter := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, Options{
		Namespace:         namespace,
		StalledAfter:      stalledAfter,
		ByClassMaxEntries: 1000,
		Now:               func() time.Time { return now },
	}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), counter.RoundTrips())
	assert.Empty(t, s.Problems)
	compareWithSidekiq(t, view, s, now, stalledAfter)

	// The scenario must have produced every kind of state, or the comparison
	// above proves little.
	assert.Positive(t, view.Stats.RetrySize)
	assert.Positive(t, view.Stats.DeadSize)
	assert.Positive(t, view.Stats.ScheduledSize)
	assert.Positive(t, view.Stats.Failed)
	assert.Equal(t, int64(3), view.Stats.WorkersSize)
	require.Len(t, view.Processes, 1)
	assert.Equal(t, int64(server.Process.Pid), view.Processes[0].PID)
	assert.Equal(t, "true", view.Processes[0].Quiet)
	assert.Equal(t, 2, view.Stats.ProcessesSize, "the live process and the crashed entry")
	var stalled int64
	for _, q := range s.Queues {
		stalled += q.Stalled
	}
	assert.Equal(t, int64(2), stalled, "the two early slow jobs, not the late one")
	for _, name := range []string{"mailers", "reports", "low"} {
		assert.Positive(t, snapshottest.Queue(t, s, name).Latency, name)
	}
}

// compareWithSidekiq asserts that every figure of s equals Sidekiq's own.
// Ages are compared to 1µs: both sides subtract float64 epoch seconds
// (resolution ~0.24µs today) from the same instant.
func compareWithSidekiq(t *testing.T, view apiView, s *snapshot.Snapshot, now time.Time, stalledAfter time.Duration) {
	t.Helper()
	const floatRes = 1e-6

	assert.Equal(t, now, s.Time)
	assert.Equal(t, len(view.Queues), s.QueuesDiscovered)
	require.Len(t, s.Queues, len(view.Queues))
	type inflight struct {
		running, stalled int64
		maxAge           time.Duration
	}
	running := map[string]*inflight{}
	for _, w := range view.Workers {
		r := running[w.Queue]
		if r == nil {
			r = &inflight{}
			running[w.Queue] = r
		}
		a := now.Sub(time.Unix(w.RunAt, 0))
		r.running++
		r.maxAge = max(r.maxAge, a)
		if a > stalledAfter {
			r.stalled++
		}
	}
	for i, want := range view.Queues { // Queue.all is sorted by name, as are ours
		got := s.Queues[i]
		assert.Equal(t, want.Name, got.Name)
		assert.Equal(t, want.Size, got.Size, want.Name)
		assert.InDelta(t, want.Latency, got.Latency.Seconds(), floatRes, want.Name)
		assert.Equal(t, want.Paused, got.Paused, want.Name)
		assert.False(t, got.PausedKnown)
		r := running[want.Name]
		if r == nil {
			r = &inflight{}
		}
		assert.Equal(t, r.running, got.Running, want.Name)
		assert.Equal(t, r.maxAge, got.RunningMaxAge, want.Name)
		assert.Equal(t, r.stalled, got.Stalled, want.Name)
	}

	assert.Equal(t, []snapshot.StateCount{
		{State: snapshot.StateScheduled, Count: view.Stats.ScheduledSize},
		{State: snapshot.StateRetry, Count: view.Stats.RetrySize},
		{State: snapshot.StateDead, Count: view.Stats.DeadSize},
		{State: snapshot.StateBusy, Count: view.Stats.WorkersSize},
	}, s.Jobs)
	assert.Equal(t, []snapshot.Totals{{Processed: view.Stats.Processed, Failed: view.Stats.Failed}}, s.Totals)

	require.Len(t, s.Processes, len(view.Processes))
	sort.Slice(view.Processes, func(i, j int) bool { return view.Processes[i].Identity < view.Processes[j].Identity })
	for i, want := range view.Processes {
		got := s.Processes[i]
		assert.Equal(t, want.Identity, got.ID)
		assert.Equal(t, want.Hostname, got.Hostname)
		assert.Equal(t, want.PID, got.PID)
		assert.Equal(t, want.Tag, got.Tag)
		assert.Equal(t, want.Concurrency, got.Concurrency)
		assert.Equal(t, want.Busy, got.Busy)
		assert.Equal(t, want.RSS*1024, got.MemoryBytes)
		assert.Equal(t, want.RSS > 0, got.MemoryKnown)
		assert.Equal(t, want.Quiet == "true", got.Quiet)
		assert.InDelta(t, float64(now.UnixNano())/1e9-want.Beat, got.HeartbeatAge.Seconds(), floatRes)
		assert.Equal(t, want.Queues, got.Queues)
	}
	assert.Equal(t, view.Stats.ProcessesSize-len(view.Processes), s.ProcessesStale)

	wantCells := make([]snapshot.ClassCount, 0, len(view.ByClass))
	for _, c := range view.ByClass {
		wantCells = append(wantCells, snapshot.ClassCount{State: c.State, Class: c.Class, ErrorType: c.ErrorClass, Count: c.Count})
	}
	assert.ElementsMatch(t, wantCells, s.ByClass)
	assert.Contains(t, s.ByClass, snapshot.ClassCount{State: "retry", Class: "Reports::Nightly", ErrorType: "ArgumentError", Count: 1},
		"display_class names the class")
}
