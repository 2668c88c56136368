// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// take reads f's database once through a receiver-like client as role,
// checking that it cost one round trip.
func take(t *testing.T, f *fixture, role string, opts Options) *snapshot.Snapshot {
	t.Helper()
	c := f.client(role)
	opts.Schema = f.schema
	if opts.Now == nil {
		opts.Now = func() time.Time { return f.now }
	}
	s, err := NewReader(c, opts).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), c.Counter().RoundTrips(), "one batch, whatever the number of queues")
	return s
}

// writeScenario writes, as Solid Queue 1.5.0 would, at clock base:
//   - default: ready jobs enqueued 2 min, 30 s and 0 s ago;
//   - mailers (paused): one ready (1 min), one scheduled an hour ahead;
//   - critical: two claimed by worker-a (10 min and 30 s ago), one
//     finished, two failed (Net::ReadTimeout, ActiveRecord::Deadlocked);
//   - limited: one ready and one blocked on the same concurrency key;
//   - idle (paused, no job ever).
//
// Processes: a supervisor, a dispatcher, worker-a (3 threads on
// default,critical, beat 5 s ago), worker-b (5 threads on *, 20 s ago),
// worker-gone (last beat 10 min ago: stale).
func writeScenario(f *fixture) {
	base := f.now
	at := func(ago time.Duration) { f.now = base.Add(-ago) }
	sup := f.process("Supervisor(fork)", "supervisor-0a1b2c3d4e5f60718293", 10, "web-1", nil, `{}`, 3*time.Second)
	f.process("Dispatcher", "dispatcher-0a1b2c3d4e5f60718293", 11, "web-1", &sup, `{"polling_interval":1,"batch_size":500,"concurrency_maintenance_interval":600}`, 4*time.Second)
	wa := f.process("Worker", "worker-aaaaaaaaaaaaaaaaaaaa", 12, "web-1", &sup, `{"polling_interval":0.1,"queues":"default,critical","thread_pool_size":3}`, 5*time.Second)
	f.process("Worker", "worker-bbbbbbbbbbbbbbbbbbbb", 13, "web-2", &sup, `{"polling_interval":0.1,"queues":"*","thread_pool_size":5}`, 20*time.Second)
	f.process("Worker", "worker-gonegonegonegonegone", 14, "web-3", nil, `{"polling_interval":0.1,"queues":"*","thread_pool_size":5}`, 10*time.Minute)

	at(2 * time.Minute)
	f.enqueue(job{queue: "default", class: "ReportJob"})
	at(30 * time.Second)
	f.enqueue(job{queue: "default", class: "ReportJob", priority: 5})
	at(0)
	f.enqueue(job{queue: "default", class: "ReportJob"})

	f.pause("mailers")
	at(time.Minute)
	f.enqueue(job{queue: "mailers", class: "ActionMailer::MailDeliveryJob"})
	hourAhead := base.Add(time.Hour)
	f.enqueue(job{queue: "mailers", class: "ActionMailer::MailDeliveryJob", scheduledAt: &hourAhead})

	at(12 * time.Minute)
	long := f.enqueue(job{queue: "critical", class: "ChargeJob"})
	done := f.enqueue(job{queue: "critical", class: "ChargeJob"})
	failed1 := f.enqueue(job{queue: "critical", class: "ChargeJob"})
	failed2 := f.enqueue(job{queue: "critical", class: "SyncJob"})
	at(10 * time.Minute)
	f.claim(long, wa)
	f.claim(done, wa)
	f.claim(failed1, wa)
	f.claim(failed2, wa)
	at(9 * time.Minute)
	f.finish(done)
	f.fail(failed1, "Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket:(closed)>")
	f.fail(failed2, "ActiveRecord::Deadlocked", "PG::TRDeadlockDetected: ERROR:  deadlock detected")
	at(40 * time.Second)
	short := f.enqueue(job{queue: "critical", class: "ChargeJob"})
	at(30 * time.Second)
	f.claim(short, wa)

	at(0)
	f.enqueue(job{queue: "limited", class: "ImportJob", concurrencyKey: "ImportJob/1"})
	f.enqueue(job{queue: "limited", class: "ImportJob", concurrencyKey: "ImportJob/1", blocked: true})
	f.pause("idle")
	f.now = base
}

func TestSnapshot(t *testing.T) {
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "public")
	writeScenario(f)

	s := take(t, f, "postgres", Options{StalledAfter: 5 * time.Minute, EstimateAbove: 500_000, ByClassMaxEntries: 100})
	assert.Equal(t, "solid_queue", s.System)
	assert.Equal(t, f.now, s.Time)
	assert.Equal(t, StateFailed, s.DeadState)
	assert.Equal(t, []string{"critical", "default", "idle", "limited", "mailers"}, snapshottest.QueueNames(s))
	assert.Equal(t, 5, s.QueuesDiscovered)

	assert.Equal(t, snapshot.Queue{Name: "default", Size: 3, Latency: 2 * time.Minute, PausedKnown: true}, snapshottest.Queue(t, s, "default"))
	assert.Equal(t, snapshot.Queue{Name: "mailers", Size: 1, Latency: time.Minute, Paused: true, PausedKnown: true}, snapshottest.Queue(t, s, "mailers"))
	assert.Equal(t, snapshot.Queue{Name: "idle", Paused: true, PausedKnown: true}, snapshottest.Queue(t, s, "idle"))
	assert.Equal(t, snapshot.Queue{Name: "critical", PausedKnown: true, Running: 2, RunningMaxAge: 10 * time.Minute, Stalled: 1},
		snapshottest.Queue(t, s, "critical"))

	all := func(ready, scheduled, claimed, blocked, failed, finished int64) map[string]int64 {
		return map[string]int64{StateReady: ready, StateScheduled: scheduled, StateClaimed: claimed, StateBlocked: blocked, StateFailed: failed, StateFinished: finished}
	}
	assert.Equal(t, all(3, 0, 0, 0, 0, 0), snapshottest.Jobs(s, "default"))
	assert.Equal(t, all(1, 1, 0, 0, 0, 0), snapshottest.Jobs(s, "mailers"))
	assert.Equal(t, all(0, 0, 2, 0, 2, 1), snapshottest.Jobs(s, "critical"))
	assert.Equal(t, all(1, 0, 0, 1, 0, 0), snapshottest.Jobs(s, "limited"))
	assert.Equal(t, all(0, 0, 0, 0, 0, 0), snapshottest.Jobs(s, "idle"))
	assert.Empty(t, snapshottest.Jobs(s, ""), "every count is exact, per queue")
	for _, j := range s.Jobs {
		assert.False(t, j.Estimated)
	}

	require.Len(t, s.Processes, 4)
	assert.Equal(t, 1, s.ProcessesStale, "worker-gone's heartbeat is older than process_alive_threshold")
	assert.Equal(t, snapshot.Process{ID: "dispatcher-0a1b2c3d4e5f60718293", Hostname: "web-1", PID: 11, HeartbeatAge: 4 * time.Second}, s.Processes[0])
	assert.Equal(t, snapshot.Process{ID: "supervisor-0a1b2c3d4e5f60718293", Hostname: "web-1", PID: 10, HeartbeatAge: 3 * time.Second}, s.Processes[1])
	assert.Equal(t, snapshot.Process{ID: "worker-aaaaaaaaaaaaaaaaaaaa", Hostname: "web-1", PID: 12, Busy: 2, Concurrency: 3,
		HeartbeatAge: 5 * time.Second, Queues: []string{"default", "critical"}}, s.Processes[2])
	assert.Equal(t, snapshot.Process{ID: "worker-bbbbbbbbbbbbbbbbbbbb", Hostname: "web-2", PID: 13, Concurrency: 5,
		HeartbeatAge: 20 * time.Second, Queues: []string{"*"}}, s.Processes[3])
	assert.False(t, s.ProcessesUnknown)
	assert.Empty(t, s.Totals, "Solid Queue keeps no execution counters")

	assert.Equal(t, []snapshot.ClassCount{
		{State: StateFailed, Class: "ChargeJob", ErrorType: "Net::ReadTimeout", Count: 1},
		{State: StateFailed, Class: "SyncJob", ErrorType: "ActiveRecord::Deadlocked", Count: 1},
	}, s.ByClass)
	assert.Empty(t, s.Problems)

	assertMatchesMissionControl(t, f, s)
}

func TestSelectionAndNoBreakdown(t *testing.T) {
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "public")
	writeScenario(f)
	s := take(t, f, "postgres", Options{
		Selection:     snapshot.Selection{Exclude: []*regexp.Regexp{regexp.MustCompile(`^idle$`)}, Max: 2},
		EstimateAbove: 500_000,
	})
	assert.Equal(t, []string{"critical", "default"}, snapshottest.QueueNames(s))
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, 2, s.QueuesDropped)
	assert.Zero(t, snapshottest.Queue(t, s, "critical").Stalled, "stalled_after 0 counts none")
	assert.Nil(t, s.ByClass, "not read unless asked for")
	for _, j := range s.Jobs {
		assert.Contains(t, []string{"critical", "default"}, j.Queue)
	}
}

// TestEstimateAbove: beyond EstimateAbove rows a state is one planner
// estimate for all queues, flagged as such; with 0 every count is exact.
func TestEstimateAbove(t *testing.T) {
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "public")
	for range 5 {
		f.finish(f.enqueue(job{queue: "default", class: "ReportJob"}))
	}
	f.fail(f.enqueue(job{queue: "default", class: "ReportJob"}), "RuntimeError", "boom")
	srv.Exec("app", "ANALYZE")

	s := take(t, f, "postgres", Options{EstimateAbove: 3})
	finished := snapshottest.Jobs(s, "")
	assert.Equal(t, map[string]int64{StateFinished: 5}, finished, "past the bound: the planner's estimate (exact after ANALYZE)")
	var estimated []string
	for _, j := range s.Jobs {
		if j.Estimated {
			estimated = append(estimated, j.State+"/"+j.Queue)
		}
	}
	assert.Equal(t, []string{"finished/"}, estimated)
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "default")[StateFailed], "within the bound: exact, per queue")
	_, perQueue := snapshottest.Jobs(s, "default")[StateFinished]
	assert.False(t, perQueue)

	// A stale estimate below what was seen is not reported.
	for range 20 {
		f.finish(f.enqueue(job{queue: "default", class: "ReportJob"}))
	}
	s = take(t, f, "postgres", Options{EstimateAbove: 10})
	assert.GreaterOrEqual(t, snapshottest.Jobs(s, "")[StateFinished], int64(11))
	f.exec(`ANALYZE ` + f.table(tJobs))

	// The same reader does not count again while the planner agrees the
	// state is beyond the bound; once it no longer does, it counts again.
	c := f.client("postgres")
	r := NewReader(c, Options{EstimateAbove: 10, Now: func() time.Time { return f.now }})
	ctx := context.Background()
	_, err := r.Snapshot(ctx)
	require.NoError(t, err)
	first := c.Counter().Commands()
	c.Counter().Reset()
	s, err = r.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, first-1, c.Counter().Commands(), "the finished count is not sent again")
	assert.Equal(t, int64(25), snapshottest.Jobs(s, "")[StateFinished], "the estimate alone")
	f.exec(`DELETE FROM ` + f.table(tJobs) + ` WHERE id IN (SELECT id FROM ` + f.table(tJobs) + ` WHERE finished_at IS NOT NULL LIMIT 20)`)
	f.exec(`ANALYZE ` + f.table(tJobs))
	s, err = r.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{StateFinished: 5}, snapshottest.Jobs(s, ""), "the estimate, now within the bound: counted next time")
	s, err = r.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), snapshottest.Jobs(s, "default")[StateFinished], "exact again")
	assert.Empty(t, snapshottest.Jobs(s, ""))

	f.finish(f.enqueue(job{queue: "default", class: "ReportJob"}))
	s = take(t, f, "postgres", Options{EstimateAbove: 0})
	assert.Equal(t, int64(6), snapshottest.Jobs(s, "default")[StateFinished], "0: always exact")
	for _, j := range s.Jobs {
		assert.False(t, j.Estimated)
	}
}

func TestBadData(t *testing.T) {
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "public")
	long := strings.Repeat("q", 1000)
	f.enqueue(job{queue: long, class: strings.Repeat("C", 600)})
	f.process("Worker", "worker-badjson", 1, "web-1", nil, `{"queues":"*","thread_pool_size":`, time.Second)
	f.process("Worker", "worker-nosize", 2, "web-1", nil, `{"queues":"*"}`, time.Second)
	f.process("Worker", "worker-nometa", 3, "", nil, ``, time.Second)
	f.process("Dispatcher", strings.Repeat("d", 300), 4, strings.Repeat("h", 300), nil, `{}`, time.Second)
	f.fail(f.enqueue(job{queue: "default", class: "A"}), "RuntimeError", "boom")
	f.failRaw(f.enqueue(job{queue: "default", class: "B"}), "not json")
	f.failRaw(f.enqueue(job{queue: "default", class: "C"}), `{"message":"no class","backtrace":[]}`)
	// A message longer than the prefix read, before the class: cut.
	f.failRaw(f.enqueue(job{queue: "default", class: "D"}), `{"message":"`+strings.Repeat("m", 3000)+`","exception_class":"Late"}`)
	// The usual order with a huge backtrace: the class is read.
	f.fail(f.enqueue(job{queue: "default", class: "E"}), "KeyError", strings.Repeat("m", 5000))
	f.fail(f.enqueue(job{queue: "default", class: strings.Repeat("F", 600)}), strings.Repeat("E", 300), "long names")

	s := take(t, f, "postgres", Options{ByClassMaxEntries: 10, EstimateAbove: 100})
	require.Len(t, s.Queues, 2)
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
	}
	assert.Equal(t, int64(1), s.Queues[1].Size, "the long-named queue is read, its name bounded")
	assert.Len(t, s.Processes, 4, "bad metadata loses capacity, not the process")
	for _, p := range s.Processes {
		assert.Zero(t, p.Concurrency)
		snapshottest.AssertName(t, p.ID)
		snapshottest.AssertName(t, p.Hostname)
	}
	var classes []string
	for _, c := range s.ByClass {
		snapshottest.AssertName(t, c.Class)
		snapshottest.AssertName(t, c.ErrorType)
		classes = append(classes, c.Class[:1]+"/"+c.ErrorType[:1])
	}
	assert.Equal(t, []string{"A/R", "E/K", "F/E"}, classes)
	assert.Equal(t, map[string]int{kindInvalidJSON: 5, kindInvalidValue: 1, snapshot.KindNameTooLong: 5}, snapshottest.ProblemKinds(s),
		"long: the queue, the dispatcher's name and hostname, the class and the exception class")
	assert.True(t, snapshottest.HasProblem(s, kindInvalidValue, "solid_queue_processes/2"))
}

func TestExceptionClass(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tt := range []struct {
		raw, want string
		ok        bool
	}{
		{`{"exception_class":"Net::ReadTimeout","message":"x","backtrace":[]}`, "Net::ReadTimeout", true},
		{`{"exception_class":"KeyError","message":"cut he`, "KeyError", true},
		{`{"message":"m","backtrace":["a"],"exception_class":"Late"}`, "Late", true},
		{`{"message":"cut befo`, "", false},
		{`["exception_class"]`, "", false},
		{`{"exception_class":42}`, "", false},
		{``, "", false},
	} {
		got, err := exceptionClass(str(tt.raw))
		assert.Equal(t, tt.ok, err == nil, tt.raw)
		assert.Equal(t, tt.want, got, tt.raw)
	}
	_, err := exceptionClass(nil)
	assert.Error(t, err)
}

func TestMissingTable(t *testing.T) {
	srv := pgtest.Start(t)
	f := newFixture(t, srv, "app", "public")
	c := f.client("postgres")
	s, err := NewReader(c, Options{Schema: "solid"}).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, `solid_queue: read queues: ERROR: relation "solid.solid_queue_jobs" does not exist`)
	cfg := pgclient.Config{Database: "app", Schema: "solid"}
	assert.ErrorContains(t, cfg.Explain(err), `check system, database and schema`, "the receiver's hint applies: the error keeps its SQLSTATE")
}
