// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
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

func TestSnapshot(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	// Celery's default queue on its exchange, a queue routed through the
	// default exchange (task_routes), one bound twice, an empty one.
	f.declare("celery", "celery", "celery")
	f.declare("mail", "mail", "mail")
	f.declare("fan", "k", "a")
	f.declare("fan", "k", "b")
	f.declare("idle", "idle", "idle")
	// Celery's remote control and events: mailboxes, not queues.
	f.declare("celery.pidbox", "", "w1@host.celery.pidbox")
	f.declare("reply.celery.pidbox", "abc", "abc")
	f.declare("celeryev", "#", "celeryev.1234")
	f.publish("celery", 0, 2)
	f.publish("celery", 3, 1)
	f.publish("celery", 9, 4)
	f.publish("mail", 6, 1)
	f.publish("celery", 5, 7) // no such step by default: not celery's

	f.deliver("t1", "celery", "celery", 10*time.Minute)
	f.deliver("t2", "celery", "celery", time.Minute)
	f.deliver("t3", "", "mail", 30*time.Second)
	f.deliver("t4", "fan", "k", 2*time.Hour)
	f.deliver("t5", "", "idle", -time.Second) // a worker clock ahead

	s := take(t, srv, Options{StalledAfter: 5 * time.Minute})
	assert.Equal(t, "celery", s.System)
	assert.Equal(t, testNow, s.Time)
	assert.Equal(t, []string{"a", "b", "celery", "idle", "mail"}, snapshottest.QueueNames(s))
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, snapshot.Queue{Name: "celery", Size: 7, LatencyUnknown: true, Running: 2, RunningMaxAge: 10 * time.Minute, Stalled: 1},
		snapshottest.Queue(t, s, "celery"))
	assert.Equal(t, snapshot.Queue{Name: "mail", Size: 1, LatencyUnknown: true, Running: 1, RunningMaxAge: 30 * time.Second},
		snapshottest.Queue(t, s, "mail"))
	assert.Equal(t, snapshot.Queue{Name: "a", LatencyUnknown: true, Running: 1, RunningMaxAge: 2 * time.Hour, Stalled: 1},
		snapshottest.Queue(t, s, "a"), "kombu restores a message to every queue its binding names")
	assert.Equal(t, int64(1), snapshottest.Queue(t, s, "b").Running)
	assert.Equal(t, snapshot.Queue{Name: "idle", LatencyUnknown: true, Running: 1}, snapshottest.Queue(t, s, "idle"))
	assert.Equal(t, []snapshot.StateCount{
		{State: "unacked", Queue: "a", Count: 1},
		{State: "unacked", Queue: "b", Count: 1},
		{State: "unacked", Queue: "celery", Count: 2},
		{State: "unacked", Queue: "idle", Count: 1},
		{State: "unacked", Queue: "mail", Count: 1},
	}, s.Jobs)
	assert.Empty(t, s.Processes)
	assert.True(t, s.ProcessesUnknown, "workers register nothing in Redis")
	assert.Empty(t, s.Totals)
	assert.Empty(t, s.Problems)
}

// TestSnapshotOptions: another separator, priority steps and a global key
// prefix, with another app's keys next to them.
func TestSnapshotOptions(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	newFixture(t, c, "").populate(2, 4, 1) // unprefixed: another app
	for _, k := range []string{"myapp:_kombu.binding.jobs"} {
		require.NoError(t, c.SAdd(ctx, k, "jobs::jobs").Err())
	}
	require.NoError(t, c.LPush(ctx, "myapp:jobs", "{}", "{}").Err())
	require.NoError(t, c.LPush(ctx, "myapp:jobs:1", "{}").Err())
	require.NoError(t, c.LPush(ctx, "myapp:jobs:9", "{}").Err())
	require.NoError(t, c.LPush(ctx, "myapp:jobs:3", "{}").Err()) // not a step here

	s := take(t, srv, Options{Prefix: "myapp:", Sep: ":", PrioritySteps: []int{0, 1, 9}})
	require.Equal(t, []string{"jobs"}, snapshottest.QueueNames(s))
	assert.Equal(t, int64(4), s.Queues[0].Size)
	assert.Zero(t, s.Queues[0].Running, "the other app's unacked messages are not ours")

	// A prefix with SCAN's pattern characters matches only itself.
	require.NoError(t, c.SAdd(ctx, "a[p]*?\\:_kombu.binding.odd", "odd::odd").Err())
	require.NoError(t, c.SAdd(ctx, "ap*:_kombu.binding.not_ours", "x::x").Err())
	s = take(t, srv, Options{Prefix: "a[p]*?\\:", Sep: ":"})
	assert.Equal(t, []string{"odd"}, snapshottest.QueueNames(s))
}

func TestSnapshotSelectionAndNames(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.populate(5, 2, 1) // q0000..q0004
	s := take(t, srv, Options{Selection: snapshot.Selection{Exclude: []*regexp.Regexp{regexp.MustCompile(`^q0000$`)}, Max: 2}})
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, 2, s.QueuesDropped)
	assert.Equal(t, []string{"q0001", "q0002"}, snapshottest.QueueNames(s))
	assert.Len(t, s.Jobs, 2)

	// Named queues need no SCAN: a queue without a binding set is read too.
	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	require.NoError(t, srv.Client(t).LPush(context.Background(), "unbound", "{}").Err())
	s, err := NewReader(c, fixedNow(Options{Names: []string{"q0003", "unbound"}})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []string{"q0003", "unbound"}, snapshottest.QueueNames(s))
	assert.Equal(t, snapshot.Queue{Name: "q0003", Size: 2, LatencyUnknown: true, Running: 1}, s.Queues[0])
	assert.Equal(t, int64(1), s.Queues[1].Size)
	assert.Equal(t, int64(3), n.RoundTrips())
	assert.Empty(t, s.Problems)
}

// TestSnapshotDiscovery: a pass over a large database takes one bounded SCAN
// step per snapshot, queues appear as it finds them, a vanished binding set
// is forgotten when a pass ends, and a new pass waits for the interval.
func TestSnapshotDiscovery(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	// 4 scan steps' worth of unrelated keys (results, say).
	pipe := admin.Pipeline()
	for i := range 4 * scanCount {
		pipe.Set(ctx, "celery-task-meta-"+strconv.Itoa(i), "{}", 0)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	f := newFixture(t, admin, "")
	f.populate(3, 1, 0)

	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	now := testNow
	r := NewReader(c, Options{DiscoveryInterval: time.Hour, Now: func() time.Time { return now }})
	snap := func() *snapshot.Snapshot {
		t.Helper()
		n.Reset()
		s, err := r.Snapshot(ctx)
		require.NoError(t, err)
		assert.LessOrEqual(t, n.RoundTrips(), int64(3), "a discovery step costs no round trip of its own")
		return s
	}
	var passes int
	for passes = 1; passes <= 20; passes++ {
		s := snap()
		if len(s.Queues) == 3 && r.cursor == 0 {
			break
		}
		now = now.Add(time.Minute)
	}
	assert.Greater(t, passes, 1, "the pass took several bounded steps")
	assert.Less(t, passes, 20)

	// Between passes, no SCAN: the binding sets found are read as they are.
	require.NoError(t, admin.Del(ctx, "_kombu.binding.q0001").Err())
	f.declare("late", "late", "late")
	n.Reset()
	s := snap()
	assert.Equal(t, []string{"q0000", "q0002"}, snapshottest.QueueNames(s), "an emptied binding set reads as no bindings")
	assert.Equal(t, int64(1+1+2*3+4*2), n.Commands(), "no SCAN: ZCARD, ZRANGE; SCARD+SRANDMEMBER x3; LLEN x4 x2")

	// After the interval a new pass finds the new queue.
	now = now.Add(time.Hour)
	for range 20 {
		s = snap()
		if r.cursor == 0 {
			break
		}
		now = now.Add(time.Minute)
	}
	assert.Equal(t, []string{"late", "q0000", "q0002"}, snapshottest.QueueNames(s))
	assert.Len(t, r.known, 3, "the vanished binding set is forgotten")
}

// TestSnapshotRoundTrips proves the cost is fixed: three pipelined round
// trips for one queue and for 1,000 queues, with commands growing only with
// what is read.
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		queues, jobs, unacked int
	}{
		{"1 queue", 1, 1, 1},
		{"1000 queues", 1000, 20, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			newFixture(t, srv.Client(t), "").populate(tc.queues, tc.jobs, tc.unacked)
			c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			r := NewReader(c, fixedNow(Options{StalledAfter: time.Minute, DiscoveryInterval: time.Hour}))
			for i := range 2 { // a second snapshot (no SCAN: within the interval) costs the same round trips
				n.Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Empty(t, s.Problems)
				assert.Equal(t, int64(3), n.RoundTrips())
				scan := 1 - i
				assert.Equal(t, int64(scan+2+2*tc.queues+1+4*tc.queues), n.Commands())
				var unacked int64
				for _, q := range s.Queues {
					assert.Equal(t, int64(tc.jobs), q.Size)
					unacked += q.Running
				}
				assert.Equal(t, int64(tc.queues*tc.unacked), unacked)
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
	newFixture(t, admin, "").populate(3, 5, 2)
	require.NoError(t, admin.Set(ctx, "celery-task-meta-1", `{"status": "SUCCESS", "result": 1}`, 0).Err())
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "on", ">pw", "%R~*", "resetchannels", "-@all",
		"+scan", "+scard", "+srandmember", "+hmget", "+zcard", "+zrange", "+llen", "+getrange").Err())
	writes := srv.WatchWrites(t)

	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "jobq", Password: "pw"})
	s, err := NewReader(c, fixedNow(Options{Results: 10})).Snapshot(ctx)
	require.NoError(t, err)
	assert.Len(t, s.Queues, 3)
	assert.Contains(t, s.Jobs, snapshot.StateCount{State: "success", Count: 1})
	assert.Empty(t, s.Problems)
	writes.AssertReadOnly(t, c)

	// A user missing one of them gets a clear error, not a partial snapshot.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "-llen").Err())
	s, err = NewReader(c, fixedNow(Options{})).Snapshot(ctx)
	assert.Nil(t, s)
	require.ErrorContains(t, err, "celery: read queues from "+srv.Addr()+": LLEN q0000")
	require.ErrorContains(t, err, "NOPERM")
}

// TestSnapshotFaults writes every kind of bad data next to good data: each is
// skipped and reported, the rest is read as usual.
func TestSnapshotFaults(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")

	f.declare("good", "good", "good")
	f.publish("good", 0, 1)
	require.NoError(t, c.Set(ctx, "_kombu.binding.stringy", "x", 0).Err())
	require.NoError(t, c.SAdd(ctx, "_kombu.binding.odd", "no separators", "a"+DefaultSep+"b", "k"+DefaultSep+DefaultSep).Err())
	f.declare("hashy", "hashy", "hashy")
	require.NoError(t, c.HSet(ctx, "hashy"+DefaultSep+"6", "a", "b").Err())
	f.deliver("u1", "good", "good", 2*time.Minute)
	f.deliverRaw("u2", "garbage[secret-arg", time.Minute)
	f.deliverRaw("u3", `[{"body":"x"}, "good"]`, time.Minute)
	f.deliverRaw("u4", `[{"body":"x"}, 1, "good"]`, time.Minute)
	f.deliver("u5", "good", "other", time.Minute)   // no binding routes it
	f.deliver("u7", "nowhere", "good", time.Minute) // no binding set: not counted, no bad data
	// 10 MB of message before the exchange and routing key.
	big := `[{"body":"` + strings.Repeat(`a\"{[`, 2<<20) + `"}, "good", "good"]`
	require.Greater(t, len(big), 10<<20)
	f.deliverRaw("u6", big, 3*time.Minute)
	// In the index, not in the hash: acked between the two reads.
	require.NoError(t, c.ZAdd(ctx, "unacked_index", redis.Z{Score: 1, Member: "gone"}).Err())

	s := take(t, srv, Options{StalledAfter: time.Minute})
	assert.Equal(t, []string{"good"}, snapshottest.QueueNames(s), "hashy's size would be partial: not reported")
	assert.Equal(t, snapshot.Queue{Name: "good", Size: 1, LatencyUnknown: true, Running: 2, RunningMaxAge: 3 * time.Minute, Stalled: 2},
		s.Queues[0], "the good delivery and the 10 MB one")
	for _, w := range []struct{ kind, key string }{
		{"wrong_type", "_kombu.binding.stringy"},
		{kindInvalidValue, "_kombu.binding.odd"},
		{"wrong_type", "hashy" + DefaultSep + "6"},
		{kindInvalidJSON, "unacked"},
		{kindMissingQueue, "unacked"},
	} {
		assert.True(t, snapshottest.HasProblem(s, w.kind, w.key), "%s on %q in %+v", w.kind, w.key, s.Problems)
	}
	assert.Len(t, s.Problems, 1+3+1+3+1, "%+v", s.Problems)
	for _, p := range s.Problems {
		assert.NotContains(t, p.Detail, "secret-arg", "details never quote payloads")
	}

	// Keys of the wrong type where kombu keeps its unacked messages.
	require.NoError(t, c.Del(ctx, "unacked", "unacked_index").Err())
	require.NoError(t, c.Set(ctx, "unacked_index", "x", 0).Err())
	s = take(t, srv, Options{})
	assert.True(t, snapshottest.HasProblem(s, "wrong_type", "unacked_index"))
	assert.Equal(t, int64(1), snapshottest.Queue(t, s, "good").Size)
	require.NoError(t, c.Del(ctx, "unacked_index").Err())
	f.deliver("u1", "good", "good", time.Minute)
	require.NoError(t, c.Del(ctx, "unacked").Err())
	require.NoError(t, c.Set(ctx, "unacked", "x", 0).Err())
	s = take(t, srv, Options{})
	assert.True(t, snapshottest.HasProblem(s, "wrong_type", "unacked"))
	assert.Zero(t, snapshottest.Queue(t, s, "good").Running)
}

// TestSnapshotHostileNames: names no Celery client would write but anything
// with access to the Redis can are bounded, counted, and still read.
func TestSnapshotHostileNames(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	huge := strings.Repeat("q", 1<<20)
	for _, q := range []string{huge, "caf\xe9", "default"} {
		f.declare(q, q, q)
		f.publish(q, 0, 1)
		f.deliverRaw("t-"+q[:4], `[{"body":"x"}, "", "`+q+`"]`, time.Minute)
	}
	s := take(t, srv, Options{})
	require.Len(t, s.Queues, 3)
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
		assert.Equal(t, int64(1), q.Size)
		assert.Equal(t, int64(1), q.Running, "unacked messages are routed by the raw name")
	}
	assert.True(t, snapshottest.HasProblem(s, "name_too_long", "_kombu.binding.*"))
	assert.True(t, snapshottest.HasProblem(s, "invalid_utf8", "_kombu.binding.*"))
}

func TestSnapshotRedisDown(t *testing.T) {
	addr, err := snapshottest.RedisDown(t, NewReader, Options{})
	require.ErrorContains(t, err, "celery: discover queues from "+addr+": dial tcp "+addr)
}

// TestSnapshotRedisHungThenBack: a hung server fails the snapshot within the
// client's timeout; once it answers again, so does the reader.
func TestSnapshotRedisHungThenBack(t *testing.T) {
	srv := redistest.Start(t)
	newFixture(t, srv.Client(t), "").populate(1, 1, 0)
	s := snapshottest.AssertHungThenBack(t, srv, NewReader, fixedNow(Options{}), "celery: discover queues")
	assert.Empty(t, s.Queues)
}

// TestSnapshotResults counts the result backend's states as Celery's
// RedisBackend stores them, over passes: a result gone (expired) is
// forgotten when a pass ends, a state that changed is read again by the
// next pass, and bad or oversized results cost a problem or 128 bytes.
func TestSnapshotResults(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	meta := func(id, status string) {
		t.Helper()
		v := `{"status": "` + status + `", "result": null, "traceback": null, "children": [], "date_done": "2026-11-27T11:59:00.000000", "task_id": "` + id + `"}`
		require.NoError(t, admin.Set(ctx, "celery-task-meta-"+id, v, time.Hour).Err())
	}
	for i := range 5 {
		meta("ok"+strconv.Itoa(i), "SUCCESS")
	}
	meta("f1", "FAILURE")
	meta("r1", "RETRY")
	meta("s1", "STARTED")
	require.NoError(t, admin.Set(ctx, "celery-task-meta-big",
		`{"status": "SUCCESS", "result": "`+strings.Repeat("x", 10<<20)+`"}`, 0).Err())
	require.NoError(t, admin.Set(ctx, "celery-task-meta-garbage", "not json", 0).Err())
	require.NoError(t, admin.HSet(ctx, "celery-task-meta-hash", "a", "b").Err())
	newFixture(t, admin, "").populate(1, 1, 0)

	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	r := NewReader(c, fixedNow(Options{Results: 100, DiscoveryInterval: time.Hour}))
	states := func() map[string]int64 {
		t.Helper()
		n.Reset()
		s, err := r.Snapshot(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n.RoundTrips())
		return snapshottest.Jobs(s, "")
	}
	assert.Equal(t, map[string]int64{"success": 6, "failure": 1, "retry": 1, "started": 1}, states())

	require.NoError(t, admin.Del(ctx, "celery-task-meta-ok0", "celery-task-meta-ok1").Err())
	meta("s1", "SUCCESS")
	assert.Equal(t, map[string]int64{"success": 5, "failure": 1, "retry": 1}, states(), "the next pass reads again")

	// Bounded: beyond Options.Results keys, the rest are not remembered.
	r = NewReader(c, fixedNow(Options{Results: 3}))
	s, err := r.Snapshot(ctx)
	require.NoError(t, err)
	var counted int64
	for _, j := range s.Jobs {
		if j.Queue == "" {
			counted += j.Count
		}
	}
	assert.Equal(t, int64(3), counted)
	assert.True(t, snapshottest.HasProblem(s, kindRegistryTruncated, "celery-task-meta-*"))
	assert.True(t, snapshottest.HasProblem(s, kindInvalidJSON, "celery-task-meta-garbage"))
	assert.True(t, snapshottest.HasProblem(s, "wrong_type", "celery-task-meta-hash"))
}

// TestSnapshotResultsPasses: in a database larger than one SCAN step, a
// pass takes several snapshots and counts only grow until it ends.
func TestSnapshotResultsPasses(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	pipe := admin.Pipeline()
	const results = 3 * scanCount
	for i := range results {
		pipe.Set(ctx, "celery-task-meta-"+strconv.Itoa(i), `{"status": "SUCCESS"}`, 0)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	r := NewReader(c, fixedNow(Options{Results: 100_000}))
	var last int64
	for range 20 {
		s, err := r.Snapshot(ctx)
		require.NoError(t, err)
		var n int64
		for _, j := range s.Jobs {
			n += j.Count
		}
		assert.GreaterOrEqual(t, n, last)
		last = n
		if r.results.cursor == 0 {
			break
		}
	}
	assert.Equal(t, int64(results), last)
	assert.Equal(t, uint64(1), r.results.pass, "one pass took several snapshots")
}
