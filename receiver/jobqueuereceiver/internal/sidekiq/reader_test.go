// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq

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

func processByID(t *testing.T, s *snapshot.Snapshot, id string) snapshot.Process {
	t.Helper()
	for _, p := range s.Processes {
		if p.ID == id {
			return p
		}
	}
	require.Failf(t, "process not reported", "%q", id)
	return snapshot.Process{}
}

func jobCount(s *snapshot.Snapshot, state string) (int64, bool) {
	for _, j := range s.Jobs {
		if j.State == state {
			return j.Count, true
		}
	}
	return 0, false
}

// TestSnapshotVersions covers what each Sidekiq version writes differently:
// float seconds (<= 7) and integer milliseconds (8.x) timestamps, the
// created_at fallback, `:workers` (<= 6.4.1) and `:work` (6.4.2+), payloads
// as strings or objects, capsules (8.0.9+) and the top-level concurrency
// field (8.1.2+).
func TestSnapshotVersions(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	ctx := context.Background()

	f.enqueue("v6", f.job6("Old", "v6", f.ago(90*time.Second)), f.job6("New", "v6", f.ago(10*time.Second)))
	f.enqueue("v8", f.job8("Old", "v8", f.ago(30500*time.Millisecond)))
	f.enqueue("created_only", mustJSON(t, map[string]any{"class": "C", "args": []int{}, "created_at": millis(f.ago(45 * time.Second))}))
	f.enqueue("int_seconds", mustJSON(t, map[string]any{"class": "C", "args": []int{}, "enqueued_at": f.ago(20 * time.Second).Unix()}))
	f.enqueue("future", f.job6("Skewed", "future", f.now.Add(5*time.Second)))
	f.enqueue("empty")

	p6 := "web-1:100:aaaaaaaaaaaa"
	f.heartbeat(p6, info6("web-1", 100, 10, "v6", "v8"), 2, f.ago(3*time.Second), false, 1024)
	f.setWork(p6, ":workers", map[string]string{
		"1a": f.work6("v6", f.job6("Hard", "v6", f.ago(3*time.Minute)), f.ago(2*time.Minute)),
		"1b": f.work6("v8", f.job8("Hard", "v8", f.ago(time.Minute)), f.ago(10*time.Second)),
	})

	p7 := "web-2:200:bbbbbbbbbbbb"
	info7 := info6("web-2", 200, 5, "v6")
	info7["weights"], info7["version"], info7["embedded"] = map[string]int{"v6": 0}, "7.3.0", false
	f.heartbeat(p7, info7, 1, f.ago(time.Second), true, 0)
	f.setWork(p7, ":work", map[string]string{"2a": f.work6("v6", f.job6("Hard", "v6", f.now), f.ago(30*time.Second))})

	p80 := "web-3:300:cccccccccccc"
	info80 := info6("web-3", 300, 0, "v8")
	delete(info80, "concurrency")
	info80["capsules"] = map[string]any{
		"default":  map[string]any{"concurrency": 3, "mode": "strict", "weights": map[string]int{"v8": 0}},
		"critical": map[string]any{"concurrency": 2, "mode": "strict", "weights": map[string]int{"v8": 0}},
	}
	f.heartbeat(p80, info80, 1, f.ago(4*time.Second), false, 2048)
	f.setWork(p80, ":work", map[string]string{"3a": f.work8("v8", f.ago(5*time.Minute))})

	p81 := "web-4:400:dddddddddddd"
	info81 := info6("web-4", 400, 4, "v8")
	info81["capsules"] = map[string]any{"default": map[string]any{"concurrency": 4}}
	f.heartbeat(p81, info81, 0, f.ago(time.Second), false, 4096, "concurrency", 7)

	require.NoError(t, srv.Client(t).SAdd(ctx, "processes", "gone:1:eeeeeeeeeeee").Err())

	s := take(t, srv, Options{StalledAfter: time.Minute})

	assert.Equal(t, "sidekiq", s.System)
	assert.Equal(t, testNow, s.Time)
	assert.Equal(t, 6, s.QueuesDiscovered)
	names := make([]string, len(s.Queues))
	for i, q := range s.Queues {
		names[i] = q.Name
		assert.False(t, q.PausedKnown, "OSS Sidekiq cannot pause")
	}
	assert.Equal(t, []string{"created_only", "empty", "future", "int_seconds", "v6", "v8"}, names)

	v6 := snapshottest.Queue(t, s, "v6")
	assert.Equal(t, int64(2), v6.Size)
	assert.InDelta(t, (90 * time.Second).Seconds(), v6.Latency.Seconds(), 1e-6, "float seconds, oldest job at the tail")
	assert.Equal(t, int64(2), v6.Running, "one from :workers (6.4.1), one from :work (6.4.2+)")
	assert.Equal(t, 2*time.Minute, v6.RunningMaxAge)
	assert.Equal(t, int64(1), v6.Stalled)

	v8 := snapshottest.Queue(t, s, "v8")
	assert.Equal(t, 30500*time.Millisecond, v8.Latency, "integer milliseconds")
	assert.Equal(t, int64(2), v8.Running)
	assert.Equal(t, 5*time.Minute, v8.RunningMaxAge, "payload as an object")
	assert.Equal(t, int64(1), v8.Stalled)

	assert.Equal(t, 45*time.Second, snapshottest.Queue(t, s, "created_only").Latency, "created_at fallback")
	assert.Equal(t, 20*time.Second, snapshottest.Queue(t, s, "int_seconds").Latency, "integer seconds judged by magnitude")
	assert.Zero(t, snapshottest.Queue(t, s, "future").Latency, "a job from the future has waited 0s")
	assert.Equal(t, snapshot.Queue{Name: "empty"}, snapshottest.Queue(t, s, "empty"))

	require.Len(t, s.Processes, 4)
	assert.Equal(t, []string{p6, p7, p80, p81}, []string{s.Processes[0].ID, s.Processes[1].ID, s.Processes[2].ID, s.Processes[3].ID})
	assert.Equal(t, 1, s.ProcessesStale)
	assert.Equal(t, snapshot.Process{
		ID: p6, Hostname: "web-1", PID: 100, Tag: "app", Busy: 2, Concurrency: 10,
		MemoryBytes: 1024 * 1024, MemoryKnown: true, HeartbeatAge: 3 * time.Second, Queues: []string{"v6", "v8"},
	}, processByID(t, s, p6))
	got7 := processByID(t, s, p7)
	assert.True(t, got7.Quiet)
	assert.False(t, got7.MemoryKnown, "rss 0 means not measured")
	assert.Equal(t, int64(5), got7.Concurrency)
	assert.Equal(t, int64(5), processByID(t, s, p80).Concurrency, "sum of capsules when info has no concurrency")
	assert.Equal(t, int64(7), processByID(t, s, p81).Concurrency, "the top-level field wins")

	busy, ok := jobCount(s, snapshot.StateBusy)
	assert.True(t, ok)
	assert.Equal(t, int64(2+1+1+0), busy)
	assert.Empty(t, s.Problems)
}

func TestSnapshotCounts(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")
	for i := range 3 {
		require.NoError(t, c.ZAdd(ctx, "schedule", redis.Z{Score: float64(i), Member: f.job6("S", "q", f.now) + strconv.Itoa(i)}).Err())
	}
	for i := range 2 {
		require.NoError(t, c.ZAdd(ctx, "retry", redis.Z{Score: float64(i), Member: f.job6("R", "q", f.now) + strconv.Itoa(i)}).Err())
	}
	require.NoError(t, c.ZAdd(ctx, "dead", redis.Z{Score: 1, Member: f.job6("D", "q", f.now)}).Err())
	require.NoError(t, c.Set(ctx, "stat:processed", 1234, 0).Err())

	s := take(t, srv, Options{})
	assert.Equal(t, []snapshot.StateCount{
		{State: snapshot.StateScheduled, Count: 3},
		{State: snapshot.StateRetry, Count: 2},
		{State: snapshot.StateDead, Count: 1},
		{State: snapshot.StateBusy, Count: 0},
	}, s.Jobs)
	assert.Equal(t, []snapshot.Totals{{Processed: 1234, Failed: 0}}, s.Totals, "a missing counter is 0")
	assert.Nil(t, s.ByClass, "no breakdown unless asked")
}

func TestSnapshotNamespace(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ns := newFixture(t, c, "myapp")
	root := newFixture(t, c, "")
	ctx := context.Background()

	ns.enqueue("default", ns.job6("A", "default", ns.ago(time.Minute)))
	id := "host:1:aaaaaaaaaaaa"
	ns.heartbeat(id, info6("host", 1, 5, "default"), 1, ns.ago(time.Second), false, 10)
	ns.setWork(id, ":workers", map[string]string{"t": ns.work6("default", "{}", ns.ago(time.Minute))})
	require.NoError(t, c.Set(ctx, "myapp:stat:processed", 7, 0).Err())
	require.NoError(t, c.ZAdd(ctx, "myapp:retry", redis.Z{Score: 1, Member: "x"}).Err())
	// Another app's keys in the same database must not leak in.
	root.enqueue("decoy", root.job6("B", "decoy", root.ago(time.Hour)))
	root.heartbeat("other:2:bbbbbbbbbbbb", info6("other", 2, 5, "decoy"), 3, root.now, false, 10)
	require.NoError(t, c.Set(ctx, "stat:processed", 999, 0).Err())

	s := take(t, srv, Options{Namespace: "myapp"})
	require.Len(t, s.Queues, 1)
	assert.Equal(t, snapshot.Queue{Name: "default", Size: 1, Latency: time.Minute, Running: 1, RunningMaxAge: time.Minute}, s.Queues[0])
	require.Len(t, s.Processes, 1)
	assert.Equal(t, id, s.Processes[0].ID)
	assert.Equal(t, []snapshot.Totals{{Processed: 7}}, s.Totals)
	retries, _ := jobCount(s, snapshot.StateRetry)
	assert.Equal(t, int64(1), retries)
	busy, _ := jobCount(s, snapshot.StateBusy)
	assert.Equal(t, int64(1), busy)
}

func TestSnapshotSelection(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	for _, q := range []string{"critical", "default", "low", "tmp_1", "tmp_2"} {
		f.enqueue(q, f.job6("J", q, f.ago(time.Second)))
	}
	s := take(t, srv, Options{Selection: snapshot.Selection{
		Exclude: []*regexp.Regexp{regexp.MustCompile(`^tmp_`)},
		Max:     2,
	}})
	assert.Equal(t, 5, s.QueuesDiscovered)
	assert.Equal(t, 1, s.QueuesDropped, "low passed the filters but is beyond max")
	require.Len(t, s.Queues, 2)
	assert.Equal(t, "critical", s.Queues[0].Name)
	assert.Equal(t, "default", s.Queues[1].Name)
}

func TestSnapshotByClass(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	score := 0.0
	add := func(set string, fields map[string]any) {
		score++
		fields["jid"] = strconv.FormatFloat(score, 'f', -1, 64) // distinct members
		require.NoError(t, c.ZAdd(ctx, set, redis.Z{Score: score, Member: mustJSON(t, fields)}).Err())
	}
	for range 3 {
		add("retry", map[string]any{"class": "HardJob", "args": []int{1}, "error_class": "ArgumentError", "error_message": "boom"})
	}
	add("retry", map[string]any{"class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper", "wrapped": "SendMail", "error_class": "Net::ReadTimeout"})
	add("retry", map[string]any{"class": "HardJob", "display_class": "Reports.nightly", "error_class": "KeyError"})
	for range 2 {
		add("dead", map[string]any{"class": "HardJob", "error_class": "IOError"})
	}
	add("dead", map[string]any{"class": "Killed"}) // killed by hand: no error
	require.NoError(t, c.ZAdd(ctx, "dead", redis.Z{Score: 0, Member: "not json"}).Err())

	s := take(t, srv, Options{ByClassMaxEntries: 100})
	assert.Equal(t, []snapshot.ClassCount{
		{State: "dead", Class: "HardJob", ErrorType: "IOError", Count: 2},
		{State: "dead", Class: "Killed", ErrorType: "", Count: 1},
		{State: "retry", Class: "HardJob", ErrorType: "ArgumentError", Count: 3},
		{State: "retry", Class: "Reports.nightly", ErrorType: "KeyError", Count: 1},
		{State: "retry", Class: "SendMail", ErrorType: "Net::ReadTimeout", Count: 1},
	}, s.ByClass)
	assert.True(t, snapshottest.HasProblem(s, kindInvalidJSON, "dead"))

	// Newest first: the two highest scores of each set.
	s = take(t, srv, Options{ByClassMaxEntries: 2})
	assert.Equal(t, []snapshot.ClassCount{
		{State: "dead", Class: "HardJob", ErrorType: "IOError", Count: 1},
		{State: "dead", Class: "Killed", ErrorType: "", Count: 1},
		{State: "retry", Class: "Reports.nightly", ErrorType: "KeyError", Count: 1},
		{State: "retry", Class: "SendMail", ErrorType: "Net::ReadTimeout", Count: 1},
	}, s.ByClass)
}

func TestSnapshotByClassBounded(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	const extra = 5
	members := make([]redis.Z, snapshot.MaxClassCells+extra)
	for i := range members {
		// Higher scores are read first, so classes C0000.. fill the cells.
		members[i] = redis.Z{
			Score:  float64(len(members) - i),
			Member: `{"class":"C` + strconv.Itoa(10000 + i)[1:] + `","error_class":"E","long":"` + strings.Repeat("x", 1000) + `"}`,
		}
	}
	require.NoError(t, c.ZAdd(ctx, "retry", members...).Err())

	s := take(t, srv, Options{ByClassMaxEntries: len(members)})
	require.Len(t, s.ByClass, snapshot.MaxClassCells+1)
	var total int64
	for _, cell := range s.ByClass {
		total += cell.Count
		if cell.Class == snapshot.OtherClass {
			assert.Equal(t, snapshot.ClassCount{State: "retry", Class: snapshot.OtherClass, ErrorType: snapshot.OtherClass, Count: extra}, cell)
		}
	}
	assert.Equal(t, int64(len(members)), total, "every entry read is counted once")
}

// TestSnapshotFaults writes every kind of bad data next to good data: each is
// skipped and reported, the rest is read as usual.
func TestSnapshotFaults(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")

	f.enqueue("good", f.job6("J", "good", f.ago(time.Minute)))
	require.NoError(t, c.SAdd(ctx, "queues", "hash_queue").Err())
	require.NoError(t, c.HSet(ctx, "queue:hash_queue", "a", "b").Err())
	f.enqueue("not_json", "garbage{secret-arg")
	f.enqueue("no_timestamp", `{"class":"J","args":[]}`)
	f.enqueue("string_timestamp", `{"class":"J","enqueued_at":"yesterday"}`)
	f.enqueue("negative_timestamp", `{"class":"J","enqueued_at":-5}`)
	f.enqueue("huge_timestamp", `{"class":"J","enqueued_at":1e300}`)
	// 10 MB of args before the timestamp the reader needs.
	big := `{"class":"Big","args":["` + strings.Repeat("a\\\"{[", 2<<20) + `"],"enqueued_at":` +
		strconv.FormatFloat(secs(f.ago(42*time.Second)), 'f', 6, 64) + `}`
	require.Greater(t, len(big), 10<<20)
	f.enqueue("huge_payload", big)

	require.NoError(t, c.Set(ctx, "stat:processed", "lots", 0).Err())
	require.NoError(t, c.RPush(ctx, "retry", "x").Err())

	bad := "bad:1:aaaaaaaaaaaa"
	f.heartbeat(bad, info6("bad", 1, 5, "good"), 0, f.now, false, 0)
	require.NoError(t, c.HSet(ctx, bad, "busy", strings.Repeat("9", 100), "rss", "-5", "beat", "soon", "quiet", "maybe").Err())
	f.setWork(bad, ":workers", map[string]string{
		"t1": "not json",
		"t2": `{"queue":"good","payload":"{}"}`,
		"t3": f.work6("good", "{}", f.ago(2*time.Minute)),
	})
	typed := "typed:2:bbbbbbbbbbbb"
	f.heartbeat(typed, map[string]any{"hostname": "typed", "pid": "two"}, 1, f.ago(time.Second), false, 10)
	require.NoError(t, c.Set(ctx, typed+":work", "a string", 0).Err())
	broken := "broken:3:cccccccccccc"
	f.heartbeat(broken, nil, 0, f.now, false, 10)
	require.NoError(t, c.HSet(ctx, broken, "info", "{not json").Err())
	require.NoError(t, c.SAdd(ctx, "processes", "stringkey").Err())
	require.NoError(t, c.Set(ctx, "stringkey", "x", 0).Err())

	s := take(t, srv, Options{StalledAfter: time.Minute})

	good := snapshottest.Queue(t, s, "good")
	assert.Equal(t, snapshot.Queue{Name: "good", Size: 1, Latency: time.Minute, Running: 2, RunningMaxAge: 2 * time.Minute, Stalled: 1}, good,
		"an entry without run_at still runs; the broken one is skipped")
	for _, q := range s.Queues {
		assert.NotEqual(t, "hash_queue", q.Name, "no figures for a queue that is not a list")
	}
	for _, name := range []string{"not_json", "no_timestamp", "string_timestamp", "negative_timestamp", "huge_timestamp"} {
		q := snapshottest.Queue(t, s, name)
		assert.Equal(t, int64(1), q.Size, name)
		assert.Zero(t, q.Latency, name)
	}
	assert.InDelta(t, 42.0, snapshottest.Queue(t, s, "huge_payload").Latency.Seconds(), 1e-5)

	assert.Empty(t, s.Totals, "no totals rather than a wrong one")
	_, ok := jobCount(s, snapshot.StateRetry)
	assert.False(t, ok, "no retry count when retry is not a sorted set")

	gotBad := processByID(t, s, bad)
	assert.Zero(t, gotBad.Busy)
	assert.False(t, gotBad.MemoryKnown)
	assert.Zero(t, gotBad.HeartbeatAge)
	assert.False(t, gotBad.Quiet)
	assert.Equal(t, "bad", gotBad.Hostname)
	assert.Equal(t, "typed", processByID(t, s, typed).Hostname, "members of the right type are kept")
	assert.Equal(t, broken, processByID(t, s, broken).ID, "a live process with unreadable info is still a process")
	assert.Len(t, s.Processes, 3)

	want := []struct{ kind, key string }{
		{kindWrongType, "queue:hash_queue"},
		{kindInvalidJSON, "queue:not_json"},
		{kindMissingTimestamp, "queue:no_timestamp"},
		{kindInvalidTimestamp, "queue:string_timestamp"},
		{kindInvalidTimestamp, "queue:negative_timestamp"},
		{kindInvalidTimestamp, "queue:huge_timestamp"},
		{kindInvalidNumber, "stat:processed"},
		{kindWrongType, "retry"},
		{kindInvalidNumber, bad},
		{kindInvalidTimestamp, bad},
		{kindInvalidValue, bad},
		{kindInvalidJSON, bad + ":workers"},
		{kindMissingTimestamp, bad + ":workers"},
		{kindWrongType, typed},
		{kindWrongType, typed + ":work"},
		{kindInvalidJSON, broken},
		{kindWrongType, "stringkey"},
	}
	for _, w := range want {
		assert.True(t, snapshottest.HasProblem(s, w.kind, w.key), "%s on %s in %+v", w.kind, w.key, s.Problems)
	}
	for _, p := range s.Problems {
		assert.NotContains(t, p.Detail, "secret-arg", "details never quote payloads")
		assert.NotContains(t, p.Detail, "999999", "details never quote values")
	}
}

func TestSnapshotProblemsBounded(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	const bad = maxProblems + 50
	for i := range bad {
		f.enqueue("q"+strconv.Itoa(i), "not json")
	}
	s := take(t, srv, Options{})
	require.Len(t, s.Queues, bad, "bad payloads do not hide the queues")
	require.Len(t, s.Problems, maxProblems+1)
	last := s.Problems[maxProblems]
	assert.Equal(t, kindTooManyProblems, last.Kind)
	assert.Equal(t, "50 more problems not listed", last.Detail)
}

// TestSnapshotMillionProcesses floods the process registry: the reader reads
// a bounded subset, says so, and stays within two round trips.
func TestSnapshotMillionProcesses(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	const total = 1_000_000
	members := make([]any, 0, 50_000)
	for i := range total {
		members = append(members, "ghost:"+strconv.Itoa(i)+":000000000000")
		if len(members) == cap(members) {
			require.NoError(t, admin.SAdd(ctx, "processes", members...).Err())
			members = members[:0]
		}
	}
	c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
	s, err := NewReader(c, fixedNow(Options{})).Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, maxProcesses, s.ProcessesStale)
	assert.Empty(t, s.Processes)
	assert.True(t, snapshottest.HasProblem(s, kindRegistryTruncated, "processes"))
	assert.Equal(t, int64(2), n.RoundTrips())
}

// TestSnapshotRoundTrips proves the cost is fixed: two pipelined round trips
// for one queue and for 1,000 queues with 200 processes, the breakdown
// included, with commands growing only with what is read.
func TestSnapshotRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		queues, jobs, procs, threads int
	}{
		{"1 queue", 1, 1, 1, 1},
		{"1000 queues 200 processes", 1000, 25, 200, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			newFixture(t, srv.Client(t), "").populate(tc.queues, tc.jobs, tc.procs, tc.threads)
			c, n := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			r := NewReader(c, fixedNow(Options{ByClassMaxEntries: 100, StalledAfter: time.Minute}))
			for range 2 { // a second snapshot on warm connections costs the same
				n.Reset()
				s, err := r.Snapshot(context.Background())
				require.NoError(t, err)
				require.Len(t, s.Queues, tc.queues)
				require.Len(t, s.Processes, tc.procs)
				require.Empty(t, s.Problems)
				assert.Equal(t, int64(2), n.RoundTrips())
				assert.Equal(t, int64(11+2*tc.queues+3*tc.procs), n.Commands())
			}
		})
	}
}

// TestSnapshotReadOnlyUser runs the reader as an ACL user allowed exactly the
// commands the package documents, and nothing that writes, and checks that
// Redis denied nothing and the dataset is unchanged.
func TestSnapshotReadOnlyUser(t *testing.T) {
	srv := redistest.Start(t, redistest.WithDebugCommand())
	admin := srv.Client(t)
	ctx := context.Background()
	newFixture(t, admin, "").populate(3, 2, 2, 1)
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "on", ">pw", "~*", "resetchannels", "-@all",
		"+scard", "+srandmember", "+zcard", "+get", "+zrevrange", "+llen", "+lindex", "+hmget", "+hgetall").Err())
	writes := srv.WatchWrites(t)

	c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr(), Username: "jobq", Password: "pw"})
	s, err := NewReader(c, fixedNow(Options{ByClassMaxEntries: 10})).Snapshot(ctx)
	require.NoError(t, err)
	assert.Len(t, s.Queues, 3)
	assert.Len(t, s.Processes, 2)
	writes.AssertReadOnly(t, c)

	// A user missing one of them gets a clear error, not a partial snapshot.
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "jobq", "-lindex").Err())
	s, err = NewReader(c, fixedNow(Options{})).Snapshot(ctx)
	assert.Nil(t, s)
	require.ErrorContains(t, err, "sidekiq: read queues and processes from "+srv.Addr()+": LINDEX queue:q")
	require.ErrorContains(t, err, "NOPERM")
}

func TestSnapshotRedisDown(t *testing.T) {
	addr, err := snapshottest.RedisDown(t, NewReader, Options{})
	require.ErrorContains(t, err, "sidekiq: read registries from "+addr+": dial tcp "+addr)
}

// TestSnapshotRedisHungThenBack: a hung server fails the snapshot within the
// client's timeout; once it answers again, so does the reader.
func TestSnapshotRedisHungThenBack(t *testing.T) {
	srv := redistest.Start(t)
	f := newFixture(t, srv.Client(t), "")
	f.enqueue("default", f.job6("J", "default", f.ago(time.Second)))
	s := snapshottest.AssertHungThenBack(t, srv, NewReader, fixedNow(Options{}), "sidekiq: read registries")
	assert.Empty(t, s.Queues)
}

// TestSnapshotHostileNames writes names no Sidekiq client would, but that
// anything with access to the Redis can: a 1 MB queue name, two long names
// that differ only past the bound, names that are not UTF-8. Every name the
// snapshot reports is bounded and valid, each fix is a counted problem, and
// the rest of the scrape goes on.
func TestSnapshotHostileNames(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	f := newFixture(t, c, "")

	huge := strings.Repeat("q", 1<<20)
	twinA, twinB := strings.Repeat("é", 200)+"A", strings.Repeat("é", 200)+"B" // the same first 400 bytes
	latin1 := "caf\xe9"
	for _, q := range []string{huge, twinA, twinB, latin1, "default"} {
		f.enqueue(q, f.job6("J", q, f.ago(time.Minute)))
	}

	// A process whose identity and hostname are 1 MB, working on the huge
	// queue; another whose identity, hostname and tag are not UTF-8 (raw
	// bytes in the JSON, as a non-Ruby client could write them).
	bigHost := strings.Repeat("h", 1<<20)
	bigID := bigHost + ":1:aaaaaaaaaaaa"
	f.heartbeat(bigID, info6(bigHost, 1, 5, huge), 1, f.ago(time.Second), false, 10)
	f.setWork(bigID, ":work", map[string]string{"t1": f.work6(huge, "{}", f.ago(2*time.Minute))})
	badID := "bad\xff:2:bbbbbbbbbbbb"
	require.NoError(t, c.SAdd(ctx, "processes", badID).Err())
	require.NoError(t, c.HSet(ctx, badID, "info", "{\"hostname\":\"host\xfe\",\"pid\":2,\"tag\":\"t\xfd\",\"concurrency\":5,\"queues\":[\"caf\xe9\"]}",
		"busy", 0, "beat", secs(f.ago(time.Second))).Err())

	bigClass := strings.Repeat("C", 1<<20)
	require.NoError(t, c.ZAdd(ctx, "retry",
		redis.Z{Score: 1, Member: `{"class":"` + bigClass + `","error_class":"E","jid":"1"}`},
		redis.Z{Score: 2, Member: "{\"class\":\"Job\",\"error_class\":\"Err\xff\",\"jid\":\"2\"}"},
	).Err())

	s := take(t, srv, Options{ByClassMaxEntries: 10})

	require.Len(t, s.Queues, 5, "every queue is still reported")
	names := map[string]bool{}
	for _, q := range s.Queues {
		snapshottest.AssertName(t, q.Name)
		assert.Equal(t, int64(1), q.Size, "%.40q...", q.Name)
		assert.Equal(t, time.Minute, q.Latency, "%.40q...", q.Name)
		names[q.Name] = true
	}
	assert.Len(t, names, 5, "long names sharing their first bytes stay distinct")
	assert.True(t, names["caf\uFFFD"], "invalid bytes become U+FFFD")
	assert.True(t, names["default"])
	for _, q := range s.Queues {
		if strings.HasPrefix(q.Name, "qqq") {
			assert.Equal(t, int64(1), q.Running, "in-flight jobs are still counted for a long-named queue")
			assert.Equal(t, int64(0), q.Stalled)
		}
	}

	require.Len(t, s.Processes, 2)
	for _, p := range s.Processes {
		snapshottest.AssertName(t, p.ID)
		snapshottest.AssertName(t, p.Hostname)
		snapshottest.AssertName(t, p.Tag)
		for _, q := range p.Queues {
			snapshottest.AssertName(t, q)
		}
	}
	for _, cell := range s.ByClass {
		snapshottest.AssertName(t, cell.Class)
		snapshottest.AssertName(t, cell.ErrorType)
	}
	require.Len(t, s.ByClass, 2)
	for _, p := range s.Problems {
		snapshottest.AssertName(t, p.Key)
	}

	// Too long: the huge queue and the twins, the big process's identity,
	// hostname and queue list entry, the class. Not UTF-8: the latin1
	// queue, the bad process's identity, hostname, tag and queue list entry,
	// the error class.
	assert.Equal(t, 7, snapshottest.ProblemKinds(s)[kindNameTooLong], "%+v", s.Problems)
	assert.Equal(t, 6, snapshottest.ProblemKinds(s)[kindInvalidUTF8], "%+v", s.Problems)
}
