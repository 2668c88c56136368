// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

func take(t *testing.T, srv *redistest.Server, now time.Time, opts Options) *snapshot.Snapshot {
	t.Helper()
	opts.Now = func() time.Time { return now }
	return snapshottest.Take(t, srv, NewReader, opts)
}

func totals(s *snapshot.Snapshot, queue string) (snapshot.Totals, bool) {
	for _, t := range s.Totals {
		if t.Queue == queue {
			return t, true
		}
	}
	return snapshot.Totals{}, false
}

// TestSnapshotMatchesInspector plays tasks through every state asynq has,
// over two days, with three servers (one expired), and compares every
// figure with what asynq's Inspector computes on the same Redis
// (inspector_test.go): GetQueueInfo per queue, then Servers.
func TestSnapshotMatchesInspector(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	f := newFixture(t, admin, now.Add(-24*time.Hour))

	// Yesterday: processed and failed, counted in the day's keys too.
	for range 2 {
		f.enqueue("default", "email:send", []byte(`{"to":"x"}`))
		f.done("default", f.dequeue("default"))
	}
	f.enqueue("default", "email:send", nil)
	f.retry("default", f.dequeue("default"), "smtp: timeout", f.now.Add(time.Hour), true)

	f.now = now.Add(-10 * time.Minute)
	f.enqueue("default", "email:send", nil)
	f.now = now.Add(-5 * time.Minute)
	f.enqueue("default", "email:send", nil)
	running := f.enqueue("critical", "payment:charge", nil)
	f.enqueue("critical", "payment:charge", nil)
	require.Equal(t, running, f.dequeue("critical"))
	f.enqueue("low", "report:build", nil)
	f.enqueue("low", "report:build", nil)
	f.pause("low")

	f.now = now.Add(-2 * time.Minute)
	f.schedule("mail", "digest:send", now.Add(time.Hour))
	f.schedule("mail", "digest:send", now.Add(2*time.Hour))
	for range 5 {
		f.enqueue("mail", "digest:send", nil)
	}
	f.retry("mail", f.dequeue("mail"), "temporary", now.Add(time.Minute), true)
	f.retry("mail", f.dequeue("mail"), "rate limited", now.Add(time.Minute), false) // not a failure: not counted
	f.archive("mail", f.dequeue("mail"), "skip retry for the task: bad address")
	f.complete("mail", f.dequeue("mail"), time.Hour)
	mailRunning := f.dequeue("mail")
	for range 3 {
		f.group("batch", "g1", "metrics:flush")
	}
	f.group("batch", "g2", "metrics:flush")

	// A server shutting down put its task back, without pending_since,
	// at the tail: the Inspector reads a latency of 0.
	f.enqueue("shutdown", "image:resize", nil)
	f.enqueue("shutdown", "image:resize", nil)
	f.requeue("shutdown", f.dequeue("shutdown"))
	// A queue whose tasks are all done keeps only its counters.
	f.enqueue("idle", "noop", nil)
	f.done("idle", f.dequeue("idle"))

	f.now = now.Add(-time.Minute)
	f.beat(&fakeServer{host: "gone", pid: 9, id: "stale-server", concurrency: 4, queues: map[string]int32{"default": 1},
		status: "active", started: now.Add(-time.Hour)})
	f.now = now.Add(-2 * time.Second)
	s1 := &fakeServer{
		host: "web-1", pid: 100, id: "11111111-1111-4111-8111-111111111111", concurrency: 10,
		queues: map[string]int32{"critical": 6, "default": 3, "mail": 1}, status: "active", started: now.Add(-time.Hour),
		workers: []fakeWorker{
			{taskID: running, taskType: "payment:charge", queue: "critical", started: now.Add(-7 * time.Minute)},
			{taskID: mailRunning, taskType: "digest:send", queue: "mail", started: now.Add(-30 * time.Second)},
		},
	}
	s2 := &fakeServer{host: "web-2", pid: 200, id: "22222222-2222-4222-8222-222222222222", concurrency: 2,
		queues: map[string]int32{"low": 1}, status: "stopped", started: now.Add(-time.Minute)}
	f.beat(s1)
	f.beat(s2)

	s := take(t, srv, now, Options{StalledAfter: 5 * time.Minute})

	in := &inspector{c: admin, now: now}
	names, err := in.queues(ctx)
	require.NoError(t, err)
	slices.Sort(names)
	assert.Equal(t, []string{"batch", "critical", "default", "idle", "low", "mail", "shutdown"}, names)
	assert.Equal(t, len(names), s.QueuesDiscovered)
	require.Len(t, s.Queues, len(names))
	for i, name := range names {
		want, ok, err := in.getQueueInfo(ctx, name)
		require.NoError(t, err)
		require.True(t, ok)
		q := s.Queues[i]
		require.Equal(t, name, q.Name)
		assert.Equal(t, want.Pending, q.Size, name)
		assert.Equal(t, want.Latency, q.Latency, name)
		assert.Equal(t, want.Paused, q.Paused, name)
		assert.True(t, q.PausedKnown)
		assert.Equal(t, map[string]int64{
			"active": want.Active, "scheduled": want.Scheduled, "retry": want.Retry, "archived": want.Archived,
			"completed": want.Completed, "aggregating": want.Aggregating,
		}, snapshottest.Jobs(s, name), name)
		got, ok := totals(s, name)
		require.True(t, ok, name)
		assert.Equal(t, snapshot.Totals{Queue: name, Processed: want.ProcessedTotal, Failed: want.FailedTotal}, got, name)
	}

	// The same figures, spelled out: the tail is the oldest task; the
	// totals are all-time, not the day's.
	def, _, _ := in.getQueueInfo(ctx, "default")
	assert.Equal(t, 10*time.Minute, snapshottest.Queue(t, s, "default").Latency)
	assert.Equal(t, inspectedQueue{Pending: 2, Retry: 1, ProcessedTotal: 3, FailedTotal: 1, Latency: 10 * time.Minute}, def)
	assert.Equal(t, map[string]int64{"active": 1, "scheduled": 2, "retry": 2, "archived": 1, "completed": 1, "aggregating": 0}, snapshottest.Jobs(s, "mail"))
	mail, _ := totals(s, "mail")
	assert.Equal(t, snapshot.Totals{Queue: "mail", Processed: 3, Failed: 2}, mail, "retry (a failure), archive, complete")
	assert.Equal(t, int64(4), snapshottest.Jobs(s, "batch")["aggregating"])
	assert.True(t, snapshottest.Queue(t, s, "low").Paused)
	assert.Zero(t, snapshottest.Queue(t, s, "shutdown").Latency)
	assert.Equal(t, int64(2), snapshottest.Queue(t, s, "shutdown").Size)

	// Servers: the reader reads first, since Servers() deletes the expired
	// entry (a write).
	assert.Equal(t, 1, s.ProcessesStale)
	servers, err := in.servers(ctx)
	require.NoError(t, err)
	require.Len(t, s.Processes, len(servers))
	running2 := map[string][]workerSeen{}
	for _, want := range servers {
		var got snapshot.Process
		for _, p := range s.Processes {
			if strings.HasSuffix(p.ID, ":"+want.ServerID) {
				got = p
			}
		}
		require.NotEmpty(t, got.ID, want.ServerID)
		assert.Equal(t, want.Host+":"+strconv.FormatInt(want.PID, 10)+":"+want.ServerID, got.ID)
		assert.Equal(t, want.Host, got.Hostname)
		assert.Equal(t, want.PID, got.PID)
		assert.Equal(t, want.Concurrency, got.Concurrency)
		assert.Equal(t, int64(len(want.ActiveWorkers)), got.Busy)
		slices.Sort(want.Queues)
		assert.Equal(t, want.Queues, got.Queues)
		assert.Equal(t, want.Status == "stopped", got.Quiet)
		// From the entry's expiry score, in whole seconds: up to 1 s more.
		assert.GreaterOrEqual(t, got.HeartbeatAge, 2*time.Second)
		assert.Less(t, got.HeartbeatAge, 3*time.Second)
		assert.False(t, got.MemoryKnown, "ServerInfo has no memory figure")
		for _, w := range want.ActiveWorkers {
			running2[w.Queue] = append(running2[w.Queue], w)
		}
	}
	for _, q := range s.Queues {
		var maxAge time.Duration
		var stalled int64
		for _, w := range running2[q.Name] {
			maxAge = max(maxAge, now.Sub(w.Started))
			if now.Sub(w.Started) > 5*time.Minute {
				stalled++
			}
		}
		assert.Equal(t, int64(len(running2[q.Name])), q.Running, q.Name)
		assert.Equal(t, maxAge, q.RunningMaxAge, q.Name)
		assert.Equal(t, stalled, q.Stalled, q.Name)
	}
	assert.Equal(t, 7*time.Minute, snapshottest.Queue(t, s, "critical").RunningMaxAge)
	assert.Equal(t, int64(1), snapshottest.Queue(t, s, "critical").Stalled)
	assert.Empty(t, s.Problems)

	n, err := admin.ZCard(ctx, "asynq:servers").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), n, "the Inspector removed the expired entry")
	assert.Zero(t, take(t, srv, now, Options{}).ProcessesStale)
}

func TestSnapshotSelection(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), time.Now())
	for _, q := range []string{"critical", "default", "low", "tmp_1", "tmp_2"} {
		f.enqueue(q, "t", nil)
	}
	s := take(t, srv, f.now, Options{Selection: snapshot.Selection{
		Exclude: []*regexp.Regexp{regexp.MustCompile(`^tmp_`)},
		Max:     2,
	}})
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, 1, s.QueuesDropped)
	require.Len(t, s.Queues, 2)
	assert.Equal(t, "critical", s.Queues[0].Name)
	assert.Equal(t, "default", s.Queues[1].Name)
	assert.Len(t, s.Jobs, 2*6, "states of the reported queues only")
}

// TestSnapshotTailDequeued dequeues the oldest task between the reader's
// reads of the tail and of its hash, as a busy server does: the reader
// reads the new tail in a fourth round trip and reports its age, with no
// problem.
func TestSnapshotTailDequeued(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	now := time.Now()
	f := newFixture(t, admin, now.Add(-3*time.Minute))
	f.enqueue("default", "t", nil)
	f.now = now.Add(-2 * time.Minute)
	f.enqueue("default", "t", nil)
	f.now = now.Add(-time.Minute)
	f.enqueue("default", "t", nil)

	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	steps := 0
	c.AddHook(dequeueBeforeHMGET{f: f, queue: "default", times: &steps})
	s, err := NewReader(c, Options{Now: func() time.Time { return now }}).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 2, steps, "a worker took the tail before each hash read")
	q := snapshottest.Queue(t, s, "default")
	assert.Equal(t, int64(3), q.Size, "as counted in round trip 2")
	assert.Equal(t, time.Minute, q.Latency, "the oldest task still pending in round trip 4")
	assert.Empty(t, s.Problems)
	assert.Equal(t, int64(4), n.RoundTrips())
}

// dequeueBeforeHMGET dequeues a task of queue before each pipeline that
// reads a task hash.
type dequeueBeforeHMGET struct {
	f     *fixture
	queue string
	times *int
}

func (dequeueBeforeHMGET) DialHook(next redis.DialHook) redis.DialHook { return next }

func (dequeueBeforeHMGET) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h dequeueBeforeHMGET) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "hmget" {
			*h.times++
			h.f.dequeue(h.queue)
		}
		return next(ctx, cmds)
	}
}

// TestSnapshotRoundTrips proves the cost is fixed: three pipelined round
// trips for one queue and for 1,000 queues (100,000 tasks) with 200
// servers, commands growing only with what is read.
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		queues, tasks, servers, busy int
	}{
		{"1 queue", 1, 1, 1, 1},
		{"1000 queues 200 servers", 1000, 100, 200, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			now := time.Now()
			f := newFixture(t, srv.Client(t), now)
			f.serverTTL = time.Hour // writing takes longer than asynq's 10 s on a busy machine
			f.populate(tc.queues, tc.tasks, tc.servers, tc.busy)
			c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			r := NewReader(c, Options{StalledAfter: time.Minute, Now: func() time.Time { return now }})
			for range 2 { // a second snapshot on warm connections costs the same
				n.Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Len(t, s.Processes, tc.servers)
				require.Empty(t, s.Problems)
				assert.Equal(t, time.Duration(tc.tasks)*time.Second, s.Queues[0].Latency)
				assert.Equal(t, int64(3), n.RoundTrips())
				// 5 + 11 per queue + 2 per server, then HMGET and LRANGE
				// per non-empty queue (no groups).
				assert.Equal(t, int64(5+11*tc.queues+2*tc.servers+2*tc.queues), n.Commands())
			}
		})
	}
}

// TestSnapshotReadOnlyUser runs the reader as an ACL user allowed exactly the
// commands the package documents, and checks that Redis denied nothing and
// the dataset is unchanged.
func TestSnapshotReadOnlyUser(t *testing.T) {
	srv := redistest.Start(t, redistest.WithDebugCommand())
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	f := newFixture(t, admin, now)
	f.serverTTL = time.Hour
	f.populate(3, 2, 2, 1)
	f.group("q0000", "g", "t")
	f.now = now.Add(-time.Minute)
	f.beat(&fakeServer{host: "old", pid: 1, id: "x", status: "active"}) // expired entry: the reader leaves it
	// The receiver README's line for asynq.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "on", ">pw", "%R~*", "-@all", "+hello", "+auth",
		"+ping", "+select", "+scard", "+srandmember", "+zcard", "+zcount", "+zrangebyscore", "+llen", "+lindex",
		"+lrange", "+get", "+exists", "+hmget", "+hvals").Err())
	writes := srv.WatchWrites(t)

	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "jobq", Password: "pw"})
	s, err := NewReader(c, Options{Now: func() time.Time { return now }}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Len(t, s.Queues, 3)
	assert.Len(t, s.Processes, 2)
	assert.Equal(t, 1, s.ProcessesStale)
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "q0000")["aggregating"])
	writes.AssertReadOnly(t, c)

	// docs/deployment.md's category-based user is enough too.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "reader", "on", ">pw", "%R~*", "-@all", "+@read",
		"+@connection", "-@dangerous").Err())
	c2, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "reader", Password: "pw"})
	s2, err := NewReader(c2, Options{Now: func() time.Time { return now }}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, s.Queues, s2.Queues)
	writes.AssertUnchanged(t)

	// A user missing one of them gets a clear error, not a partial snapshot.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "-hmget").Err())
	s, err = NewReader(c, Options{Now: func() time.Time { return now }}).Snapshot(ctx)
	assert.Nil(t, s)
	require.ErrorContains(t, err, "asynq: read pending tails from "+srv.Addr()+": HMGET asynq:{q")
	require.ErrorContains(t, err, "NOPERM")
}

// TestSnapshotFaults writes every kind of bad data next to good data: each is
// skipped and reported, the rest is read as usual.
func TestSnapshotFaults(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	f := newFixture(t, c, now.Add(-time.Minute))

	f.enqueue("good", "t", nil)
	// A task hash deleted by hand: the tail id leads nowhere.
	id := f.enqueue("no_hash", "t", nil)
	require.NoError(t, c.Del(ctx, qkey("no_hash", "t:"+id)).Err())
	id = f.enqueue("bad_since", "t", nil)
	require.NoError(t, c.HSet(ctx, qkey("bad_since", "t:"+id), "pending_since", "yesterday").Err())
	id = f.enqueue("string_task", "t", nil)
	require.NoError(t, c.Del(ctx, qkey("string_task", "t:"+id)).Err())
	require.NoError(t, c.Set(ctx, qkey("string_task", "t:"+id), "x", 0).Err())
	// Keys of the wrong type.
	require.NoError(t, c.SAdd(ctx, "asynq:queues", "hash_queue").Err())
	require.NoError(t, c.HSet(ctx, qkey("hash_queue", "pending"), "a", "b").Err())
	f.enqueue("typed", "t", nil)
	require.NoError(t, c.Set(ctx, qkey("typed", "scheduled"), "x", 0).Err())
	require.NoError(t, c.Set(ctx, qkey("typed", "processed"), "lots", 0).Err())
	require.NoError(t, c.RPush(ctx, qkey("typed", "groups"), "g").Err())
	f.group("bad_group", "g1", "t")
	f.group("bad_group", "g2", "t")
	require.NoError(t, c.Del(ctx, qkey("bad_group", "g:g2")).Err())
	require.NoError(t, c.Set(ctx, qkey("bad_group", "g:g2"), "x", 0).Err())
	// 10 MB of payload in the tail task's message.
	big := make([]byte, 10<<20)
	f.enqueue("huge_payload", "t", big)

	// A server whose info is not a protobuf, one with a corrupt worker,
	// one whose info is a hash, and a registry entry of another shape.
	f.now = now.Add(-time.Second)
	corrupt := &fakeServer{host: "corrupt", pid: 1, id: "a", status: "active"}
	f.beat(corrupt)
	require.NoError(t, c.Set(ctx, corrupt.key("asynq:servers:"), "\xff\xff\xff garbage", time.Minute).Err())
	busy := &fakeServer{host: "busy", pid: 2, id: "b", concurrency: 3, status: "active", workers: []fakeWorker{
		{taskID: "w1", queue: "good", started: now.Add(-2 * time.Minute)},
	}}
	f.beat(busy)
	require.NoError(t, c.HSet(ctx, busy.key("asynq:workers:"), "w2", "\x0a\x05ab").Err()) // truncated string
	noStart := marshal(t, pb.worker, map[string]any{"queue": "good", "task_id": "w3"})
	require.NoError(t, c.HSet(ctx, busy.key("asynq:workers:"), "w3", noStart).Err())
	typed := &fakeServer{host: "typed", pid: 3, id: "c", status: "active"}
	f.beat(typed)
	require.NoError(t, c.Del(ctx, typed.key("asynq:servers:")).Err())
	require.NoError(t, c.HSet(ctx, typed.key("asynq:servers:"), "a", "b").Err())
	require.NoError(t, c.ZAdd(ctx, "asynq:servers", redis.Z{Score: float64(now.Add(time.Minute).Unix()), Member: "something-else"}).Err())

	s := take(t, srv, now, Options{StalledAfter: time.Minute})

	assert.Equal(t, snapshot.Queue{Name: "good", Size: 1, Latency: time.Minute, PausedKnown: true, Running: 2,
		RunningMaxAge: 2 * time.Minute, Stalled: 1}, snapshottest.Queue(t, s, "good"),
		"a worker without start_time still runs; the corrupt one is skipped")
	for _, name := range []string{"no_hash", "bad_since", "string_task"} {
		q := snapshottest.Queue(t, s, name)
		assert.Equal(t, int64(1), q.Size, name)
		assert.Zero(t, q.Latency, name)
	}
	assert.Equal(t, time.Minute, snapshottest.Queue(t, s, "huge_payload").Latency)
	for _, q := range s.Queues {
		assert.NotEqual(t, "hash_queue", q.Name, "no figures for a queue whose pending key is not a list")
	}
	typedJobs := snapshottest.Jobs(s, "typed")
	_, ok := typedJobs["scheduled"]
	assert.False(t, ok, "no scheduled count when the key is not a sorted set")
	_, ok = typedJobs["aggregating"]
	assert.False(t, ok, "no aggregating count when groups is not a set")
	_, ok = totals(s, "typed")
	assert.False(t, ok, "no totals rather than a wrong one")
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "bad_group")["aggregating"], "the readable group is counted")

	require.Len(t, s.Processes, 1)
	assert.Equal(t, int64(2), s.Processes[0].Busy)
	assert.Equal(t, "busy", s.Processes[0].Hostname)

	want := []struct{ kind, key string }{
		{kindMissingTask, qkey("no_hash", "t:"+f.tasksOf("no_hash")[0])},
		{kindInvalidTimestamp, qkey("bad_since", "t:"+f.tasksOf("bad_since")[0])},
		{kindWrongType, qkey("string_task", "t:"+f.tasksOf("string_task")[0])},
		{kindWrongType, qkey("hash_queue", "pending")},
		{kindWrongType, qkey("typed", "scheduled")},
		{redisread.KindInvalidNumber, qkey("typed", "processed")},
		{kindWrongType, qkey("typed", "groups")},
		{kindWrongType, qkey("bad_group", "g:g2")},
		{kindInvalidProtobuf, corrupt.key("asynq:servers:")},
		{kindInvalidProtobuf, busy.key("asynq:workers:")},
		{kindMissingTimestamp, busy.key("asynq:workers:")},
		{kindWrongType, typed.key("asynq:servers:")},
		{kindInvalidValue, "asynq:servers"},
	}
	for _, w := range want {
		assert.True(t, snapshottest.HasProblem(s, w.kind, w.key), "%s on %s in %+v", w.kind, w.key, s.Problems)
	}
	assert.Len(t, s.Problems, len(want))
	for _, p := range s.Problems {
		assert.NotContains(t, p.Detail, "garbage", "details never quote values")
	}
}

// tasksOf returns the ids of the tasks the fixture created in queue.
func (f *fixture) tasksOf(queue string) []string {
	var ids []string
	for id, m := range f.tasks {
		if m["queue"] == queue {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// TestSnapshotHostileNames writes names no asynq client would, but anything
// with access to the Redis can: a 1 MB queue name, two long names that
// differ only past the bound, a name that is not UTF-8, a 1 MB host.
func TestSnapshotHostileNames(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now()
	f := newFixture(t, srv.Client(t), now.Add(-time.Minute))
	huge := strings.Repeat("q", 1<<20)
	twinA, twinB := strings.Repeat("é", 200)+"A", strings.Repeat("é", 200)+"B"
	for _, q := range []string{huge, twinA, twinB, "default"} {
		f.enqueue(q, "t", nil)
	}
	// asynq cannot encode a queue name that is not UTF-8 (proto3 strings):
	// only something else writing its keys can make one.
	latin1 := "caf\xe9"
	c := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, c.SAdd(ctx, "asynq:queues", latin1).Err())
	require.NoError(t, c.LPush(ctx, qkey(latin1, "pending"), "id").Err())
	require.NoError(t, c.HSet(ctx, qkey(latin1, "t:id"), "state", "pending", "pending_since", f.now.UnixNano()).Err())
	bigHost := strings.Repeat("h", 1<<20)
	f.now = now
	f.beat(&fakeServer{host: bigHost, pid: 1, id: "x", status: "active", queues: map[string]int32{huge: 1},
		workers: []fakeWorker{{taskID: "w", queue: huge, started: now.Add(-time.Second)}}})

	s := take(t, srv, now, Options{})
	require.Len(t, s.Queues, 5)
	names := map[string]bool{}
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
		assert.Equal(t, time.Minute, q.Latency, "%.40q", q.Name)
		names[q.Name] = true
		if strings.HasPrefix(q.Name, "qqq") {
			assert.Equal(t, int64(1), q.Running, "running tasks still count for a long-named queue")
		}
	}
	assert.Len(t, names, 5, "long names sharing their first bytes stay distinct")
	assert.True(t, names["caf\uFFFD"])
	require.Len(t, s.Processes, 1)
	p := s.Processes[0]
	for _, name := range append([]string{p.ID, p.Hostname}, p.Queues...) {
		snapshottest.AssertName(t, name)
	}
	for _, pr := range s.Problems {
		snapshottest.AssertName(t, pr.Key)
	}
	// Too long: the huge queue and the twins, the server's identity, host
	// and queue. Not UTF-8: the latin1 queue.
	assert.Equal(t, map[string]int{"name_too_long": 6, "invalid_utf8": 1}, snapshottest.ProblemKinds(s), "%+v", s.Problems)
}

func TestSnapshotRedisDown(t *testing.T) {
	addr, err := snapshottest.RedisDown(t, NewReader, Options{})
	require.ErrorContains(t, err, "asynq: read registries from "+addr+": dial tcp "+addr)
}

// TestSnapshotRedisHungThenBack: a hung server fails the snapshot within the
// client's timeout; once it answers again, so does the reader.
func TestSnapshotRedisHungThenBack(t *testing.T) {
	srv := redistest.Start(t)
	newFixture(t, srv.Client(t), time.Now()).enqueue("default", "t", nil)
	s := snapshottest.AssertHungThenBack(t, srv, NewReader, Options{}, "asynq: read registries")
	assert.Empty(t, s.Queues)
}

// TestSnapshotGroupsBounded: a queue with more aggregation groups than the
// reader reads counts the groups read and says so.
func TestSnapshotGroupsBounded(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	f := newFixture(t, c, now)
	f.group("batch", "g", "t")
	groups := make([]any, 0, maxGroups)
	for i := range maxGroups { // with g, one more than the reader reads
		groups = append(groups, "g"+strconv.Itoa(i))
	}
	require.NoError(t, c.SAdd(ctx, qkey("batch", "groups"), groups...).Err())
	s := take(t, srv, now, Options{})
	assert.LessOrEqual(t, snapshottest.Jobs(s, "batch")["aggregating"], int64(1), "g may be among the groups read")
	assert.True(t, snapshottest.HasProblem(s, kindRegistryTruncated, qkey("batch", "groups")), "%+v", s.Problems)

	require.NoError(t, c.SRem(ctx, qkey("batch", "groups"), "g0").Err())
	s = take(t, srv, now, Options{})
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "batch")["aggregating"], "all 1,000 groups read")
	assert.Empty(t, s.Problems)
}
