// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"context"
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

// TestSnapshotFaults writes every kind of bad data next to good data: each
// is skipped and reported, the rest is read as usual.
func TestSnapshotFaults(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c)

	f.enqueue("good", f.ago(time.Minute))
	require.NoError(t, c.SAdd(ctx, "rq:queues", "rq:queue:hash_queue", "not-a-queue-key").Err())
	require.NoError(t, c.HSet(ctx, "rq:queue:hash_queue", "a", "b").Err())
	require.NoError(t, c.RPush(ctx, "rq:failed:good", "x").Err())
	typed := f.enqueue("typed_job", f.ago(time.Second))
	require.NoError(t, c.Del(ctx, "rq:job:"+typed[0]).Err())
	require.NoError(t, c.Set(ctx, "rq:job:"+typed[0], "a string", 0).Err())
	// 10 MB of pickled data and a 10 MB description next to the field read.
	big := f.enqueue("big_job", f.ago(42*time.Second))
	require.NoError(t, c.HSet(ctx, "rq:job:"+big[0], "data", strings.Repeat("\x80", 10<<20), "description", strings.Repeat("d", 10<<20)).Err())
	huge := f.enqueue("huge_timestamp", f.ago(time.Second))
	require.NoError(t, c.HSet(ctx, "rq:job:"+huge[0], "enqueued_at", strings.Repeat("9", 10<<20)).Err())

	f.worker(rqWorker{name: "bad", state: "dancing", hostname: "h", pid: 1, queues: []string{"good"},
		beat: f.now, ttl: 400 * time.Second})
	require.NoError(t, c.HSet(ctx, "rq:worker:bad", "pid", "one", "successful_job_count", "-3", "failed_job_count",
		strings.Repeat("9", 100), "last_heartbeat", "soon").Err())
	f.worker(rqWorker{name: "no-beat", state: "busy", hostname: "h", pid: 2, queues: []string{"good"},
		beat: f.now, job: "ghost-job", origin: "good", started: f.now, ttl: 400 * time.Second})
	require.NoError(t, c.HDel(ctx, "rq:worker:no-beat", "last_heartbeat").Err())
	require.NoError(t, c.Del(ctx, "rq:job:ghost-job").Err())
	f.worker(rqWorker{name: "bad-start", state: "busy", hostname: "h", pid: 3, queues: []string{"good"},
		beat: f.now, job: "bad-start-job", origin: "good", started: f.now, ttl: 400 * time.Second})
	require.NoError(t, c.HSet(ctx, "rq:job:bad-start-job", "started_at", "noon").Err())
	require.NoError(t, c.SAdd(ctx, "rq:workers", "rq:worker:stringkey", "stranger").Err())
	require.NoError(t, c.Set(ctx, "rq:worker:stringkey", "x", time.Hour).Err())

	s := take(t, srv, Options{StalledAfter: time.Minute})

	assert.Equal(t, snapshot.Queue{Name: "good", Size: 1, Latency: time.Minute, Running: 1}, snapshottest.Queue(t, s, "good"),
		"a job without a readable start still runs; one without a hash has no known queue")
	for _, q := range s.Queues {
		assert.NotEqual(t, "hash_queue", q.Name, "no figures for a queue that is not a list")
	}
	assert.Len(t, s.Queues, 4)
	assert.NotContains(t, snapshottest.Jobs(s, "good"), StateFailed, "no count rather than a wrong one")
	assert.Equal(t, int64(1), snapshottest.Jobs(s, "good")[StateQueued])
	assert.Zero(t, snapshottest.Queue(t, s, "typed_job").Latency)
	assert.Equal(t, 42*time.Second, snapshottest.Queue(t, s, "big_job").Latency)
	assert.Zero(t, snapshottest.Queue(t, s, "huge_timestamp").Latency)

	require.Len(t, s.Processes, 3, "live workers with bad fields are still workers")
	bad := s.Processes[0]
	assert.Equal(t, "bad", bad.ID)
	assert.Zero(t, bad.PID)
	assert.Zero(t, bad.Busy)
	assert.Zero(t, bad.HeartbeatAge)
	assert.Equal(t, []snapshot.Totals{{}}, s.Totals, "bad counts count 0")

	want := []struct{ kind, key string }{
		{redisread.KindWrongType, "rq:queue:hash_queue"},
		{kindInvalidValue, "rq:queues"},
		{redisread.KindWrongType, "rq:failed:good"},
		{redisread.KindWrongType, "rq:job:" + typed[0]},
		{kindInvalidTimestamp, "rq:job:" + huge[0]},
		{redisread.KindInvalidNumber, "rq:worker:bad"},
		{kindInvalidValue, "rq:worker:bad"},
		{kindInvalidTimestamp, "rq:worker:bad"},
		{kindMissingTimestamp, "rq:worker:no-beat"},
		{kindMissingJob, "rq:worker:no-beat"},
		{kindInvalidTimestamp, "rq:job:bad-start-job"},
		{redisread.KindWrongType, "rq:worker:stringkey"},
		{kindInvalidValue, "rq:workers"},
	}
	for _, w := range want {
		assert.True(t, snapshottest.HasProblem(s, w.kind, w.key), "%s on %s in %+v", w.kind, w.key, s.Problems)
	}
	assert.Len(t, s.Problems, len(want)+2, "pid and both counts of bad: three invalid_number")
	for _, p := range s.Problems {
		assert.NotContains(t, p.Detail, "999999", "details never quote values")
	}
}

// TestSnapshotHostileNames writes names no RQ client would, but anything
// with access to the Redis can: a 1 MB queue name, names that are not
// UTF-8, a 1 MB worker name and hostname. Every name reported is bounded
// and valid, each fix is a counted problem, the rest goes on.
func TestSnapshotHostileNames(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t))
	huge := strings.Repeat("q", 1<<20)
	for _, q := range []string{huge, "caf\xe9", "with space:and,comma", "default"} {
		f.enqueue(q, f.ago(time.Minute))
	}
	bigName := strings.Repeat("w", 1<<20)
	f.worker(rqWorker{name: bigName, state: "busy", hostname: strings.Repeat("h", 1<<20), pid: 1,
		queues: []string{huge, "caf\xe9"}, beat: f.now, job: "j", origin: huge, started: f.ago(time.Minute),
		ttl: 400 * time.Second})

	s := take(t, srv, Options{})
	require.Len(t, s.Queues, 4)
	names := map[string]bool{}
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
		assert.Equal(t, time.Minute, q.Latency, "%.40q", q.Name)
		names[q.Name] = true
		if strings.HasPrefix(q.Name, "qqq") {
			assert.Equal(t, int64(1), q.Running, "a long-named queue's running job is still counted")
		}
	}
	assert.True(t, names["caf\uFFFD"])
	assert.True(t, names["with space:and,comma"])
	require.Len(t, s.Processes, 1)
	p := s.Processes[0]
	snapshottest.AssertName(t, p.ID)
	snapshottest.AssertName(t, p.Hostname)
	for _, q := range p.Queues {
		snapshottest.AssertName(t, q)
	}
	for _, pr := range s.Problems {
		snapshottest.AssertName(t, pr.Key)
	}
	// Too long: the queue, the worker name, its hostname, its queue list
	// entry. Not UTF-8: the queue and the worker's queue list entry.
	assert.Equal(t, map[string]int{snapshot.KindNameTooLong: 4, snapshot.KindInvalidUTF8: 2}, snapshottest.ProblemKinds(s), "%+v", s.Problems)
}

// TestSnapshotRoundTrips proves the cost is fixed: three pipelined round
// trips for one queue and for 1,000 queues with 200 workers, commands
// growing only with what is read.
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		queues, jobs, workers, busy int
	}{
		{"1 queue", 1, 1, 1, 1},
		{"1000 queues 200 workers", 1000, 25, 200, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			newFixture(t, srv.Client(t)).populate(tc.queues, tc.jobs, tc.workers, tc.busy)
			c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			r := NewReader(c, fixedNow(Options{StalledAfter: time.Minute}))
			for range 2 { // a second snapshot on warm connections costs the same
				n.Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Len(t, s.Processes, tc.workers)
				require.Empty(t, s.Problems)
				assert.Equal(t, int64(3), n.RoundTrips())
				// 4 registry reads; per queue LLEN, LINDEX, 6 ZCARD, 3 ZCOUNT
				// and its head job; per worker HMGET, PTTL; per busy one
				// its job.
				assert.Equal(t, int64(4+12*tc.queues+2*tc.workers+tc.busy), n.Commands())
			}
		})
	}
}

// TestSnapshotEmpty: nothing to point at, no third round trip.
func TestSnapshotEmpty(t *testing.T) {
	srv := redistest.Start(t)
	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, fixedNow(Options{})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Empty(t, s.Queues)
	assert.Empty(t, s.Processes)
	assert.Equal(t, []snapshot.Totals{{}}, s.Totals)
	assert.Equal(t, int64(1), n.RoundTrips(), "the registries; nothing else to read")
}

// readOnlyACLs are the users the README recommends for system: rq: read
// categories, or exactly the commands the package doc lists.
var readOnlyACLs = map[string][]any{
	"categories": {"+@read", "+@connection", "-@dangerous"},
	"commands":   {"+hello", "+auth", "+ping", "+select", "+scard", "+srandmember", "+llen", "+lindex", "+zcard", "+zcount", "+hmget", "+pttl"},
}

// TestSnapshotReadOnlyUser runs the reader as each read-only ACL user the
// README recommends, and checks the dataset is unchanged.
func TestSnapshotReadOnlyUser(t *testing.T) {
	for name, rules := range readOnlyACLs {
		t.Run(name, func(t *testing.T) { readOnlyUser(t, rules) })
	}
}

func readOnlyUser(t *testing.T, rules []any) {
	srv := redistest.Start(t, redistest.WithDebugCommand())
	admin := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, admin)
	f.populate(3, 2, 2, 1)
	// What RQ's own API would clean or remove: an expired finished entry,
	// an abandoned started job, a registry entry whose worker is gone.
	now := float64(testNow.Unix())
	f.register("rq:finished:q0000", "q0000", "finished", now-10)
	f.register("rq:wip:q0000", "q0000", "started", now-10)
	require.NoError(t, admin.SAdd(ctx, "rq:workers", "rq:worker:gone").Err())
	require.NoError(t, admin.Do(ctx, append([]any{"ACL", "SETUSER", "jobq", "on", ">pw", "%R~*", "resetchannels", "-@all"}, rules...)...).Err())
	writes := srv.WatchWrites(t)

	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "jobq", Password: "pw"})
	s, err := NewReader(c, fixedNow(Options{StalledAfter: time.Second})).Snapshot(ctx)
	require.NoError(t, err)
	assert.Len(t, s.Queues, 3)
	assert.Len(t, s.Processes, 2)
	assert.Equal(t, 1, s.ProcessesStale)
	writes.AssertReadOnly(t, c)

	// A user missing one of them gets a clear error, not a partial snapshot.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "-zcount").Err())
	s, err = NewReader(c, fixedNow(Options{})).Snapshot(ctx)
	assert.Nil(t, s)
	require.ErrorContains(t, err, "rq: read queues and workers from "+srv.Addr()+": ZCOUNT rq:wip:q0000")
	require.ErrorContains(t, err, "NOPERM")
}

func TestSnapshotRedisDown(t *testing.T) {
	addr, err := snapshottest.RedisDown(t, NewReader, Options{})
	require.ErrorContains(t, err, "rq: read registries from "+addr+": dial tcp "+addr)
}

// TestSnapshotRedisHungThenBack: a hung server fails the snapshot within
// the client's timeout; once it answers again, so does the reader.
func TestSnapshotRedisHungThenBack(t *testing.T) {
	srv := redistest.Start(t)
	newFixture(t, srv.Client(t)).enqueue("default", testNow)
	s := snapshottest.AssertHungThenBack(t, srv, NewReader, fixedNow(Options{}), "rq: read registries")
	assert.Empty(t, s.Queues)
}

// TestSnapshotManyWorkers floods the worker registry: the reader reads a
// bounded subset, says so, and stays within two round trips (nothing
// points at a job).
func TestSnapshotManyWorkers(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	members := make([]any, 0, 50_000)
	for i := range 200_000 {
		members = append(members, "rq:worker:ghost-"+strconv.Itoa(i))
		if len(members) == cap(members) {
			require.NoError(t, admin.SAdd(ctx, "rq:workers", members...).Err())
			members = members[:0]
		}
	}
	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, fixedNow(Options{})).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, maxWorkers, s.ProcessesStale)
	assert.True(t, snapshottest.HasProblem(s, redisread.KindRegistryTruncated, "rq:workers"))
	assert.Equal(t, int64(2), n.RoundTrips())
}
