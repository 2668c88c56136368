// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// fixture writes keys the way Resque 3.0 (lib/resque/data_store.rb,
// worker.rb, failure/redis.rb, failure/redis_multi_queue.rb) and node-resque
// 9.7 (src/core/queue.ts, worker.ts) do, for what the real node-resque run
// cannot cover: Ruby's own formats, bad data and large datasets.
type fixture struct {
	tb  testing.TB
	c   *redis.Client
	ns  string
	now time.Time
}

// testNow is the clock of unit tests; ages are written relative to it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newFixture(tb testing.TB, c *redis.Client, ns string) *fixture {
	if ns == "" {
		ns = DefaultNamespace
	}
	return &fixture{tb: tb, c: c, ns: ns, now: testNow}
}

func (f *fixture) key(k string) string { return f.ns + ":" + k }

// ago returns the time d before the fixture's now.
func (f *fixture) ago(d time.Duration) time.Time { return f.now.Add(-d) }

func mustJSON(tb testing.TB, v any) string {
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return string(b)
}

// job is a payload as Resque::Job.create encodes it (node-resque adds the
// queue).
func (f *fixture) job(class string, args ...any) string {
	if args == nil {
		args = []any{}
	}
	return mustJSON(f.tb, map[string]any{"class": class, "args": args})
}

// enqueue pushes payloads as Resque does: SADD queues, RPUSH queue:<q>.
func (f *fixture) enqueue(queue string, payloads ...string) {
	ctx := context.Background()
	require.NoError(f.tb, f.c.SAdd(ctx, f.key("queues"), queue).Err())
	for _, p := range payloads {
		require.NoError(f.tb, f.c.RPush(ctx, f.key("queue:"+queue), p).Err())
	}
}

// rubyWorker registers a Ruby worker (register_worker, worker_started) with
// a heartbeat (heartbeat!: Time#iso8601 of Redis TIME, here with an offset)
// and returns its id.
func (f *fixture) rubyWorker(host string, pid int, beat time.Time, queues string) string {
	ctx := context.Background()
	id := host + ":" + strconv.Itoa(pid) + ":" + queues
	require.NoError(f.tb, f.c.SAdd(ctx, f.key("workers"), id).Err())
	require.NoError(f.tb, f.c.Set(ctx, f.key("worker:"+id+":started"), "2026-11-27 10:00:00 +0000", 0).Err())
	require.NoError(f.tb, f.c.HSet(ctx, f.key("workers:heartbeat"), id, beat.In(time.FixedZone("", 3600)).Format(time.RFC3339)).Err())
	return id
}

// rubyWorking records a Ruby worker's job (Worker#working_on: run_at is
// Time.now.utc.iso8601).
func (f *fixture) rubyWorking(id, queue string, runAt time.Time) {
	v := mustJSON(f.tb, map[string]any{"queue": queue, "run_at": runAt.UTC().Format(time.RFC3339), "payload": map[string]any{"class": "Hard", "args": []int{1}}})
	require.NoError(f.tb, f.c.Set(context.Background(), f.key("worker:"+id), v, 0).Err())
}

// nodeWorker registers a node-resque worker named name (track, init, ping:
// epoch seconds) and returns its id.
func (f *fixture) nodeWorker(name string, ping time.Time, queues string) string {
	ctx := context.Background()
	id := name + ":" + queues
	require.NoError(f.tb, f.c.SAdd(ctx, f.key("workers"), id).Err())
	require.NoError(f.tb, f.c.Set(ctx, f.key("worker:"+id+":started"), ping.Unix(), 0).Err())
	f.nodePing(name, queues, ping)
	return id
}

func (f *fixture) nodePing(name, queues string, ping time.Time) {
	v := mustJSON(f.tb, map[string]any{"time": ping.Unix(), "name": name, "queues": queues})
	require.NoError(f.tb, f.c.Set(context.Background(), f.key("worker:ping:"+name), v, 0).Err())
}

// nodeWorking records a node-resque worker's job as popAndStoreJob.lua
// does: run_at is JavaScript's Date#toString in the worker's zone.
func (f *fixture) nodeWorking(id, name, queue string, runAt time.Time) {
	v := mustJSON(f.tb, map[string]any{
		"run_at": runAt.UTC().Format(jsDate) + " (Coordinated Universal Time)", "queue": queue, "worker": name,
		"payload": map[string]any{"class": "slow", "queue": queue, "args": []int{1}},
	})
	require.NoError(f.tb, f.c.Set(context.Background(), f.key("worker:"+id), v, 0).Err())
}

// fail records a failure as Failure::Redis#save does (RPUSH failed), or
// as Failure::RedisMultiQueue#save does (RPUSH <queue>_failed, SADD
// failed_queues) when multi is set.
func (f *fixture) fail(queue string, multi bool) {
	ctx := context.Background()
	v := mustJSON(f.tb, map[string]any{
		"failed_at": f.now.Format("2006/01/02 15:04:05 MST"), "payload": map[string]any{"class": "Hard", "args": []int{}},
		"exception": "RuntimeError", "error": "boom", "backtrace": []string{"x.rb:1"}, "worker": "w:1:" + queue, "queue": queue,
	})
	list := "failed"
	if multi {
		list = queue + "_failed"
		require.NoError(f.tb, f.c.SAdd(ctx, f.key("failed_queues"), list).Err())
	}
	require.NoError(f.tb, f.c.RPush(ctx, f.key(list), v).Err())
}

// stats sets stat:processed and stat:failed (Stat.incr).
func (f *fixture) stats(processed, failed int) {
	ctx := context.Background()
	require.NoError(f.tb, f.c.Set(ctx, f.key("stat:processed"), processed, 0).Err())
	require.NoError(f.tb, f.c.Set(ctx, f.key("stat:failed"), failed, 0).Err())
}

// populate writes a large dataset in a few pipelines: queues q0000.. with
// jobsPerQueue jobs each, workers (half Ruby, half node-resque) of which
// every other one works on a job, failures and the counters.
func (f *fixture) populate(queues, jobsPerQueue, workers int) {
	ctx := context.Background()
	pipe := f.c.Pipeline()
	flush := func() {
		_, err := pipe.Exec(ctx)
		require.NoError(f.tb, err)
	}
	names := make([]string, queues)
	payloads := make([]any, jobsPerQueue)
	for j := range payloads {
		payloads[j] = f.job("Job"+strconv.Itoa(j%7), j)
	}
	for q := range queues {
		names[q] = "q" + strconv.Itoa(10000 + q)[1:]
		pipe.SAdd(ctx, f.key("queues"), names[q])
		pipe.RPush(ctx, f.key("queue:"+names[q]), payloads...)
		if q%100 == 99 {
			flush()
		}
	}
	for i := range 50 {
		pipe.RPush(ctx, f.key("failed"), `{"failed_at":"2026/11/27 12:00:00 UTC","payload":{"class":"Hard","args":[`+strconv.Itoa(i)+`]},"exception":"RuntimeError","error":"boom","queue":"q0000"}`)
	}
	pipe.Set(ctx, f.key("stat:processed"), 123456, 0)
	pipe.Set(ctx, f.key("stat:failed"), 789, 0)
	flush()
	for w := range workers {
		q := names[w%len(names)]
		if w%2 == 0 {
			id := f.rubyWorker("ruby-"+strconv.Itoa(w), 1000+w, f.ago(10*time.Second), q)
			if w%4 == 0 {
				f.rubyWorking(id, q, f.ago(time.Duration(w+1)*time.Second))
			}
			continue
		}
		name := "node-" + strconv.Itoa(w) + ":" + strconv.Itoa(1000+w)
		id := f.nodeWorker(name, f.ago(time.Second), q)
		if w%4 == 1 {
			f.nodeWorking(id, name, q, f.ago(time.Duration(w+1)*time.Second))
		}
	}
}
