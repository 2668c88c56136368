// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package queuealert

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// only returns a configuration with every rule disabled but those set up
// by enable.
func only(enable func(*Config)) *Config {
	cfg := NewDefaultConfig()
	cfg.QueueLatencyHigh.Enabled = false
	cfg.QueueSizeLarge.Enabled = false
	cfg.StalledJobs.Enabled = false
	cfg.DeadJobsGrowing.Enabled = false
	cfg.ProcessMemoryHigh.Enabled = false
	cfg.ProcessHeartbeatMissing.Enabled = false
	enable(&cfg)
	return &cfg
}

// record is what a test compares of an alert.
type record struct {
	name     alert.Name
	state    string
	severity alert.Severity
	summary  string
	queue    string
}

func records(alerts []alert.Alert) []record {
	var out []record
	for _, a := range alerts {
		out = append(out, record{a.Name, a.State.String(), a.Severity, a.Summary, a.Queue})
	}
	return out
}

// queues is a snapshot at t0+at of queues given as name, latency seconds.
func latencies(at time.Duration, kv ...any) *snapshot.Snapshot {
	s := &snapshot.Snapshot{System: "sidekiq", Time: t0.Add(at)}
	for i := 0; i < len(kv); i += 2 {
		s.Queues = append(s.Queues, snapshot.Queue{
			Name: kv[i].(string), Size: 1, Latency: time.Duration(kv[i+1].(int)) * time.Second,
		})
	}
	return s
}

func TestLatencySequence(t *testing.T) {
	cfg := only(func(c *Config) {
		c.CoolDown = 15 * time.Minute
		c.QueueLatencyHigh.Enabled = true
		c.QueueLatencyHigh.Escalate = []Step[time.Duration]{{Threshold: 15 * time.Minute, Severity: alert.SeverityError}}
	})
	e := New(cfg, 5*time.Minute, "redis:6379", "")
	type scrape struct {
		at      time.Duration
		latency int
		want    []record
	}
	fire := func(state string, sev alert.Severity, summary string) []record {
		return []record{{alert.QueueLatencyHigh, state, sev, summary, "default"}}
	}
	for i, s := range []scrape{
		{0, 120, nil},
		{30 * time.Second, 412, fire("firing", alert.SeverityWarn, "queue default latency 412s > 300s")},
		{time.Minute, 530, nil}, // still firing: once only
		{15*time.Minute + 30*time.Second, 600, fire("firing", alert.SeverityWarn, "queue default latency 600s > 300s")}, // cool-down over
		{16 * time.Minute, 1000, fire("firing", alert.SeverityError, "queue default latency 1000s > 900s")},             // escalated
		{17 * time.Minute, 700, nil}, // de-escalation is not news
		{18 * time.Minute, 280, nil}, // hysteresis: above 270
		{19 * time.Minute, 270, fire("resolved", alert.SeverityError, "queue default latency 270s <= 270s")},
		{20 * time.Minute, 250, nil},
		{21 * time.Minute, 301, fire("firing", alert.SeverityWarn, "queue default latency 301s > 300s")}, // a new episode
	} {
		got := e.Evaluate(latencies(s.at, "default", s.latency))
		assert.Equal(t, s.want, records(got), "scrape %d at %s", i, s.at)
		for _, a := range got {
			assert.Equal(t, alert.NewID(alert.QueueLatencyHigh, "sidekiq", "redis:6379", "", "default"), a.ID, "one id for every record")
			assert.Equal(t, "sidekiq", a.System)
			assert.Equal(t, t0.Add(s.at), a.Time, "the snapshot's time")
		}
	}
}

func TestPerQueueOverrides(t *testing.T) {
	cfg, err := load(t, `
queue_latency_high:
  threshold: 5m
  severity: warn
  overrides:
    - queues: [{strict: critical}]
      threshold: 30s
      severity: fatal
    - queues: [{regexp: "^low"}]
      threshold: 1h
    - queues: [{regexp: "^tmp_"}]
      enabled: false
    - queues: [{regexp: "critical"}]
      threshold: 1s
`)
	require.NoError(t, err)
	cfg.QueueSizeLarge.Enabled, cfg.StalledJobs.Enabled = false, false
	e := New(&cfg, 5*time.Minute)
	got := e.Evaluate(latencies(0,
		"critical", 45, // 30 s: fires, fatal
		"critical_2", 2, // only the last override matches it
		"default", 45, // 5 min: quiet
		"low", 400, "low_batch", 3000, // 1 h: quiet
		"reports", 400, // 5 min: fires
		"tmp_1", 99999, // silenced
	))
	assert.ElementsMatch(t, []record{
		{alert.QueueLatencyHigh, "firing", alert.SeverityFatal, "queue critical latency 45s > 30s", "critical"},
		{alert.QueueLatencyHigh, "firing", alert.SeverityWarn, "queue critical_2 latency 2s > 1s", "critical_2"},
		{alert.QueueLatencyHigh, "firing", alert.SeverityWarn, "queue reports latency 400s > 300s", "reports"},
	}, records(got))

	got = e.Evaluate(latencies(time.Minute, "critical", 28, "critical_2", 2, "low", 3700, "reports", 400, "tmp_1", 99999))
	assert.Equal(t, []record{
		{alert.QueueLatencyHigh, "firing", alert.SeverityWarn, "queue low latency 3700s > 3600s", "low"},
	}, records(got), "critical stays firing above its own resolve level (27s)")

	got = e.Evaluate(latencies(2*time.Minute, "critical", 27, "critical_2", 2, "low", 3700, "reports", 400))
	assert.Equal(t, []record{
		{alert.QueueLatencyHigh, "resolved", alert.SeverityFatal, "queue critical latency 27s <= 27s", "critical"},
	}, records(got))
}

func TestGoneQueueResolves(t *testing.T) {
	e := New(only(func(c *Config) { c.QueueSizeLarge.Enabled = true }), 5*time.Minute)
	big := func(at time.Duration, names ...string) *snapshot.Snapshot {
		s := &snapshot.Snapshot{System: "sidekiq", Time: t0.Add(at)}
		for _, n := range names {
			s.Queues = append(s.Queues, snapshot.Queue{Name: n, Size: 5000, Latency: time.Second})
		}
		return s
	}
	assert.Len(t, e.Evaluate(big(0, "a", "b")), 2)
	assert.Equal(t, []record{{alert.QueueSizeLarge, "resolved", alert.SeverityWarn, "queue b is gone (last size 5000)", "b"}},
		records(e.Evaluate(big(30*time.Second, "a"))))
	assert.Empty(t, e.Evaluate(big(time.Minute, "a")))
	assert.Equal(t, 1, e.size.tracker.Len(), "a gone queue is forgotten")
}

// TestUnknownValuesDecideNothing: a waiting job without a timestamp, a
// process that does not report memory and an unreadable dead set neither
// fire nor resolve.
func TestUnknownValuesDecideNothing(t *testing.T) {
	e := New(only(func(c *Config) {
		c.QueueLatencyHigh.Enabled = true
		c.ProcessMemoryHigh.Enabled = true
		c.DeadJobsGrowing.Enabled = true
		c.DeadJobsGrowing.Threshold = 5
	}), 5*time.Minute)
	snap := func(at time.Duration, latency time.Duration, memory int64, dead int64) *snapshot.Snapshot {
		s := &snapshot.Snapshot{
			System:    "sidekiq",
			Time:      t0.Add(at),
			DeadState: snapshot.StateDead,
			Queues:    []snapshot.Queue{{Name: "default", Size: 3, Latency: latency}},
			Processes: []snapshot.Process{{ID: "web-1:1:abc", Hostname: "web-1", PID: 1, MemoryBytes: memory, MemoryKnown: memory > 0}},
		}
		if dead >= 0 {
			s.Jobs = []snapshot.StateCount{{State: snapshot.StateDead, Count: dead}}
		}
		return s
	}
	assert.Len(t, e.Evaluate(snap(0, time.Hour, 1<<30, 0)), 2, "latency and memory fire")
	assert.Len(t, e.Evaluate(snap(time.Minute, 0, 0, 10)), 1, "only the dead set's growth fires")
	assert.Empty(t, e.Evaluate(snap(2*time.Minute, 0, 0, -1)), "nothing known: nothing resolves")
	assert.Equal(t, 1, e.dead.tracker.Len())
	got := e.Evaluate(snap(3*time.Minute, time.Second, 1<<20, 10))
	assert.ElementsMatch(t, []record{
		{alert.QueueLatencyHigh, "resolved", alert.SeverityWarn, "queue default latency 1s <= 270s", "default"},
		{alert.ProcessMemoryHigh, "resolved", alert.SeverityWarn, "process web-1:1:abc memory 1MiB <= 450MiB", ""},
	}, records(got), "known values resolve; the dead set's window still holds the growth")
}

func TestStalledJobs(t *testing.T) {
	e := New(only(func(c *Config) { c.StalledJobs.Enabled = true }), 10*time.Minute)
	snap := func(at time.Duration, stalled int64) *snapshot.Snapshot {
		return &snapshot.Snapshot{System: "sidekiq", Time: t0.Add(at), Queues: []snapshot.Queue{{Name: "default", Running: 3, Stalled: stalled}}}
	}
	assert.Empty(t, e.Evaluate(snap(0, 0)))
	got := e.Evaluate(snap(time.Minute, 2))
	require.Len(t, got, 1)
	assert.Equal(t, "queue default stalled jobs 2 > 0 (running longer than 10m0s)", got[0].Summary)
	assert.Equal(t, []alert.Attribute{alert.Float("alert.stalled_after", 600)}, got[0].Attributes)
	assert.Empty(t, e.Evaluate(snap(2*time.Minute, 1)))
	assert.Equal(t, []record{{alert.StalledJobs, "resolved", alert.SeverityWarn, "queue default stalled jobs 0 <= 0 (running longer than 10m0s)", "default"}},
		records(e.Evaluate(snap(3*time.Minute, 0))))
}

func TestDeadJobsGrowing(t *testing.T) {
	e := New(only(func(c *Config) {
		c.DeadJobsGrowing.Enabled = true
		c.DeadJobsGrowing.Threshold = 5
		c.DeadJobsGrowing.Window = 10 * time.Minute
	}), 5*time.Minute)
	dead := func(at time.Duration, n int64) []record {
		return records(e.Evaluate(&snapshot.Snapshot{
			System: "sidekiq", Time: t0.Add(at), DeadState: snapshot.StateDead, Jobs: []snapshot.StateCount{{State: snapshot.StateDead, Count: n}},
		}))
	}
	fired := []record{{alert.DeadJobsGrowing, "firing", alert.SeverityWarn, "dead jobs growth 6 > 5 within 10m0s", ""}}
	assert.Empty(t, dead(0, 100), "a large dead set is not growth")
	assert.Empty(t, dead(time.Minute, 103))
	assert.Empty(t, dead(2*time.Minute, 40), "someone cleared the dead set")
	assert.Empty(t, dead(3*time.Minute, 45), "grew by 5: not more than 5")
	assert.Equal(t, fired, dead(4*time.Minute, 46), "grew by 6 since the least value in the window")
	assert.Empty(t, dead(10*time.Minute, 46), "the window still starts at 40")
	assert.Equal(t, []record{{alert.DeadJobsGrowing, "resolved", alert.SeverityWarn, "dead jobs growth 1 <= 4 within 10m0s", ""}},
		dead(13*time.Minute, 46), "the 40 left the window: 45 is the least")
}

func TestDeadJobsPerQueueWindow(t *testing.T) {
	e := New(only(func(c *Config) { c.DeadJobsGrowing.Enabled = true }), 5*time.Minute)
	snap := func(at time.Duration, counts map[string]int64) *snapshot.Snapshot {
		s := &snapshot.Snapshot{System: "bullmq", Time: t0.Add(at), DeadState: snapshot.StateFailed}
		for q, n := range counts {
			s.Jobs = append(s.Jobs, snapshot.StateCount{State: snapshot.StateFailed, Queue: q, Count: n})
		}
		return s
	}
	assert.Empty(t, e.Evaluate(snap(0, map[string]int64{"q0": 0, "q1": 0})))
	got := e.Evaluate(snap(time.Minute, map[string]int64{"q0": 20, "q1": 3}))
	assert.Equal(t, []record{{alert.DeadJobsGrowing, "firing", alert.SeverityWarn, "queue q0 failed jobs growth 20 > 10 within 1h0m0s", "q0"}}, records(got))
	assert.Contains(t, got[0].Attributes, alert.Int("alert.dead_jobs", 20))
	assert.Empty(t, e.Evaluate(snap(2*time.Minute, nil)), "no dead count at all: unreadable, nothing resolves")
	assert.Equal(t, []record{{alert.DeadJobsGrowing, "resolved", alert.SeverityWarn, "queue q0 is gone (last failed jobs growth 20)", "q0"}},
		records(e.Evaluate(snap(3*time.Minute, map[string]int64{"q1": 3}))), "q0 has no dead count any more: it is gone")
	assert.Len(t, e.windows, 1)
}

// TestDeadJobsGrowingWatchesTheDeadState: the rule watches the state the
// snapshot names as its dead one, whatever the system calls it, and no
// other; a system without one is not watched.
func TestDeadJobsGrowingWatchesTheDeadState(t *testing.T) {
	tests := []struct {
		system, deadState, queue string
		want                     string
	}{
		{"sidekiq", snapshot.StateDead, "", "dead jobs growth 12 > 10 within 1h0m0s"},
		{"bullmq", snapshot.StateFailed, "emails", "queue emails failed jobs growth 12 > 10 within 1h0m0s"},
		{"rq", snapshot.StateFailed, "default", "queue default failed jobs growth 12 > 10 within 1h0m0s"},
		{"resque", snapshot.StateFailed, "", "failed jobs growth 12 > 10 within 1h0m0s"},
		{"asynq", "archived", "critical", "queue critical archived jobs growth 12 > 10 within 1h0m0s"},
		{"celery", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.system, func(t *testing.T) {
			e := New(only(func(c *Config) { c.DeadJobsGrowing.Enabled = true }), 5*time.Minute)
			snap := func(at time.Duration, n int64) *snapshot.Snapshot {
				s := &snapshot.Snapshot{System: tt.system, Time: t0.Add(at), DeadState: tt.deadState}
				// Every state grows: only the dead one may fire.
				for _, state := range []string{snapshot.StateDead, snapshot.StateFailed, "archived", "completed", "failure", "retry"} {
					s.Jobs = append(s.Jobs, snapshot.StateCount{State: state, Queue: tt.queue, Count: n})
				}
				return s
			}
			assert.Empty(t, e.Evaluate(snap(0, 100)))
			got := e.Evaluate(snap(time.Minute, 112))
			if tt.want == "" {
				assert.Empty(t, got)
				assert.Empty(t, e.windows, "nothing tracked")
				return
			}
			require.Len(t, got, 1)
			assert.Equal(t, record{alert.DeadJobsGrowing, "firing", alert.SeverityWarn, tt.want, tt.queue}, records(got)[0])
			assert.Equal(t, []alert.Attribute{
				alert.Float("alert.window", 3600), alert.String("jobqueue.job.state", tt.deadState), alert.Int("alert.dead_jobs", 112),
			}, got[0].Attributes)
		})
	}
}

// TestDeadJobsGrowingAfterATrim: a dead set trimmed by its system (BullMQ's
// removeOnFail, Sidekiq's cap) drops; new failures after the drop are
// growth from the least value, not from the window's first.
func TestDeadJobsGrowingAfterATrim(t *testing.T) {
	e := New(only(func(c *Config) { c.DeadJobsGrowing.Enabled = true }), 5*time.Minute)
	failed := func(at time.Duration, n int64) []alert.Alert {
		return e.Evaluate(&snapshot.Snapshot{System: "bullmq", Time: t0.Add(at), DeadState: snapshot.StateFailed,
			Jobs: []snapshot.StateCount{{State: snapshot.StateFailed, Queue: "emails", Count: n}}})
	}
	assert.Empty(t, failed(0, 1000))
	assert.Empty(t, failed(time.Minute, 990), "trimmed by removeOnFail")
	assert.Len(t, failed(2*time.Minute, 1001), 1, "11 new failures since the trim, though only 1 more than an hour's first count")
}

func TestProcessRules(t *testing.T) {
	e := New(only(func(c *Config) {
		c.ProcessMemoryHigh.Enabled = true
		c.ProcessHeartbeatMissing.Enabled = true
	}), 5*time.Minute, "redis:6379")
	proc := func(id string, memMiB int64, beat time.Duration) snapshot.Process {
		return snapshot.Process{ID: id, Hostname: "web-1", PID: 101, MemoryBytes: memMiB << 20, MemoryKnown: true, HeartbeatAge: beat}
	}
	snap := func(at time.Duration, stale int, procs ...snapshot.Process) *snapshot.Snapshot {
		return &snapshot.Snapshot{System: "sidekiq", Time: t0.Add(at), Processes: procs, ProcessesStale: stale}
	}
	assert.Empty(t, e.Evaluate(snap(0, 0, proc("web-1:101:a", 400, 2*time.Second))))

	got := e.Evaluate(snap(30*time.Second, 0, proc("web-1:101:a", 640, 35*time.Second)))
	assert.ElementsMatch(t, []record{
		{alert.ProcessMemoryHigh, "firing", alert.SeverityWarn, "process web-1:101:a memory 640MiB > 500MiB", ""},
		{alert.ProcessHeartbeatMissing, "firing", alert.SeverityError, "process web-1:101:a heartbeat age 35s > 30s", ""},
	}, records(got))
	for _, a := range got {
		assert.Equal(t, []alert.Attribute{
			alert.String("jobqueue.process.id", "web-1:101:a"), alert.String("host.name", "web-1"), alert.Int("process.pid", 101),
		}, a.Attributes)
	}

	// Its heartbeat entry expired: the process is gone from the live ones
	// and the registry lists one stale entry.
	got = e.Evaluate(snap(time.Minute, 1))
	assert.ElementsMatch(t, []record{
		{alert.ProcessMemoryHigh, "resolved", alert.SeverityWarn, "process web-1:101:a is gone (last memory 640MiB)", ""},
		{alert.ProcessHeartbeatMissing, "resolved", alert.SeverityError, "process web-1:101:a is gone (last heartbeat age 35s)", ""},
		{alert.ProcessHeartbeatMissing, "firing", alert.SeverityError,
			"process registry processes that stopped checking in 1 > 0 (heartbeat expired, still registered)", ""},
	}, records(got))
	for _, a := range got {
		if a.State == alert.StateResolved {
			assert.Equal(t, []alert.Attribute{alert.String("jobqueue.process.id", "web-1:101:a")}, a.Attributes)
		} else {
			assert.Equal(t, []alert.Attribute{alert.Int("alert.stale_processes", 1)}, a.Attributes)
		}
	}
	assert.Empty(t, e.Evaluate(snap(90*time.Second, 2)), "more stale entries: the same alert")
	assert.Equal(t, []record{{alert.ProcessHeartbeatMissing, "resolved", alert.SeverityError,
		"process registry processes that stopped checking in 0 <= 0 (heartbeat expired, still registered)", ""}},
		records(e.Evaluate(snap(2*time.Minute, 0, proc("web-1:202:b", 100, time.Second)))), "the registry was cleaned up")
}

func TestStaleCanBeTurnedOff(t *testing.T) {
	e := New(only(func(c *Config) {
		c.ProcessHeartbeatMissing.Enabled = true
		c.ProcessHeartbeatMissing.Stale = false
	}), 5*time.Minute)
	assert.Empty(t, e.Evaluate(&snapshot.Snapshot{Time: t0, ProcessesStale: 3}))
}

func TestDisabledRulesTrackNothing(t *testing.T) {
	e := New(only(func(*Config) {}), 5*time.Minute)
	snap := &snapshot.Snapshot{
		Time:           t0,
		DeadState:      snapshot.StateDead,
		Queues:         []snapshot.Queue{{Name: "q", Size: 1e6, Latency: time.Hour, Stalled: 9}},
		Jobs:           []snapshot.StateCount{{State: snapshot.StateDead, Count: 1e6}},
		Processes:      []snapshot.Process{{ID: "p", MemoryBytes: 1 << 40, MemoryKnown: true, HeartbeatAge: time.Hour}},
		ProcessesStale: 5,
	}
	assert.Empty(t, e.Evaluate(snap))
	snap.Time = t0.Add(time.Minute)
	snap.Jobs[0].Count = 2e6
	assert.Empty(t, e.Evaluate(snap))
	assert.Empty(t, e.windows)
}

func TestBoundedKeys(t *testing.T) {
	e := New(only(func(c *Config) { c.QueueSizeLarge.Enabled = true }), 5*time.Minute)
	snap := &snapshot.Snapshot{Time: t0}
	for i := range maxQueueKeys + 10 {
		snap.Queues = append(snap.Queues, snapshot.Queue{Name: "q" + strconv.Itoa(i), Size: 5000})
	}
	assert.Len(t, e.Evaluate(snap), maxQueueKeys)
	assert.Equal(t, 10, e.Dropped())
	assert.LessOrEqual(t, len(e.size.byQueue), maxQueueKeys)
}

// TestSteadyStateAllocatesNothing: a scrape that changes nothing (the
// common case) costs no allocation.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	e := New(func() *Config { c := NewDefaultConfig(); return &c }(), 5*time.Minute, "redis:6379")
	snap := benchSnapshot(100, 20)
	now := t0
	allocs := testing.AllocsPerRun(50, func() {
		now = now.Add(30 * time.Second)
		snap.Time = now
		e.Evaluate(snap)
	})
	assert.Zero(t, allocs)
}

// TestAlertsBecomeRecords checks that the records fill a log record as
// DESIGN.md describes.
func TestAlertsBecomeRecords(t *testing.T) {
	e := New(only(func(c *Config) { c.QueueLatencyHigh.Enabled = true }), 5*time.Minute, "redis:6379", "")
	got := e.Evaluate(latencies(0, "critical", 412))
	require.Len(t, got, 1)
	lr := plog.NewLogRecord()
	got[0].FillLogRecord(lr)
	assert.Equal(t, "jobqueue.alert", lr.EventName())
	assert.Equal(t, "queue critical latency 412s > 300s", lr.Body().Str())
	assert.Equal(t, "WARN", lr.SeverityText())
	assert.Equal(t, map[string]any{
		"alert.name": "queue_latency_high", "alert.state": "firing", "alert.id": got[0].ID,
		"alert.threshold": 300.0, "alert.value": 412.0,
		"messaging.system": "sidekiq", "messaging.destination.name": "critical",
	}, lr.Attributes().AsRaw())
}

func benchSnapshot(queues, processes int) *snapshot.Snapshot {
	s := &snapshot.Snapshot{System: "sidekiq", Time: t0, DeadState: snapshot.StateDead}
	for i := range queues {
		s.Queues = append(s.Queues, snapshot.Queue{
			Name: fmt.Sprintf("queue-%d", i), Size: int64(i * 17 % 1500), Latency: time.Duration(i*7%600) * time.Second, Stalled: int64(i % 3),
		})
	}
	for i := range processes {
		s.Processes = append(s.Processes, snapshot.Process{
			ID: fmt.Sprintf("web-%d:%d:0a1b2c", i, 100+i), Hostname: fmt.Sprintf("web-%d", i), PID: int64(100 + i),
			MemoryBytes: int64(300+i*20) << 20, MemoryKnown: true, HeartbeatAge: time.Duration(i%40) * time.Second,
		})
	}
	s.Jobs = []snapshot.StateCount{{State: snapshot.StateDead, Count: 42}}
	return s
}
