// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

func take(t *testing.T, srv *redistest.Server, opts Options) *snapshot.Snapshot {
	t.Helper()
	opts.Now = func() time.Time { return testNow }
	return snapshottest.Take(t, srv, NewReader, opts)
}

// TestSnapshotRuby reads what Resque 3.0 (Ruby) writes: ISO 8601 run_at and
// heartbeats, both failure backends, pause-all-workers, a stale worker.
func TestSnapshotRuby(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")

	f.enqueue("critical", f.job("A", 1), f.job("B"))
	f.enqueue("default", f.job("C"), f.job("C"), f.job("C"))
	f.enqueue("empty")
	busy := f.rubyWorker("web-1", 101, f.ago(30*time.Second), "critical,default")
	f.rubyWorking(busy, "default", f.ago(10*time.Minute))
	idle := f.rubyWorker("web-2", 202, f.ago(59*time.Second), "*")
	// Dead for six minutes: Resque would prune it, but lists its job as
	// working until then.
	stale := f.rubyWorker("web-3", 303, f.ago(6*time.Minute), "critical")
	f.rubyWorking(stale, "critical", f.ago(7*time.Minute))
	for range 2 {
		f.fail("default", false)
	}
	for range 3 {
		f.fail("critical", true)
	}
	f.fail("low", true)
	f.stats(1234, 6)
	require.NoError(t, c.Set(ctx, f.key("pause-all-workers"), " TRUE\n", 0).Err())

	s := take(t, srv, Options{StalledAfter: 8 * time.Minute})

	assert.Equal(t, "resque", s.System)
	assert.Equal(t, testNow, s.Time)
	assert.Equal(t, 3, s.QueuesDiscovered)
	assert.Equal(t, []snapshot.Queue{
		{Name: "critical", Size: 2, LatencyUnknown: true, Running: 1, RunningMaxAge: 7 * time.Minute},
		{Name: "default", Size: 3, LatencyUnknown: true, Running: 1, RunningMaxAge: 10 * time.Minute, Stalled: 1},
		{Name: "empty", LatencyUnknown: true},
	}, s.Queues)
	assert.Equal(t, []snapshot.StateCount{
		{State: snapshot.StateFailed, Count: 2 + 3 + 1},
		{State: StateWorking, Count: 2},
	}, s.Jobs)
	assert.Equal(t, []snapshot.Totals{{Processed: 1234, Failed: 6}}, s.Totals)
	assert.Equal(t, []snapshot.Process{
		{ID: busy, Hostname: "web-1", PID: 101, Busy: 1, Concurrency: 1, HeartbeatAge: 30 * time.Second, Quiet: true, Queues: []string{"critical", "default"}},
		{ID: idle, Hostname: "web-2", PID: 202, Concurrency: 1, HeartbeatAge: 59 * time.Second, Quiet: true, Queues: []string{"*"}},
	}, s.Processes)
	assert.Equal(t, 1, s.ProcessesStale)
	assert.Empty(t, s.Problems)

	require.NoError(t, c.Del(ctx, f.key("pause-all-workers")).Err())
	s = take(t, srv, Options{StaleAfter: 10 * time.Minute})
	require.Len(t, s.Processes, 3, "a longer prune interval keeps web-3 live")
	assert.False(t, s.Processes[0].Quiet)
}

// TestSnapshotNodeResque reads what node-resque 9 writes differently: pings
// in worker:ping:<name> (epoch seconds), run_at as Date#toString, workers
// named freely or by a MultiWorker (pid+n).
func TestSnapshotNodeResque(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.enqueue("mail", f.job("send"))
	multi := f.nodeWorker("box:4242+3", f.ago(2*time.Second), "mail")
	f.nodeWorking(multi, "box:4242+3", "mail", f.ago(90*time.Second))
	named := f.nodeWorker("workerA", f.ago(4*time.Second), "mail,other")
	gone := f.nodeWorker("box:99", f.ago(time.Hour), "mail")
	f.nodeWorking(gone, "box:99", "mail", f.ago(2*time.Hour))
	// Both heartbeats: the newer counts.
	both := f.nodeWorker("box:7", f.ago(3*time.Minute), "mail")
	require.NoError(t, f.c.HSet(context.Background(), f.key("workers:heartbeat"), both, f.ago(5*time.Second).Format(time.RFC3339)).Err())

	s := take(t, srv, Options{StalledAfter: time.Hour})
	assert.Equal(t, []snapshot.Queue{
		{Name: "mail", Size: 1, LatencyUnknown: true, Running: 2, RunningMaxAge: 2 * time.Hour, Stalled: 1},
	}, s.Queues)
	assert.Equal(t, []snapshot.Process{
		{ID: "box:4242+3:mail", Hostname: "box", PID: 4242, Busy: 1, Concurrency: 1, HeartbeatAge: 2 * time.Second, Queues: []string{"mail"}},
		{ID: "box:7:mail", Hostname: "box", PID: 7, Concurrency: 1, HeartbeatAge: 5 * time.Second, Queues: []string{"mail"}},
		{ID: named, Concurrency: 1, HeartbeatAge: 4 * time.Second, Queues: []string{"mail", "other"}},
	}, s.Processes)
	assert.Equal(t, 1, s.ProcessesStale)
	assert.Equal(t, []snapshot.StateCount{{State: snapshot.StateFailed}, {State: StateWorking, Count: 2}}, s.Jobs)
	assert.Equal(t, []snapshot.Totals{{}}, s.Totals, "missing counters are 0")
	assert.Empty(t, s.Problems)
}

func TestSnapshotNamespace(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ns := newFixture(t, c, "myapp")
	root := newFixture(t, c, "")

	ns.enqueue("default", ns.job("A"))
	id := ns.rubyWorker("host", 1, ns.ago(time.Second), "default")
	ns.rubyWorking(id, "default", ns.ago(time.Minute))
	ns.fail("default", false)
	ns.stats(7, 1)
	// Another app's keys (the default namespace) must not leak in.
	root.enqueue("decoy", root.job("B"))
	root.rubyWorker("other", 2, root.now, "decoy")
	root.fail("decoy", false)
	root.stats(999, 9)

	s := take(t, srv, Options{Namespace: "myapp"})
	assert.Equal(t, []snapshot.Queue{{Name: "default", Size: 1, LatencyUnknown: true, Running: 1, RunningMaxAge: time.Minute}}, s.Queues)
	require.Len(t, s.Processes, 1)
	assert.Equal(t, id, s.Processes[0].ID)
	assert.Equal(t, []snapshot.Totals{{Processed: 7, Failed: 1}}, s.Totals)
	assert.Equal(t, []snapshot.StateCount{{State: snapshot.StateFailed, Count: 1}, {State: StateWorking, Count: 1}}, s.Jobs)

	s = take(t, srv, Options{})
	assert.Equal(t, "decoy", s.Queues[0].Name, "no namespace set reads Resque's default, resque:")
}

func TestSnapshotSelection(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	for _, q := range []string{"critical", "default", "low", "tmp_1", "tmp_2"} {
		f.enqueue(q, f.job("J"))
	}
	id := f.rubyWorker("h", 1, f.now, "low")
	f.rubyWorking(id, "low", f.ago(time.Minute))
	s := take(t, srv, Options{Selection: snapshot.Selection{
		Exclude: []*regexp.Regexp{regexp.MustCompile(`^tmp_`)},
		Max:     2,
	}})
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, 1, s.QueuesDropped, "low passed the filters but is beyond max")
	require.Len(t, s.Queues, 2)
	assert.Equal(t, "critical", s.Queues[0].Name)
	assert.Equal(t, "default", s.Queues[1].Name)
	assert.Equal(t, []snapshot.StateCount{{State: snapshot.StateFailed}, {State: StateWorking, Count: 1}}, s.Jobs,
		"working counts every worker, whatever queue it works")
}

// TestSnapshotFaults writes every kind of bad data next to good data: each is
// skipped and reported, the rest is read as usual.
func TestSnapshotFaults(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")

	f.enqueue("good", f.job("J"))
	require.NoError(t, c.SAdd(ctx, f.key("queues"), "hash_queue").Err())
	require.NoError(t, c.HSet(ctx, f.key("queue:hash_queue"), "a", "b").Err())
	f.enqueue("not_json", "garbage{secret-arg")
	require.NoError(t, c.Set(ctx, f.key("stat:processed"), "lots", 0).Err())
	require.NoError(t, c.SAdd(ctx, f.key("failed_queues"), "set_failed").Err())
	require.NoError(t, c.SAdd(ctx, f.key("set_failed"), "x").Err())
	f.fail("good", false)

	bad := func(name, value string) string {
		id := f.rubyWorker(name, 1, f.ago(time.Second), "good")
		if value != "" {
			require.NoError(t, c.Set(ctx, f.key("worker:"+id), value, 0).Err())
		}
		return id
	}
	bad("not-json", "not json")
	bad("no-queue", `{"run_at":"2026-11-27T11:59:00Z"}`)
	bad("no-run-at", `{"queue":"good","payload":{}}`)
	bad("number-run-at", `{"queue":"good","run_at":1795780740}`)
	bad("word-run-at", `{"queue":"good","run_at":"yesterday"}`)
	hashJob := bad("hash-job", "")
	require.NoError(t, c.HSet(ctx, f.key("worker:"+hashJob), "queue", "good").Err())
	// 10 MB of payload before the run_at the reader needs.
	big := `{"queue":"good","payload":{"class":"Big","args":["` + strings.Repeat("a\\\"{[", 2<<20) + `"]},"run_at":"` +
		f.ago(42*time.Second).Format(time.RFC3339) + `"}`
	require.Greater(t, len(big), 10<<20)
	bad("huge", big)
	noBeat := "nobeat:1:good"
	require.NoError(t, c.SAdd(ctx, f.key("workers"), noBeat).Err())
	badBeat := f.rubyWorker("badbeat", 1, f.now, "good")
	require.NoError(t, c.HSet(ctx, f.key("workers:heartbeat"), badBeat, "soon").Err())
	f.nodeWorker("badping:1", f.now, "good")
	require.NoError(t, c.Set(ctx, f.key("worker:ping:badping:1"), `{"time":"soon"}`, 0).Err())
	f.nodeWorker("brokenping:1", f.now, "good")
	require.NoError(t, c.Set(ctx, f.key("worker:ping:brokenping:1"), `{"time":`, 0).Err())

	s := take(t, srv, Options{StalledAfter: time.Hour})

	assert.Equal(t, []snapshot.Queue{
		// The jobs of no-run-at, number-run-at, word-run-at and huge.
		{Name: "good", Size: 1, LatencyUnknown: true, Running: 4, RunningMaxAge: 42 * time.Second},
		{Name: "not_json", Size: 1, LatencyUnknown: true},
	}, s.Queues, "payloads are never read: a queue is its length")
	assert.Equal(t, []snapshot.StateCount{{State: snapshot.StateFailed, Count: 1}, {State: StateWorking, Count: 6}}, s.Jobs,
		"a hash where a job should be reads as no job, as for Resque (MGET)")
	assert.Nil(t, s.Totals, "no totals rather than a wrong processed count")
	assert.Len(t, s.Processes, 11)
	for _, want := range []struct{ kind, key string }{
		{redisread.KindWrongType, "resque:queue:hash_queue"},
		{redisread.KindWrongType, "resque:set_failed"},
		{redisread.KindInvalidNumber, "resque:stat:processed"},
		{kindInvalidJSON, "resque:worker:not-json:1:good"},
		{kindMissingQueue, "resque:worker:no-queue:1:good"},
		{kindMissingTimestamp, "resque:worker:no-run-at:1:good"},
		{kindInvalidTimestamp, "resque:worker:number-run-at:1:good"},
		{kindInvalidTimestamp, "resque:worker:word-run-at:1:good"},
		{kindMissingTimestamp, "resque:worker:nobeat:1:good"},
		{kindInvalidTimestamp, "resque:workers:heartbeat"},
		{kindInvalidTimestamp, "resque:worker:ping:badping:1"},
		{kindInvalidJSON, "resque:worker:ping:brokenping:1"},
	} {
		assert.True(t, snapshottest.HasProblem(s, want.kind, want.key), "%s at %s in %+v", want.kind, want.key, s.Problems)
	}
	for _, p := range s.Problems {
		assert.NotContains(t, p.Detail, "secret", "payloads never leak into problems")
	}

	// Registries of the wrong type: nothing to read, still no error.
	for _, k := range []string{"queues", "workers", "failed_queues"} {
		require.NoError(t, c.Del(ctx, f.key(k)).Err())
		require.NoError(t, c.RPush(ctx, f.key(k), "x").Err())
	}
	for _, k := range []string{"failed", "pause-all-workers", "stat:failed"} {
		require.NoError(t, c.Del(ctx, f.key(k)).Err())
		require.NoError(t, c.SAdd(ctx, f.key(k), "x").Err())
	}
	s = take(t, srv, Options{})
	assert.Empty(t, s.Queues)
	assert.Empty(t, s.Processes)
	assert.Equal(t, []snapshot.StateCount{{State: StateWorking}}, s.Jobs, "no failed count from a failed key that is not a list")
	assert.Equal(t, 6, snapshottest.ProblemKinds(s)[redisread.KindWrongType], "%+v", s.Problems)
}

// TestSnapshotHostileNames: a 1 MB queue name and worker host, names that
// are not UTF-8. Every name reported is bounded and valid, each fix counted.
func TestSnapshotHostileNames(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	huge := strings.Repeat("q", 1<<20)
	latin1 := "caf\xe9"
	for _, q := range []string{huge, latin1, "default"} {
		f.enqueue(q, f.job("J"))
	}
	bigHost := strings.Repeat("h", 1<<20)
	id := f.rubyWorker(bigHost, 1, f.ago(time.Second), huge+","+latin1)
	f.rubyWorking(id, huge, f.ago(time.Minute))

	s := take(t, srv, Options{})
	require.Len(t, s.Queues, 3)
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
		if strings.HasPrefix(q.Name, "qqq") {
			assert.Equal(t, int64(1), q.Running, "a running job still counts for a long-named queue")
		}
	}
	require.Len(t, s.Processes, 1)
	p := s.Processes[0]
	for _, n := range append([]string{p.ID, p.Hostname}, p.Queues...) {
		snapshottest.AssertName(t, n)
	}
	// Too long: the queue, the id, the host, the id's queue. Not UTF-8:
	// the queue, the id, the id's queue.
	assert.Equal(t, 4, snapshottest.ProblemKinds(s)[snapshot.KindNameTooLong], "%+v", s.Problems)
	assert.Equal(t, 3, snapshottest.ProblemKinds(s)[snapshot.KindInvalidUTF8], "%+v", s.Problems)
}

// TestSnapshotRoundTrips proves the cost is fixed: two pipelined round trips
// for one queue and for 1,000 queues (each with a multi-queue failure list)
// with 200 workers, commands growing only with the queues read.
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		queues, jobs, workers int
	}{
		{"1 queue", 1, 1, 1},
		{"1000 queues 200 workers", 1000, 25, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			f := newFixture(t, srv.Client(t), "")
			f.populate(tc.queues, tc.jobs, tc.workers)
			for q := range tc.queues {
				f.fail("q"+strconv.Itoa(10000 + q)[1:], true)
			}
			c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			r := NewReader(c, Options{StalledAfter: time.Minute, Now: func() time.Time { return testNow }})
			for range 2 { // a second snapshot on warm connections costs the same
				n.Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Len(t, s.Processes, tc.workers)
				require.Empty(t, s.Problems)
				assert.Equal(t, int64(2), n.RoundTrips())
				assert.Equal(t, int64(10+2*tc.queues+3), n.Commands())
				assert.Equal(t, []snapshot.StateCount{
					{State: snapshot.StateFailed, Count: int64(50 + tc.queues)},
					{State: StateWorking, Count: int64((tc.workers + 1) / 2)},
				}, s.Jobs)
			}
		})
	}
}

// readOnlyACLs are the read-only users the receiver README recommends: by
// categories, or exactly the commands the package doc lists.
var readOnlyACLs = map[string][]any{
	"categories": {"+@read", "+@connection", "-@dangerous"},
	"commands":   {"+hello", "+auth", "+ping", "+select", "+scard", "+srandmember", "+llen", "+get", "+mget", "+hmget"},
}

// TestSnapshotReadOnlyUser runs the reader as each read-only ACL user the
// README recommends, and checks that Redis denied nothing and the dataset is
// unchanged.
func TestSnapshotReadOnlyUser(t *testing.T) {
	for name, rules := range readOnlyACLs {
		t.Run(name, func(t *testing.T) { readOnlyUser(t, rules) })
	}
}

func readOnlyUser(t *testing.T, rules []any) {
	srv := redistest.Start(t, redistest.WithDebugCommand())
	admin := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, admin, "")
	f.populate(3, 2, 4)
	f.fail("q0000", true)
	// What Resque would prune: a worker dead for an hour, with its job.
	dead := f.rubyWorker("dead", 9, f.ago(time.Hour), "q0000")
	f.rubyWorking(dead, "q0000", f.ago(time.Hour))
	require.NoError(t, admin.Do(ctx, append([]any{"ACL", "SETUSER", "jobq", "on", ">pw", "%R~*", "resetchannels", "-@all"}, rules...)...).Err())
	writes := srv.WatchWrites(t)

	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "jobq", Password: "pw"})
	s, err := NewReader(c, Options{Now: func() time.Time { return testNow }}).Snapshot(ctx)
	require.NoError(t, err)
	assert.Len(t, s.Queues, 3)
	assert.Len(t, s.Processes, 4)
	assert.Equal(t, 1, s.ProcessesStale)
	assert.Equal(t, []snapshot.StateCount{{State: snapshot.StateFailed, Count: 51}, {State: StateWorking, Count: 3}}, s.Jobs)
	writes.AssertReadOnly(t, c)

	// A user missing one of them gets a clear error, not a partial snapshot.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "-hmget").Err())
	s, err = NewReader(c, Options{}).Snapshot(ctx)
	assert.Nil(t, s)
	require.ErrorContains(t, err, "resque: read queues and workers from "+srv.Addr()+": HMGET resque:workers:heartbeat")
	require.ErrorContains(t, err, "NOPERM")
}

func TestSnapshotRedisDown(t *testing.T) {
	addr, err := snapshottest.RedisDown(t, NewReader, Options{})
	require.ErrorContains(t, err, "resque: read registries from "+addr+": dial tcp "+addr)
}

// TestSnapshotRedisHungThenBack: a hung server fails the snapshot within the
// client's timeout; once it answers again, so does the reader, and after a
// restart (an empty server) too.
func TestSnapshotRedisHungThenBack(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.enqueue("default", f.job("J"))
	s := snapshottest.AssertHungThenBack(t, srv, NewReader, Options{}, "resque: read registries")
	assert.Empty(t, s.Queues)
}
