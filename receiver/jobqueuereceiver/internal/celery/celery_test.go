// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

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

// debianPython is the interpreter with Debian's python3-celery; the python3
// on PATH may be another one without it.
const debianPython = "/usr/bin/python3"

func requireCelery(tb testing.TB) {
	tb.Helper()
	if err := exec.Command(debianPython, "-c", "import celery").Run(); err != nil {
		redistest.Missing(tb, debianPython+" cannot import celery (install: apt-get install -y python3-celery)")
	}
}

// apiView is what python/api_view.py prints.
type apiView struct {
	Inspect *struct {
		Running   int              `json:"running"`
		Scheduled int              `json:"scheduled"`
		PerQueue  map[string]int64 `json:"per_queue"`
	} `json:"inspect"`
	Kombu struct {
		NowNS   int64            `json:"now_ns"`
		Sizes   map[string]int64 `json:"sizes"`
		Unacked []struct {
			Queue       string  `json:"queue"`
			DeliveredAt float64 `json:"delivered_at"`
		} `json:"unacked"`
		UnackedTotal int64 `json:"unacked_total"`
	} `json:"kombu"`
	Results map[string]int64 `json:"results"`
}

// TestAgainstCelery produces broker state with the real Celery 5.2 and kombu:
// messages of every priority in a queue nobody consumes, a prefork worker
// running acks_late tasks with more prefetched, retries held for their ETA,
// tasks that succeeded and failed. It asks the worker what it holds
// (app.control.inspect), kills it mid-task (kill -9: its messages stay
// unacked, its pidbox binding stays behind), and compares every figure of a
// snapshot with kombu's own sizes and routing of the unacked messages. It
// runs with kombu's defaults and the result backend in the broker's
// database (its states compared with get_task_meta's), and with other
// priority steps, separator and global key prefix.
func TestAgainstCelery(t *testing.T) {
	requireCelery(t)
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		againstCelery(t, "", Options{Results: 1000})
	})
	t.Run("options", func(t *testing.T) {
		t.Parallel()
		againstCelery(t, `{"priority_steps": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "sep": ":", "global_keyprefix": "myapp:"}`,
			Options{Prefix: "myapp:", PrioritySteps: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, Sep: ":"})
	})
}

func againstCelery(t *testing.T, kombuOptions string, opts Options) {
	srv := redistest.Start(t)
	env := append(os.Environ(), "CELERY_BROKER_URL=redis://"+srv.Addr()+"/0", "KOMBU_OPTIONS="+kombuOptions)
	if opts.Results > 0 {
		env = append(env, "CELERY_RESULT_BACKEND=redis://"+srv.Addr()+"/0")
	}
	dir, err := filepath.Abs("python")
	require.NoError(t, err)
	python := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(debianPython, args...)
		cmd.Dir, cmd.Env = dir, env
		return snapshottest.Run(t, cmd)
	}
	view := func(args ...string) apiView {
		t.Helper()
		var v apiView
		out := python(append([]string{"api_view.py"}, args...)...)
		require.NoError(t, json.Unmarshal(out, &v), "%s", out)
		return v
	}

	python("scenario.py", "queued")
	python("scenario.py", "work")
	var workerOut bytes.Buffer
	worker := exec.Command(debianPython, "-m", "celery", "-A", "tasks", "worker", "--pool", "prefork", "--concurrency", "2",
		"-Q", "celery,mail", "--without-heartbeat", "--without-mingle", "--without-gossip", "--hostname", "w1@localhost")
	worker.Dir, worker.Env, worker.Stdout, worker.Stderr = dir, env, &workerOut, &workerOut
	worker.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its pool processes die with it
	require.NoError(t, worker.Start())
	killed := false
	kill := func() {
		if !killed {
			killed = true
			_ = syscall.Kill(-worker.Process.Pid, syscall.SIGKILL)
			_ = worker.Wait()
		}
	}
	t.Cleanup(func() {
		kill()
		if t.Failed() {
			t.Logf("celery worker output:\n%s", workerOut.String())
		}
	})

	// Settled: two slow tasks running, two retries held; then kill -9 the
	// worker mid-task, so that nothing changes any more.
	before := view("inspect")
	kill()
	after := view()
	require.NotNil(t, before.Inspect)
	k := after.Kombu

	now := time.Unix(0, k.NowNS)
	ages := make([]time.Duration, 0, len(k.Unacked))
	for _, u := range k.Unacked {
		ages = append(ages, now.Sub(time.Unix(0, int64(u.DeliveredAt*1e9))))
	}
	sort.Slice(ages, func(i, j int) bool { return ages[i] < ages[j] })
	require.NotEmpty(t, ages)
	// A threshold between the youngest and the oldest delivery makes some,
	// not all, stalled.
	stalledAfter := (ages[0] + ages[len(ages)-1]) / 2

	c, counter := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	opts.StalledAfter = stalledAfter
	opts.Now = func() time.Time { return now }
	s, err := NewReader(c, opts).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(3), counter.RoundTrips())
	assert.Empty(t, s.Problems)

	// Sizes: kombu's _size (= queue_declare(passive=True).message_count).
	require.Len(t, s.Queues, len(k.Sizes), "queues: %+v, kombu: %v", s.Queues, k.Sizes)
	assert.Equal(t, len(k.Sizes), s.QueuesDiscovered)
	type inflight struct {
		count, stalled int64
		maxAge         time.Duration
	}
	want := map[string]*inflight{}
	for _, u := range k.Unacked {
		w := want[u.Queue]
		if w == nil {
			w = &inflight{}
			want[u.Queue] = w
		}
		a := redisAge(now, u.DeliveredAt)
		w.count++
		w.maxAge = max(w.maxAge, a)
		if a > stalledAfter {
			w.stalled++
		}
	}
	var unacked, stalled int64
	for _, q := range s.Queues {
		size, ok := k.Sizes[q.Name]
		require.True(t, ok, "queue %q unknown to kombu", q.Name)
		assert.Equal(t, size, q.Size, q.Name)
		assert.True(t, q.LatencyUnknown, q.Name)
		assert.False(t, q.PausedKnown, q.Name)
		w := want[q.Name]
		if w == nil {
			w = &inflight{}
		}
		assert.Equal(t, w.count, q.Running, q.Name)
		assert.Equal(t, w.maxAge, q.RunningMaxAge, q.Name)
		assert.Equal(t, w.stalled, q.Stalled, q.Name)
		assert.Contains(t, s.Jobs, snapshot.StateCount{State: StateUnacked, Queue: q.Name, Count: w.count})
		// What the worker said it held, before it was killed.
		assert.Equal(t, before.Inspect.PerQueue[q.Name], q.Running, "inspect, %s", q.Name)
		unacked += q.Running
		stalled += q.Stalled
	}
	assert.Equal(t, k.UnackedTotal, unacked)
	results := snapshottest.Jobs(s, "")
	if opts.Results > 0 {
		assert.Equal(t, after.Results, results, "the result backend's states")
		assert.Equal(t, map[string]int64{"success": 3, "failure": 2, "retry": 2, "started": 2}, results)
	} else {
		assert.Empty(t, results)
	}
	assert.Len(t, s.Jobs, len(s.Queues)+len(results))
	assert.Empty(t, s.Processes, "workers register nothing in Redis")
	assert.True(t, s.ProcessesUnknown)

	// The scenario must have produced every kind of state, or the comparison
	// above proves little.
	assert.Equal(t, []string{"celery", "mail", "reports"}, snapshottest.QueueNames(s))
	assert.Greater(t, k.Sizes["reports"], int64(10), "every priority, queued")
	assert.Equal(t, 2, before.Inspect.Running)
	assert.Equal(t, 2, before.Inspect.Scheduled)
	assert.Positive(t, stalled)
	assert.Less(t, stalled, unacked)
	pidbox, err := srv.Client(t).Exists(context.Background(), opts.Prefix+"_kombu.binding.celery.pidbox").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), pidbox, "the killed worker's mailbox binding stayed behind, and is no queue")
}

// redisAge is the reader's age of a delivery time as Redis returns the score.
func redisAge(now time.Time, at float64) time.Duration {
	sec := int64(at)
	return max(now.Sub(time.Unix(sec, int64((at-float64(sec))*1e9))), 0)
}
