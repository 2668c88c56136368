// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// sidekiqView is what Sidekiq 6.4's own API reads from Redis; every job
// set is iterated in full, so every payload goes through Sidekiq's parser.
const sidekiqView = `
require "json"
require "sidekiq"
require "sidekiq/api"
Sidekiq.configure_client { |c| c.redis = { url: ENV.fetch("REDIS_URL") } }
Sidekiq.logger.level = Logger::WARN

s = Sidekiq::Stats.new
job = ->(j) { { class: j.klass, queue: j.queue, jid: j.jid, error_class: j["error_class"],
                retry_count: j["retry_count"], at: (j.at.to_f if j.respond_to?(:at)),
                enqueued_at: j.enqueued_at&.to_f } }
puts JSON.generate(
  processed: s.processed, failed: s.failed,
  scheduled_size: s.scheduled_size, retry_size: s.retry_size, dead_size: s.dead_size,
  processes_size: s.processes_size, workers_size: s.workers_size, enqueued: s.enqueued,
  history_processed: Sidekiq::Stats::History.new(2).processed.values.sum,
  queues: Sidekiq::Queue.all.map { |q| { name: q.name, size: q.size, latency: q.latency, jobs: q.map(&job) } },
  retries: Sidekiq::RetrySet.new.map(&job),
  scheduled: Sidekiq::ScheduledSet.new.map(&job),
  dead: Sidekiq::DeadSet.new.map(&job),
  processes: Sidekiq::ProcessSet.new(false).map { |p|
    { identity: p.identity, hostname: p["hostname"], busy: p["busy"], quiet: p["quiet"],
      beat: p["beat"], concurrency: p["concurrency"], queues: p["queues"] } },
  workers: Sidekiq::Workers.new.map { |pid, tid, w|
    { process: pid, thread: tid, queue: w["queue"], run_at: w["run_at"],
      class: w["payload"]["class"], jid: w["payload"]["jid"] } })
`

type rubyJob struct {
	Class      string   `json:"class"`
	Queue      string   `json:"queue"`
	JID        string   `json:"jid"`
	ErrorClass string   `json:"error_class"`
	RetryCount *int     `json:"retry_count"`
	At         float64  `json:"at"`
	EnqueuedAt *float64 `json:"enqueued_at"`
}

type rubyView struct {
	Processed, Failed int64
	ScheduledSize     int64 `json:"scheduled_size"`
	RetrySize         int64 `json:"retry_size"`
	DeadSize          int64 `json:"dead_size"`
	ProcessesSize     int64 `json:"processes_size"`
	WorkersSize       int64 `json:"workers_size"`
	Enqueued          int64
	HistoryProcessed  int64 `json:"history_processed"`
	Queues            []struct {
		Name    string
		Size    int64
		Latency float64
		Jobs    []rubyJob
	}
	Retries, Scheduled, Dead []rubyJob
	Processes                []struct {
		Identity, Hostname string
		Busy               int
		Quiet              string
		Beat               float64
		Concurrency        int
		Queues             []string
	}
	Workers []struct {
		Process, Thread, Queue, Class, JID string
		RunAt                              int64 `json:"run_at"`
	}
}

func readWithSidekiq(t *testing.T, addr string) rubyView {
	t.Helper()
	cmd := exec.Command("ruby", "-e", sidekiqView)
	cmd.Env = append(cmd.Environ(), "REDIS_URL=redis://"+addr+"/0")
	out, err := cmd.Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, "Sidekiq could not read the simulated state:\n%s", stderr)
	var v rubyView
	require.NoError(t, json.Unmarshal(out, &v), "%s", out)
	return v
}

// startedBy counts the scenario's processes started within elapsed.
func startedBy(sc workload.Scenario, elapsed time.Duration) int {
	n := 0
	for _, p := range sc.Processes {
		if p.StartAfter < elapsed {
			n++
		}
	}
	return n
}

// TestSidekiqReadsSimulatedState plays the demo scenario into a real
// redis-server and reads it back with Sidekiq 6.4's own API (Stats, Queue,
// RetrySet, ScheduledSet, DeadSet, ProcessSet, Workers). Sidekiq must parse
// every key the simulator wrote, and its numbers must match the
// simulator's own bookkeeping.
func TestSidekiqReadsSimulatedState(t *testing.T) {
	redistest.RequireTool(t, "ruby", "apt-get install -y ruby-sidekiq")
	if err := exec.Command("ruby", "-e", `require "sidekiq/api"`).Run(); err != nil {
		redistest.Missing(t, "the sidekiq gem is not installed (install: apt-get install -y ruby-sidekiq)")
	}
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	sc := workload.Demo()
	sim, err := workload.NewSidekiq(c, sc, 42)
	require.NoError(t, err)

	// Play three minutes that end now, so Sidekiq's own clock (latency,
	// ages) agrees with the simulated one. TTLs run on the server's real
	// clock, so nothing expires during the fast-forwarded run.
	const steps = 180
	begin := time.Now().Add(-steps * time.Second)
	var total workload.Report
	var now time.Time
	for i := range steps {
		now = begin.Add(time.Duration(i) * time.Second)
		r, err := sim.Step(context.Background(), now)
		require.NoError(t, err, "step %d", i)
		total.Add(r)
	}
	v := readWithSidekiq(t, srv.Addr())

	t.Run("totals match the simulator", func(t *testing.T) {
		assert.Equal(t, total.StatProcessed, v.Processed)
		assert.Equal(t, total.StatFailed, v.Failed)
		assert.Equal(t, v.Processed, v.HistoryProcessed, "per-day counters add up to the total")
		assert.Positive(t, v.Failed)
		assert.LessOrEqual(t, v.Processed, int64(total.Succeeded+total.Failed), "counters lag executions, never lead")
		assert.EqualValues(t, total.Died, v.DeadSize)
		assert.EqualValues(t, total.Retried+total.Scheduled+total.Died-total.Requeued, v.RetrySize+v.ScheduledSize+v.DeadSize,
			"every failure and scheduled job is in a set until the poller moves it")
		assert.EqualValues(t, total.Enqueued+total.Requeued-total.Fetched, v.Enqueued, "no job lost or duplicated")
		assert.EqualValues(t, startedBy(sc, steps*time.Second), v.ProcessesSize)
	})

	t.Run("queues", func(t *testing.T) {
		var names []string
		for _, cl := range sc.Classes {
			if !slices.Contains(names, cl.Queue) {
				names = append(names, cl.Queue)
			}
		}
		slices.Sort(names)
		var got []string
		for _, q := range v.Queues {
			got = append(got, q.Name)
			assert.Len(t, q.Jobs, int(q.Size), "queue %s: Sidekiq iterates every job", q.Name)
			for _, j := range q.Jobs {
				assert.Equal(t, q.Name, j.Queue)
				assert.Len(t, j.JID, 24)
				require.NotNil(t, j.EnqueuedAt, "queue %s: job without enqueued_at", q.Name)
			}
			if q.Name == "reports" {
				assert.Greater(t, q.Latency, (5 * time.Minute).Seconds(), "reports is over 5 minutes behind")
			}
		}
		assert.Equal(t, names, got)
	})

	t.Run("failures", func(t *testing.T) {
		require.NotEmpty(t, v.Retries)
		require.NotEmpty(t, v.Dead)
		classes := map[string]workload.Class{}
		for _, cl := range sc.Classes {
			classes[cl.Name] = cl
		}
		errorOf := func(cl workload.Class, e string) bool {
			return slices.ContainsFunc(cl.Errors, func(x workload.Error) bool { return x.Class == e })
		}
		for _, j := range v.Retries {
			cl, ok := classes[j.Class]
			require.True(t, ok, "retry of unknown class %q", j.Class)
			assert.True(t, errorOf(cl, j.ErrorClass), "%s raised %q", j.Class, j.ErrorClass)
			require.NotNil(t, j.RetryCount)
			assert.GreaterOrEqual(t, *j.RetryCount, 0)
		}
		for _, j := range v.Dead {
			cl := classes[j.Class]
			assert.True(t, errorOf(cl, j.ErrorClass), "%s raised %q", j.Class, j.ErrorClass)
			require.NotNil(t, j.RetryCount)
			assert.EqualValues(t, cl.Retry, *j.RetryCount, "%s dies after its last retry", j.Class)
		}
		for _, j := range v.Scheduled {
			assert.Nil(t, j.EnqueuedAt, "scheduled jobs are not enqueued yet")
			assert.Greater(t, j.At, float64(now.Add(-sc.PollInterval).Unix()), "due jobs are polled")
		}
	})

	t.Run("processes and workers", func(t *testing.T) {
		require.Len(t, v.Processes, startedBy(sc, steps*time.Second))
		busy := map[string]int{}
		for _, w := range v.Workers {
			busy[w.Process]++
		}
		beats := map[string]float64{}
		for _, p := range v.Processes {
			beats[p.Hostname] = p.Beat
			assert.Equal(t, busy[p.Identity], p.Busy, "%s: busy matches its workers hash", p.Hostname)
			assert.LessOrEqual(t, p.Busy, p.Concurrency)
			switch p.Hostname {
			case "reports-1":
				assert.Equal(t, "true", p.Quiet, "reports-1 went quiet")
			default:
				assert.Equal(t, "false", p.Quiet, p.Hostname)
			}
		}
		assert.Less(t, beats["batch-1"], beats["web-1"]-60, "batch-1 stopped beating when it crashed")

		var stalled bool
		for _, w := range v.Workers {
			if w.Class == "DataMigrationJob" {
				stalled = time.Since(time.Unix(w.RunAt, 0)) > 5*time.Minute
			}
		}
		assert.True(t, stalled, "web-2's long job has run for more than 5 minutes")
		assert.EqualValues(t, len(v.Workers), v.WorkersSize)
	})

	t.Run("after stop", func(t *testing.T) {
		r, err := sim.Stop(context.Background(), now.Add(time.Second))
		require.NoError(t, err)
		total.Add(r)
		after := readWithSidekiq(t, srv.Addr())
		assert.Equal(t, total.StatProcessed, after.Processed)
		assert.EqualValues(t, total.Enqueued+total.Requeued-total.Fetched, after.Enqueued, "running jobs went back to their queues")
		require.Len(t, after.Processes, 1, "only the crashed process is left")
		assert.Equal(t, "batch-1", after.Processes[0].Hostname)
	})
}
