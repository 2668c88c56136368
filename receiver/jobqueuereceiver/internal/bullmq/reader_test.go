// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package bullmq

import (
	"context"
	"encoding/base64"
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

func take(t *testing.T, srv *redistest.Server, opts Options) *snapshot.Snapshot {
	t.Helper()
	return snapshottest.Take(t, srv, NewReader, fixedNow(opts))
}

func TestSnapshotQueue(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.queue("emails")
	f.waiting("emails", ago(90*time.Second))
	f.waiting("emails", ago(60*time.Second))
	f.waiting("emails", ago(30*time.Second))
	f.active("emails", ago(10*time.Minute))
	f.active("emails", ago(time.Minute))
	f.inSet("emails", "prioritized", 1<<32)
	f.inSet("emails", "prioritized", 2<<32)
	f.inSet("emails", "delayed", float64(testNow.Add(time.Hour).UnixMilli()*4096))
	f.inSet("emails", "waiting-children", float64(ago(time.Hour).UnixMilli()))
	f.inSet("emails", "completed", float64(ago(time.Minute).UnixMilli()))
	f.failed("emails", "send", "smtp down")
	f.metrics("emails", 40, 2)
	f.queue("idle")
	require.NoError(t, srv.Client(t).HSet(context.Background(), "bull:idle:meta", "paused", "1").Err())

	s := take(t, srv, Options{StalledAfter: 5 * time.Minute})

	assert.Equal(t, "bullmq", s.System)
	assert.Equal(t, 2, s.QueuesDiscovered)
	assert.Equal(t, []snapshot.Queue{
		{
			Name: "emails", Size: 5, Latency: 90 * time.Second, PausedKnown: true,
			Running: 2, RunningMaxAge: 10 * time.Minute, Stalled: 1,
		},
		{Name: "idle", PausedKnown: true, Paused: true},
	}, s.Queues)
	assert.Equal(t, map[string]int64{
		"waiting": 3, "active": 2, "delayed": 1, "prioritized": 2, "waiting-children": 1, "completed": 1, "failed": 1,
	}, snapshottest.Jobs(s, "emails"))
	assert.Equal(t, []snapshot.Totals{{Queue: "emails", Processed: 42, Failed: 2}}, s.Totals,
		"totals only where the queue keeps metrics")
	assert.True(t, s.ProcessesUnknown, "workers are not read unless asked")
	assert.Empty(t, s.Processes)
	assert.Nil(t, s.ByClass)
	assert.Empty(t, s.Problems)
}

// TestSnapshotManyActive: past 100 active jobs, the count comes from LLEN
// and the ages from the 100 oldest, still in two round trips.
func TestSnapshotManyActive(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.queue("busy")
	for i := range 150 { // fetched oldest first: the oldest end at the tail
		f.active("busy", ago(time.Duration(150-i)*time.Minute))
	}
	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, fixedNow(Options{StalledAfter: 30 * time.Second})).Snapshot(context.Background())
	require.NoError(t, err)
	assert.Equal(t, snapshot.Queue{
		Name: "busy", PausedKnown: true, Running: 150, RunningMaxAge: 150 * time.Minute, Stalled: 100,
	}, snapshottest.Queue(t, s, "busy"))
	assert.Equal(t, int64(150), snapshottest.Jobs(s, "busy")["active"])
	assert.Equal(t, int64(3), n.RoundTrips(), "the discovery SCAN, then two")
}

// TestSnapshotLegacy reads what older BullMQ and bull left: jobs in a
// `paused` list wait too, and the `0:` marker at the tail of `wait` is no
// job.
func TestSnapshotLegacy(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")
	f.queue("old")
	f.waiting("old", ago(20*time.Second))
	require.NoError(t, c.RPush(ctx, "bull:old:wait", "0:1700000000000").Err())
	for range 2 {
		id := f.job("old", "job", ago(time.Hour))
		require.NoError(t, c.LPush(ctx, "bull:old:paused", id).Err())
	}

	s := take(t, srv, Options{})
	assert.Equal(t, snapshot.Queue{Name: "old", Size: 3, Latency: 20 * time.Second, PausedKnown: true}, snapshottest.Queue(t, s, "old"))
	assert.Equal(t, int64(3), snapshottest.Jobs(s, "old")["waiting"])
	assert.Empty(t, s.Problems)
}

func TestSnapshotDiscovery(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	f := newFixture(t, admin, "")
	f.queue("a")
	f.queue("b")
	f.waiting("b", ago(time.Second)) // job hashes are no queues
	newFixture(t, admin, "other").queue("c")
	newFixture(t, admin, "my*app").queue("d")

	clock := testNow
	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	r := NewReader(c, Options{DiscoveryInterval: 5 * time.Minute, Now: func() time.Time { return clock }})
	names := func() []string {
		n.Reset()
		s, err := r.Snapshot(context.Background())
		require.NoError(t, err)
		var out []string
		for _, q := range s.Queues {
			out = append(out, q.Name)
		}
		return out
	}
	assert.Equal(t, []string{"a", "b"}, names())
	assert.Equal(t, int64(3), n.RoundTrips(), "one SCAN page, then the two reads")

	f.queue("e")
	clock = clock.Add(4 * time.Minute)
	assert.Equal(t, []string{"a", "b"}, names(), "no SCAN between discoveries")
	assert.Equal(t, int64(2), n.RoundTrips())
	clock = clock.Add(time.Minute)
	assert.Equal(t, []string{"a", "b", "e"}, names(), "discovered again after the interval")
	assert.Equal(t, int64(3), n.RoundTrips())

	t.Run("prefix with glob characters", func(t *testing.T) {
		s := take(t, srv, Options{Prefix: "my*app"})
		require.Len(t, s.Queues, 1)
		assert.Equal(t, "d", s.Queues[0].Name)
	})
	t.Run("explicit names: no SCAN", func(t *testing.T) {
		c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
		s, err := NewReader(c, fixedNow(Options{Names: []string{"b", "nope"}})).Snapshot(context.Background())
		require.NoError(t, err)
		require.Len(t, s.Queues, 2)
		assert.Equal(t, int64(1), snapshottest.Queue(t, s, "b").Size)
		assert.Equal(t, snapshot.Queue{Name: "nope", PausedKnown: true}, snapshottest.Queue(t, s, "nope"))
		assert.Equal(t, int64(2), n.RoundTrips())
	})
	t.Run("selection", func(t *testing.T) {
		s := take(t, srv, Options{Selection: snapshot.Selection{Max: 1}})
		require.Len(t, s.Queues, 1)
		assert.Equal(t, 3, s.QueuesDiscovered)
		assert.Equal(t, 2, s.QueuesDropped)
	})
}

func TestSnapshotByClass(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.queue("payments")
	for range 3 {
		f.failed("payments", "charge", "card declined")
	}
	f.failed("payments", "refund", "not found")
	f.queue("emails")
	f.failed("emails", "send", "smtp down")
	f.failed("emails", "send", "smtp down")
	require.NoError(t, srv.Client(t).ZAdd(context.Background(), "bull:emails:failed", redis.Z{Score: 1, Member: "gone"}).Err())

	s := take(t, srv, Options{ByClassMaxEntries: 100})
	assert.True(t, snapshottest.HasProblem(s, kindMissingJob, "bull:emails:gone"), "%+v", s.Problems)
	assert.Equal(t, []snapshot.ClassCount{
		{State: "failed", Class: "charge", ErrorType: "card declined", Count: 3},
		{State: "failed", Class: "refund", ErrorType: "not found", Count: 1},
		{State: "failed", Class: "send", ErrorType: "smtp down", Count: 2},
	}, s.ByClass)

	// Two entries over two queues: the latest failure of each.
	s = take(t, srv, Options{ByClassMaxEntries: 2})
	var total int64
	for _, c := range s.ByClass {
		total += c.Count
	}
	assert.Equal(t, int64(2), total)
}

// TestSnapshotFaults writes what no BullMQ writes: missing job hashes, bad
// timestamps, keys of the wrong type, a 10 MB job, a 1 MB queue name. Each
// is skipped and counted; the rest of the scrape goes on.
func TestSnapshotFaults(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")

	f.queue("good")
	f.waiting("good", ago(time.Minute))
	f.queue("no_hash")
	require.NoError(t, c.LPush(ctx, "bull:no_hash:wait", "404").Err())
	require.NoError(t, c.LPush(ctx, "bull:no_hash:active", "405").Err())
	f.queue("bad_ts")
	badWaiting := f.waiting("bad_ts", ago(time.Minute))
	require.NoError(t, c.HSet(ctx, "bull:bad_ts:"+badWaiting, "timestamp", "yesterday").Err())
	badActive := f.active("bad_ts", ago(time.Minute))
	require.NoError(t, c.HSet(ctx, "bull:bad_ts:"+badActive, "processedOn", "-5").Err())
	f.queue("huge_ts")
	id := f.waiting("huge_ts", ago(time.Minute))
	require.NoError(t, c.HSet(ctx, "bull:huge_ts:"+id, "timestamp", "1e300").Err())
	f.queue("wrong_types")
	require.NoError(t, c.Set(ctx, "bull:wrong_types:wait", "x", 0).Err())
	f.queue("wrong_sets")
	f.waiting("wrong_sets", ago(time.Second))
	require.NoError(t, c.Set(ctx, "bull:wrong_sets:active", "x", 0).Err())
	require.NoError(t, c.Set(ctx, "bull:wrong_sets:delayed", "x", 0).Err())
	require.NoError(t, c.RPush(ctx, "bull:wrong_sets:metrics:completed", "x").Err())
	require.NoError(t, c.HSet(ctx, "bull:wrong_sets:metrics:failed", "count", "many").Err())
	require.NoError(t, c.Set(ctx, "bull:wrong_job:meta", "x", 0).Err())
	require.NoError(t, c.LPush(ctx, "bull:wrong_job:wait", "j").Err())
	require.NoError(t, c.Set(ctx, "bull:wrong_job:j", "x", 0).Err())
	f.queue("big")
	id = f.waiting("big", ago(42*time.Second))
	require.NoError(t, c.HSet(ctx, "bull:big:"+id, "data", `{"blob":"`+strings.Repeat("a\\\"{[", 2<<20)+`"}`).Err())
	hugeName := strings.Repeat("q", 1<<20)
	f.queue(hugeName)
	f.waiting(hugeName, ago(time.Minute))

	s := take(t, srv, Options{StalledAfter: time.Minute})

	assert.Equal(t, snapshot.Queue{Name: "good", Size: 1, Latency: time.Minute, PausedKnown: true}, snapshottest.Queue(t, s, "good"))
	assert.Equal(t, snapshot.Queue{Name: "no_hash", Size: 1, PausedKnown: true, Running: 1}, snapshottest.Queue(t, s, "no_hash"))
	assert.Equal(t, snapshot.Queue{Name: "bad_ts", Size: 1, PausedKnown: true, Running: 1}, snapshottest.Queue(t, s, "bad_ts"))
	assert.Zero(t, snapshottest.Queue(t, s, "huge_ts").Latency)
	for _, q := range s.Queues {
		assert.NotEqual(t, "wrong_types", q.Name, "no figures for a queue whose wait is not a list")
		snapshottest.AssertName(t, q.Name)
	}
	ws := snapshottest.Queue(t, s, "wrong_sets")
	assert.Equal(t, int64(1), ws.Size)
	assert.Zero(t, ws.Running)
	assert.Zero(t, snapshottest.Jobs(s, "wrong_sets")["delayed"])
	assert.Equal(t, 42*time.Second, snapshottest.Queue(t, s, "big").Latency)
	for _, q := range s.Queues {
		if strings.HasPrefix(q.Name, "qqq") {
			assert.Equal(t, int64(1), q.Size)
			assert.Equal(t, time.Minute, q.Latency, "a long-named queue is still read under its own name")
		}
	}
	assert.Len(t, s.Queues, 8)
	for _, tot := range s.Totals {
		assert.NotEqual(t, "wrong_sets", tot.Queue, "no totals rather than wrong ones")
	}

	want := []struct{ kind, key string }{
		{kindMissingTimestamp, "bull:no_hash:404"},
		{kindMissingTimestamp, "bull:no_hash:405"},
		{kindInvalidTimestamp, "bull:bad_ts:" + badWaiting},
		{kindInvalidTimestamp, "bull:bad_ts:" + badActive},
		{redisread.KindWrongType, "bull:wrong_job:meta"},
		{redisread.KindWrongType, "bull:wrong_types:wait"},
		{redisread.KindWrongType, "bull:wrong_sets:active"},
		{redisread.KindWrongType, "bull:wrong_sets:delayed"},
		{redisread.KindWrongType, "bull:wrong_sets:metrics:completed"},
		{redisread.KindInvalidNumber, "bull:wrong_sets:metrics:failed"},
		{redisread.KindWrongType, "bull:wrong_job:j"},
	}
	for _, w := range want {
		assert.True(t, snapshottest.HasProblem(s, w.kind, w.key), "%s on %s in %+v", w.kind, w.key, s.Problems)
	}
	var invalidTS, tooLong int
	for _, p := range s.Problems {
		switch p.Kind {
		case kindInvalidTimestamp:
			invalidTS++
		case snapshot.KindNameTooLong:
			tooLong++
		}
		assert.LessOrEqual(t, len(p.Key), snapshot.MaxNameLen)
		assert.NotContains(t, p.Detail, "yesterday", "details never quote values")
	}
	assert.Equal(t, 3, invalidTS, "bad_ts timestamp and processedOn, huge_ts: %+v", s.Problems)
	assert.Equal(t, 1, tooLong)
	var wrongWait int
	for _, p := range s.Problems {
		if p.Key == "bull:wrong_types:wait" {
			wrongWait++
		}
	}
	assert.Equal(t, 1, wrongWait, "one problem per bad key")
}

func TestSnapshotWorkers(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.queue("emails")
	f.queue("reports")
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, name := range []string{
		"bull:" + b64("emails"),                 // an unnamed worker
		"bull:" + b64("emails") + ":w:mailer-1", // a named one
		"bull:" + b64("emails") + ":qe",         // QueueEvents: no worker
		"bull:" + b64("unreported"),             // a worker of a queue not reported
		"other:" + b64("emails"),                // another prefix
		"bull:not-base64!",                      // garbage
	} {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), ClientName: name})
		require.NoError(t, c.Ping(context.Background()).Err())
		t.Cleanup(func() { _ = c.Close() })
	}

	s := take(t, srv, Options{Names: []string{"emails", "reports"}, ReadWorkers: true})
	assert.False(t, s.ProcessesUnknown)
	require.Len(t, s.Processes, 2, "%+v", s.Processes)
	for _, p := range s.Processes {
		assert.Equal(t, []string{"emails"}, p.Queues)
		assert.Equal(t, "127.0.0.1", p.Hostname)
	}
	assert.Regexp(t, `^emails#\d+$`, s.Processes[0].ID)
	assert.Regexp(t, `^emails:w:mailer-1#\d+$`, s.Processes[1].ID)
}

// TestSnapshotRoundTrips proves the steady-state cost is fixed: two
// pipelined round trips for one queue and for 1,000 queues (the breakdown
// and the workers included), commands growing only with the queues; the
// discovery scrape adds its SCAN pages.
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name         string
		queues, jobs int
	}{
		{"1 queue", 1, 1},
		{"1000 queues", 1000, 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			newFixture(t, srv.Client(t), "").populate(tc.queues, tc.jobs)
			c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			r := NewReader(c, fixedNow(Options{ByClassMaxEntries: 1000, ReadWorkers: true, StalledAfter: time.Minute, DiscoveryInterval: time.Hour}))
			s, err := r.Snapshot(context.Background())
			require.NoError(t, err)
			require.Len(t, s.Queues, tc.queues)
			t.Logf("discovery scrape: %d round trips, %d commands", n.RoundTrips(), n.Commands())
			for range 2 {
				n.Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Empty(t, s.Problems)
				assert.Equal(t, int64(2), n.RoundTrips())
				// Round trip 1: 13 per queue and CLIENT LIST; round trip 2:
				// the oldest waiting job, one active, one failed per queue.
				assert.Equal(t, int64(13*tc.queues+1+3*tc.queues), n.Commands())
			}
		})
	}
}

// readOnlyACLs are the two read-only users the receiver README gives for
// BullMQ.
var readOnlyACLs = map[string][]any{
	"categories": {"on", ">pw", "%R~*", "-@all", "+@read", "+@connection", "-@dangerous"},
	"commands": {"on", ">pw", "%R~*", "-@all", "+hello", "+auth", "+ping", "+select",
		"+scan", "+llen", "+zcard", "+hexists", "+lrange", "+hget", "+zrevrange", "+hmget"},
}

// TestSnapshotReadOnlyUser runs the reader as each read-only user of the
// README, and checks that Redis denied nothing and the dataset is unchanged;
// workers need +client|list on top.
func TestSnapshotReadOnlyUser(t *testing.T) {
	for name, rules := range readOnlyACLs {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.WithDebugCommand())
			admin := srv.Client(t)
			ctx := context.Background()
			f := newFixture(t, admin, "")
			f.populate(3, 2)
			f.failed("q0", "charge", "declined")
			require.NoError(t, admin.Do(ctx, append([]any{"ACL", "SETUSER", "jobq"}, rules...)...).Err())
			writes := srv.WatchWrites(t)

			c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "jobq", Password: "pw"})
			s, err := NewReader(c, fixedNow(Options{ByClassMaxEntries: 10, StalledAfter: time.Minute})).Snapshot(ctx)
			require.NoError(t, err)
			assert.Len(t, s.Queues, 3)
			assert.NotEmpty(t, s.ByClass)
			writes.AssertReadOnly(t, c)

			// Workers need CLIENT LIST, which this user lacks: a clear error.
			s, err = NewReader(c, fixedNow(Options{ReadWorkers: true})).Snapshot(ctx)
			assert.Nil(t, s)
			require.ErrorContains(t, err, "bullmq: read queues from "+srv.Addr()+": CLIENT list")
			require.ErrorContains(t, err, "NOPERM")
			require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "+client|list").Err())
			_, err = NewReader(c, fixedNow(Options{ReadWorkers: true})).Snapshot(ctx)
			require.NoError(t, err, "+client|list is all workers need")
			writes.AssertUnchanged(t)
		})
	}
}

func TestSnapshotRedisDown(t *testing.T) {
	addr, err := snapshottest.RedisDown(t, NewReader, Options{})
	require.ErrorContains(t, err, "bullmq: discover queues from "+addr)

	addr, err = snapshottest.RedisDown(t, NewReader, Options{Names: []string{"a"}})
	require.ErrorContains(t, err, "bullmq: read queues from "+addr)
}

// TestSnapshotRedisHungThenBack: a hung server fails the snapshot within the
// client's timeout; once it answers again, so does the reader, and a failed
// discovery is tried again on the next snapshot.
func TestSnapshotRedisHungThenBack(t *testing.T) {
	srv := redistest.Start(t)
	newFixture(t, srv.Client(t), "").queue("default")
	s := snapshottest.AssertHungThenBack(t, srv, NewReader, fixedNow(Options{DiscoveryInterval: time.Hour}), "bullmq: discover queues")
	assert.Equal(t, []snapshot.Queue{{Name: "default", PausedKnown: true}}, s.Queues,
		"until the next discovery, a vanished queue reads as empty")
}
