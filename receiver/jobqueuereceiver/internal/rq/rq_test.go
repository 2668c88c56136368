// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// python is Debian's interpreter, which has python3-rq; the python3 on PATH
// may be another one.
const python = "/usr/bin/python3"

const rqInstallHint = "apt-get install -y python3-rq"

// requireRQ skips (or fails, see redistest.RequireEnv) without Debian's
// python3-rq.
func requireRQ(tb testing.TB) {
	tb.Helper()
	if err := exec.Command(python, "-c", "import rq").Run(); err != nil {
		redistest.Missing(tb, "python3-rq not importable by "+python+" (install: "+rqInstallHint+")")
	}
}

// apiView is what python/api_view.py prints: RQ's own API, called after the
// reader's read (its counts clean registries, Worker.all() SREMs).
type apiView struct {
	RegisteredWorkers int `json:"registered_workers"`
	Queues            []struct {
		Name             string `json:"name"`
		Queued           int64  `json:"queued"`
		HeadEnqueuedAtUS *int64 `json:"head_enqueued_at_us"`
		Started          int64  `json:"started"`
		Deferred         int64  `json:"deferred"`
		Scheduled        int64  `json:"scheduled"`
		Finished         int64  `json:"finished"`
		Failed           int64  `json:"failed"`
		Canceled         int64  `json:"canceled"`
	} `json:"queues"`
	Workers []struct {
		Name              string   `json:"name"`
		Hostname          string   `json:"hostname"`
		PID               int64    `json:"pid"`
		State             string   `json:"state"`
		Queues            []string `json:"queues"`
		CurrentJob        *string  `json:"current_job"`
		JobOrigin         *string  `json:"job_origin"`
		JobStartedAtUS    *int64   `json:"job_started_at_us"`
		LastHeartbeatUS   int64    `json:"last_heartbeat_us"`
		BirthUS           int64    `json:"birth_us"`
		Successful        int64    `json:"successful"`
		Failed            int64    `json:"failed"`
		ShutdownRequested bool     `json:"shutdown_requested"`
	} `json:"workers"`
}

// rqEnv runs RQ's Python against one test Redis.
type rqEnv struct {
	t   *testing.T
	dir string
	env []string
}

func newRQEnv(t *testing.T, srv *redistest.Server) *rqEnv {
	dir, err := filepath.Abs("python")
	require.NoError(t, err)
	return &rqEnv{t: t, dir: dir, env: append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0", "PYTHONPATH="+dir)}
}

// run runs a script of python/ to its end and returns its output.
func (e *rqEnv) run(script string, args ...string) []byte {
	e.t.Helper()
	cmd := exec.Command(python, append([]string{filepath.Join(e.dir, script)}, args...)...)
	cmd.Env, cmd.Dir = e.env, e.dir
	return snapshottest.Run(e.t, cmd)
}

// worker runs `rq worker` with args; it is killed when the test ends
// (burst workers are waited for by the caller).
func (e *rqEnv) worker(args ...string) *exec.Cmd {
	e.t.Helper()
	cmd := exec.Command(python, append([]string{"-m", "rq.cli", "worker", "--url", envValue(e.env, "REDIS_URL")}, args...)...)
	cmd.Env, cmd.Dir = e.env, e.dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Never hang on the output of a process left behind.
	cmd.WaitDelay = 10 * time.Second
	require.NoError(e.t, cmd.Start())
	e.t.Cleanup(func() {
		// The work horse a worker forks runs in a session of its own
		// (os.setsid): kill it by pid, then the worker's group.
		for _, horse := range children(cmd.Process.Pid) {
			_ = syscall.Kill(horse, syscall.SIGKILL)
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if e.t.Failed() {
			e.t.Logf("rq worker %v output:\n%s", args, out.String())
		}
	})
	return cmd
}

// children returns the pids of pid's child processes.
func children(pid int) []int {
	p := strconv.Itoa(pid)
	raw, _ := os.ReadFile("/proc/" + p + "/task/" + p + "/children")
	var out []int
	for _, f := range strings.Fields(string(raw)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// TestAgainstRQ produces state with the real RQ 1.13 library (client
// enqueues, a burst worker that succeeds, fails, retries and finishes, a
// dependent job, a canceled one, scheduled ones, a long-running worker busy
// with a slow job, an idle one running the scheduler, a worker killed with
// -9, a registry entry whose worker is gone), takes a snapshot, then asks
// RQ's own API, and compares every figure.
func TestAgainstRQ(t *testing.T) {
	requireRQ(t)
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	e := newRQEnv(t, srv)

	// A worker that dies without deregistering: with --worker-ttl 1 it
	// beats every second with a TTL of 61 s, so 31 s after it is killed its
	// hash has less than 30 s left (overdue) while Worker.all() still lists
	// it. The rest of the scenario runs meanwhile.
	doomed := e.worker("--name", "doomed", "--worker-ttl", "1", "doomed")
	snapshottest.WaitFor(t, "the doomed worker's birth", func() bool { return admin.Exists(ctx, "rq:worker:doomed").Val() == 1 })
	require.NoError(t, syscall.Kill(-doomed.Process.Pid, syscall.SIGKILL))

	e.run("scenario.py", "seed")
	burst := e.worker("--burst", "--name", "burst", "default", "high")
	require.NoError(t, burst.Wait(), "a burst worker ends when its queues are empty")

	e.run("scenario.py", "slow")
	e.worker("--name", "busy", "slow")
	e.worker("--name", "idle", "--with-scheduler", "idle", "later")
	field := func(name, f string) string { return admin.HGet(ctx, "rq:worker:"+name, f).Val() }
	snapshottest.WaitFor(t, "a busy worker and an idle one that ran two jobs", func() bool {
		return field("busy", "state") == "busy" && field("idle", "state") == "idle" &&
			field("idle", "successful_job_count") == "1" && field("idle", "failed_job_count") == "1"
	})
	snapshottest.WaitFor(t, "the short-lived result to expire", func() bool {
		return admin.ZCount(ctx, "rq:finished:default", "0", "("+strconv.FormatInt(time.Now().Unix(), 10)).Val() > 0
	})
	snapshottest.WaitFor(t, "the doomed worker to be overdue", func() bool {
		ttl := admin.PTTL(ctx, "rq:worker:doomed").Val()
		return ttl >= 0 && ttl < overdueBelow
	})
	// Registered, hash gone: what a worker whose hash expired leaves.
	require.NoError(t, admin.SAdd(ctx, "rq:workers", "rq:worker:vanished").Err())

	// Freeze the live workers so that both views see the same data; their
	// hashes have at least 60 s left, the snapshot needs far less.
	for _, name := range []string{"busy", "idle"} {
		pid, err := strconv.Atoi(field(name, "pid"))
		require.NoError(t, err)
		require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	}

	now := time.Now()
	const stalledAfter = time.Millisecond // the slow job has run for seconds
	c, counter := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, Options{StalledAfter: stalledAfter, Now: func() time.Time { return now }}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), counter.RoundTrips())
	assert.Empty(t, s.Problems)
	expiredFinished := admin.ZCount(ctx, "rq:finished:default", "0", strconv.FormatInt(now.Unix(), 10)).Val()

	var view apiView
	out := e.run("api_view.py")
	require.NoError(t, json.Unmarshal(out, &view), "%s", out)
	compareWithRQ(t, view, s, now, stalledAfter, map[string]bool{"doomed": true})

	// The scenario must have produced every kind of state, or the
	// comparison proves little.
	assert.Equal(t, int64(1), expiredFinished, "an expired finished entry, which ZCARD alone would count")
	assert.Equal(t, map[string]int64{
		"default/queued": 0, "default/finished": 5, "default/deferred": 1,
		"high/failed": 3, "high/scheduled": 1,
		"held/queued": 2, "held/canceled": 1,
		"later/scheduled": 1,
		"slow/started":    1,
		"idle/finished":   1, "idle/failed": 1,
	}, nonZeroStates(s, "default/queued"))
	assert.Equal(t, 4, view.RegisteredWorkers, "busy, idle, doomed and vanished; the burst worker deregistered")
	assert.Len(t, view.Workers, 3, "Worker.all() drops vanished only")
	assert.Equal(t, 2, s.ProcessesStale, "vanished, and doomed whose heartbeat is overdue")
	require.Len(t, s.Processes, 2)
	assert.Equal(t, "busy", s.Processes[0].ID)
	assert.Equal(t, int64(1), s.Processes[0].Busy)
	assert.Equal(t, "idle", s.Processes[1].ID)
	assert.Positive(t, snapshottest.Queue(t, s, "held").Latency)
	assert.Equal(t, int64(1), snapshottest.Queue(t, s, "slow").Stalled)
	assert.Equal(t, []snapshot.Totals{{Processed: 2, Failed: 1}}, s.Totals,
		"the idle worker's two executions; the burst worker took its counts away")
}

// nonZeroStates returns s's per-queue states as "queue/state" counts, the
// zero ones left out except those named in keep.
func nonZeroStates(s *snapshot.Snapshot, keep ...string) map[string]int64 {
	out := map[string]int64{}
	for _, j := range s.Jobs {
		k := j.Queue + "/" + j.State
		if j.Count != 0 || slices.Contains(keep, k) {
			out[k] = j.Count
		}
	}
	return out
}

// compareWithRQ asserts that every figure of s equals RQ's own. overdue
// names the workers whose heartbeat is overdue: Worker.all() lists them,
// the reader counts them stale. Timestamps have microseconds on both sides,
// so ages are compared exactly.
func compareWithRQ(t *testing.T, view apiView, s *snapshot.Snapshot, now time.Time, stalledAfter time.Duration, overdue map[string]bool) {
	t.Helper()
	assert.Equal(t, now, s.Time)
	assert.Equal(t, len(view.Queues), s.QueuesDiscovered)
	require.Len(t, s.Queues, len(view.Queues))

	type inflight struct {
		running, stalled int64
		maxAge           time.Duration
	}
	running := map[string]*inflight{}
	var totals snapshot.Totals
	var live []snapshot.Process
	for _, w := range view.Workers {
		totals.Processed += w.Successful + w.Failed
		totals.Failed += w.Failed
		if overdue[w.Name] {
			continue
		}
		busy := int64(0)
		if w.State == "busy" {
			busy = 1
		}
		live = append(live, snapshot.Process{
			ID: w.Name, Hostname: w.Hostname, PID: w.PID, Busy: busy, Concurrency: 1,
			HeartbeatAge: now.Sub(time.UnixMicro(w.LastHeartbeatUS)),
			Quiet:        w.State == "suspended" || w.ShutdownRequested,
			Queues:       w.Queues,
		})
		if w.CurrentJob == nil {
			continue
		}
		r := running[*w.JobOrigin]
		if r == nil {
			r = &inflight{}
			running[*w.JobOrigin] = r
		}
		a := now.Sub(time.UnixMicro(*w.JobStartedAtUS))
		r.running++
		r.maxAge = max(r.maxAge, a)
		if a > stalledAfter {
			r.stalled++
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].ID < live[j].ID })
	assert.Equal(t, live, s.Processes)
	assert.Equal(t, []snapshot.Totals{totals}, s.Totals)
	assert.Equal(t, view.RegisteredWorkers-len(view.Workers)+len(overdue), s.ProcessesStale)

	got := map[string]int64{}
	for _, j := range s.Jobs {
		got[j.Queue+"/"+j.State] = j.Count
	}
	for i, want := range view.Queues { // both sorted by name
		q := s.Queues[i]
		assert.Equal(t, want.Name, q.Name)
		assert.Equal(t, want.Queued, q.Size, want.Name)
		var latency time.Duration
		if want.HeadEnqueuedAtUS != nil {
			latency = now.Sub(time.UnixMicro(*want.HeadEnqueuedAtUS))
		}
		assert.Equal(t, latency, q.Latency, want.Name)
		assert.False(t, q.PausedKnown, "RQ cannot pause a queue")
		r := running[want.Name]
		if r == nil {
			r = &inflight{}
		}
		assert.Equal(t, r.running, q.Running, want.Name)
		assert.Equal(t, r.maxAge, q.RunningMaxAge, want.Name)
		assert.Equal(t, r.stalled, q.Stalled, want.Name)
		for state, n := range map[string]int64{
			StateQueued: want.Queued, StateStarted: want.Started, StateDeferred: want.Deferred,
			StateScheduled: want.Scheduled, StateFinished: want.Finished, StateFailed: want.Failed,
			StateCanceled: want.Canceled,
		} {
			k := want.Name + "/" + state
			assert.Equal(t, n, got[k], k)
			delete(got, k)
		}
	}
	assert.Empty(t, got, "no state beyond RQ's")
}

// TestAbandonedJobAgainstRQ: a started job whose worker died (its wip
// entry expired) is no longer started for the reader nor for RQ, but RQ's
// StartedJobRegistry.count moves it to the failed registry as it counts,
// which the reader, never writing, does not anticipate: RQ's failed count
// is one higher, as the README says.
func TestAbandonedJobAgainstRQ(t *testing.T) {
	requireRQ(t)
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t))
	f.now = time.Now()
	now := float64(f.now.Unix())
	f.enqueue("default", f.ago(time.Second))
	f.register("rq:wip:", "default", "started", now-10)
	f.register("rq:failed:", "default", "failed", now+3600)
	f.register("rq:finished:", "default", "finished", now-10)

	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, Options{Now: func() time.Time { return f.now }}).Snapshot(context.Background())
	require.NoError(t, err)
	var view apiView
	out := newRQEnv(t, srv).run("api_view.py")
	require.NoError(t, json.Unmarshal(out, &view), "%s", out)
	require.Len(t, view.Queues, 1)
	got := snapshottest.Jobs(s, "default")
	assert.Equal(t, view.Queues[0].Started, got[StateStarted])
	assert.Zero(t, got[StateStarted])
	assert.Equal(t, view.Queues[0].Finished, got[StateFinished], "the expired finished entry, dropped by both")
	assert.Equal(t, int64(1), got[StateFailed])
	assert.Equal(t, got[StateFailed]+1, view.Queues[0].Failed, "RQ moved the abandoned job to failed as it counted")
}
