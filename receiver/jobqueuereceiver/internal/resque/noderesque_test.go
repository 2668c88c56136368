// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// nodeView is what testdata/node/api_view.js prints: node-resque's own API
// at one instant.
type nodeView struct {
	NowMS       int64                      `json:"now_ms"`
	Queues      map[string]int64           `json:"queues"`
	FailedCount int64                      `json:"failed_count"`
	Stats       map[string]string          `json:"stats"`
	Workers     map[string]*string         `json:"workers"`
	WorkingOn   map[string]json.RawMessage `json:"working_on"`
	RunningMS   map[string]int64           `json:"running_ms"`
	Pings       map[string]int64           `json:"pings"`
}

// TestAgainstNodeResque produces state with the real node-resque 9.7.1
// library (Resque has no Debian package; node-resque writes Resque's layout):
// workers working on never-ending jobs, jobs that succeed and fail, waiting
// jobs, and a killed worker whose registration, ping and job stay behind. It
// freezes the workers and compares every figure of a snapshot with what
// node-resque's API reports at the same instant, with and without a
// namespace of its own.
func TestAgainstNodeResque(t *testing.T) {
	app := nodetest.Install(t, filepath.Join("testdata", "node"), "scenario.js", "api_view.js")
	for _, ns := range []string{"", "myapp"} {
		t.Run("namespace="+ns, func(t *testing.T) {
			t.Parallel()
			againstNodeResque(t, app, ns)
		})
	}
}

func againstNodeResque(t *testing.T, app, namespace string) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	key := func(k string) string {
		if namespace == "" {
			return DefaultNamespace + ":" + k
		}
		return namespace + ":" + k
	}
	env := append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()), "NAMESPACE="+namespace)
	start := func(mode string) *exec.Cmd {
		var out bytes.Buffer
		cmd := exec.Command("node", "scenario.js", mode)
		cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = app, env, &out, &out
		require.NoError(t, cmd.Start())
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("scenario.js %s output:\n%s", mode, out.String())
			}
		})
		return cmd
	}
	working := func() int {
		n := 0
		for _, id := range admin.SMembers(ctx, key("workers")).Val() {
			if admin.Exists(ctx, key("worker:"+id)).Val() == 1 {
				n++
			}
		}
		return n
	}

	// A worker dies while working: its job and registration stay, its
	// ping ages.
	doomed := start("doomed")
	snapshottest.WaitFor(t, "the doomed worker's job", func() bool { return working() == 1 })
	require.NoError(t, doomed.Process.Kill())
	doomedPing := key("worker:ping:" + hostname(t) + ":" + strconv.Itoa(doomed.Process.Pid))
	snapshottest.WaitFor(t, "the doomed worker's ping to be 4 s old", func() bool {
		var ping struct{ Time int64 }
		now, err := admin.Time(ctx).Result()
		return err == nil && json.Unmarshal([]byte(admin.Get(ctx, doomedPing).Val()), &ping) == nil &&
			now.Unix()-ping.Time >= 4
	})

	workers := start("workers")
	snapshottest.WaitFor(t, "jobs done, failed and working", func() bool {
		return admin.Get(ctx, key("stat:processed")).Val() == "5" && admin.LLen(ctx, key("failed")).Val() == 3 &&
			working() == 4 && admin.LLen(ctx, key("queue:critical")).Val() == 3
	})
	// Freeze the workers (pings, polls) so both views see the same data.
	require.NoError(t, workers.Process.Signal(syscall.SIGSTOP))
	defer func() { _ = workers.Process.Signal(syscall.SIGCONT) }()

	view := apiView(t, app, env)
	now := time.UnixMilli(view.NowMS)
	// The doomed worker's job started at least 4 s before the others, and
	// its ping is at least 4 s older than theirs: thresholds in between
	// make it, and only it, stalled and stale.
	stalledAfter := between(t, view.RunningMS)
	pingAges := map[string]int64{}
	for name, sec := range view.Pings {
		pingAges[name] = view.NowMS - sec*1000
	}
	staleAfter := between(t, pingAges)

	c, counter := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, Options{
		Namespace:    namespace,
		StalledAfter: stalledAfter,
		StaleAfter:   staleAfter,
		Now:          func() time.Time { return now },
	}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(2), counter.RoundTrips())
	assert.Empty(t, s.Problems)
	compareWithNodeResque(t, view, s, stalledAfter, staleAfter)

	// The scenario must have produced every kind of state, or the
	// comparison above proves little.
	assert.Equal(t, map[string]int64{"critical": 3, "default": 0, "mail": 0, "low": 4, "doomed": 0}, view.Queues)
	assert.Equal(t, int64(3), view.FailedCount)
	assert.Len(t, view.Workers, 5)
	assert.Len(t, s.Processes, 4)
	assert.Equal(t, 1, s.ProcessesStale, "the doomed worker")
	var stalled int64
	for _, q := range s.Queues {
		stalled += q.Stalled
	}
	assert.Equal(t, int64(1), stalled, "the doomed worker's job")
}

// apiView runs api_view.js.
func apiView(t *testing.T, app string, env []string) nodeView {
	t.Helper()
	cmd := exec.Command("node", "api_view.js")
	cmd.Dir, cmd.Env = app, env
	var view nodeView
	snapshottest.RunJSON(t, cmd, &view)
	return view
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	require.NoError(t, err)
	return h
}

// between returns the duration halfway between the largest of ms and the
// next one: above every value but the largest.
func between(t *testing.T, ms map[string]int64) time.Duration {
	t.Helper()
	vals := make([]int64, 0, len(ms))
	for _, v := range ms {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	require.GreaterOrEqual(t, len(vals), 2, "%v", ms)
	hi, next := vals[len(vals)-1], vals[len(vals)-2]
	require.Greater(t, hi-next, int64(1000), "the doomed worker stands apart: %v", ms)
	return time.Duration((hi+next)/2) * time.Millisecond
}

// compareWithNodeResque asserts that every figure of s equals node-resque's.
func compareWithNodeResque(t *testing.T, view nodeView, s *snapshot.Snapshot, stalledAfter, staleAfter time.Duration) {
	t.Helper()
	assert.Equal(t, time.UnixMilli(view.NowMS), s.Time)

	// Queues: Queue#queues and #length; running jobs from #allWorkingOn,
	// aged as #cleanOldWorkers ages them.
	type inflight struct {
		running, stalled int64
		maxAge           time.Duration
	}
	running := map[string]*inflight{}
	var workingCount int64
	for name, raw := range view.WorkingOn {
		var job struct{ Queue string }
		if json.Unmarshal(raw, &job) != nil { // "started": idle
			continue
		}
		workingCount++
		r := running[job.Queue]
		if r == nil {
			r = &inflight{}
			running[job.Queue] = r
		}
		age := time.Duration(view.RunningMS[name]) * time.Millisecond
		r.running++
		r.maxAge = max(r.maxAge, age)
		if age > stalledAfter {
			r.stalled++
		}
	}
	names := make([]string, 0, len(view.Queues))
	for q := range view.Queues {
		names = append(names, q)
	}
	sort.Strings(names)
	assert.Equal(t, len(names), s.QueuesDiscovered)
	require.Len(t, s.Queues, len(names))
	for i, name := range names {
		got := s.Queues[i]
		want := snapshot.Queue{Name: name, Size: view.Queues[name], LatencyUnknown: true}
		if r := running[name]; r != nil {
			want.Running, want.RunningMaxAge, want.Stalled = r.running, r.maxAge, r.stalled
		}
		assert.Equal(t, want, got, name)
	}

	// Failed jobs (#failedCount), working (#allWorkingOn), totals (#stats).
	assert.Equal(t, []snapshot.StateCount{
		{State: snapshot.StateFailed, Count: view.FailedCount},
		{State: StateWorking, Count: workingCount},
	}, s.Jobs)
	processed, err := strconv.ParseInt(view.Stats["processed"], 10, 64)
	require.NoError(t, err)
	failed, err := strconv.ParseInt(view.Stats["failed"], 10, 64)
	require.NoError(t, err)
	assert.Equal(t, []snapshot.Totals{{Processed: processed, Failed: failed}}, s.Totals)

	// Workers: #workers, busy from #allWorkingOn, heartbeats from the pings.
	var want []snapshot.Process
	stale := 0
	for name, queues := range view.Workers {
		// node-resque rounds a ping's time to the nearest second, so it may
		// lie up to 0.5 s ahead: an age below 0 is 0, as for every age.
		age := max(0, time.Duration(view.NowMS-view.Pings[name]*1000)*time.Millisecond)
		if age > staleAfter {
			stale++
			continue
		}
		host, pid, _ := strings.Cut(name, ":")
		pid, _, _ = strings.Cut(pid, "+")
		p := snapshot.Process{ID: name + ":" + *queues, Hostname: host, Concurrency: 1, HeartbeatAge: age, Queues: strings.Split(*queues, ",")}
		p.PID, err = strconv.ParseInt(pid, 10, 64)
		require.NoError(t, err)
		var job struct{ Queue string }
		if json.Unmarshal(view.WorkingOn[name], &job) == nil {
			p.Busy = 1
		}
		want = append(want, p)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	assert.Equal(t, want, s.Processes)
	assert.Equal(t, stale, s.ProcessesStale)
}
