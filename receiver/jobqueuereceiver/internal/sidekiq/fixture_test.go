// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// fixture writes keys the way Sidekiq does, for tests the real 6.4.1 library
// cannot cover: other versions' formats, bad data and large datasets. Every
// layout follows Sidekiq's own code (lib/sidekiq/client.rb, launcher.rb,
// processor.rb and api.rb of the version named at each helper).
type fixture struct {
	tb  testing.TB
	c   *redis.Client
	ns  string
	now time.Time
}

// testNow is the clock of unit tests; ages are written relative to it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func newFixture(tb testing.TB, c *redis.Client, ns string) *fixture {
	return &fixture{tb: tb, c: c, ns: ns, now: testNow}
}

func (f *fixture) key(k string) string {
	if f.ns == "" {
		return k
	}
	return f.ns + ":" + k
}

// ago returns the time d before the fixture's now.
func (f *fixture) ago(d time.Duration) time.Time { return f.now.Add(-d) }

func secs(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func millis(t time.Time) int64 { return t.UnixMilli() }

func mustJSON(tb testing.TB, v any) string {
	b, err := json.Marshal(v)
	require.NoError(tb, err)
	return string(b)
}

// job6 is a job as Sidekiq <= 7 pushes it: created_at and enqueued_at are
// float epoch seconds (lib/sidekiq/client.rb, 6.4.1 and 7.x).
func (f *fixture) job6(class, queue string, enqueued time.Time) string {
	return mustJSON(f.tb, map[string]any{
		"class": class, "args": []any{1, "two"}, "retry": true, "queue": queue,
		"jid": "0123456789abcdef01234567", "created_at": secs(enqueued) - 1, "enqueued_at": secs(enqueued),
	})
}

// job8 is a job as Sidekiq 8.x pushes it: timestamps are integer epoch
// milliseconds.
func (f *fixture) job8(class, queue string, enqueued time.Time) string {
	return mustJSON(f.tb, map[string]any{
		"class": class, "args": []any{}, "retry": true, "queue": queue,
		"jid": "0123456789abcdef01234567", "created_at": millis(enqueued) - 1000, "enqueued_at": millis(enqueued),
	})
}

// enqueue pushes payloads onto a queue as Sidekiq::Client does: SADD queues,
// LPUSH queue:<q>. The first payload is the oldest (the tail, index -1).
func (f *fixture) enqueue(queue string, payloads ...string) {
	ctx := context.Background()
	require.NoError(f.tb, f.c.SAdd(ctx, f.key("queues"), queue).Err())
	for _, p := range payloads {
		require.NoError(f.tb, f.c.LPush(ctx, f.key("queue:"+queue), p).Err())
	}
}

// info6 is a process's info JSON as 6.4.1's Launcher#to_data writes it.
func info6(hostname string, pid, concurrency int, queues ...string) map[string]any {
	return map[string]any{
		"hostname": hostname, "started_at": 1.7e9, "pid": pid, "tag": "app",
		"concurrency": concurrency, "queues": queues, "labels": []string{},
		"identity": hostname + ":" + strconv.Itoa(pid) + ":0123456789ab",
	}
}

// heartbeat writes a process hash as the heartbeat does (HMSET info busy
// beat rtt_us quiet rss + SADD processes); extra fields (8.1.2+
// concurrency) are added as given.
func (f *fixture) heartbeat(identity string, info map[string]any, busy int, beat time.Time, quiet bool, rssKB int, extra ...any) {
	ctx := context.Background()
	fields := []any{
		"info", mustJSON(f.tb, info), "busy", busy, "beat", secs(beat),
		"rtt_us", 250, "quiet", strconv.FormatBool(quiet), "rss", rssKB,
	}
	fields = append(fields, extra...)
	require.NoError(f.tb, f.c.SAdd(ctx, f.key("processes"), identity).Err())
	require.NoError(f.tb, f.c.HSet(ctx, f.key(identity), fields...).Err())
}

// work6 is an in-flight job as 6.x-7.x keep it: the payload is the job's
// JSON as a string, run_at integer epoch seconds (processor.rb#stats).
func (f *fixture) work6(queue string, payload string, runAt time.Time) string {
	return mustJSON(f.tb, map[string]any{"queue": queue, "payload": payload, "run_at": runAt.Unix()})
}

// work8 is an in-flight job with the payload as an object, as 8.x may keep it.
func (f *fixture) work8(queue string, runAt time.Time) string {
	return mustJSON(f.tb, map[string]any{
		"queue": queue, "payload": map[string]any{"class": "Hard", "args": []int{1}}, "run_at": runAt.Unix(),
	})
}

// setWork writes `<identity><suffix>` (":workers" before 6.4.2, ":work"
// since) with one field per busy thread.
func (f *fixture) setWork(identity, suffix string, threads map[string]string) {
	ctx := context.Background()
	for tid, v := range threads {
		require.NoError(f.tb, f.c.HSet(ctx, f.key(identity+suffix), tid, v).Err())
	}
}

// populate writes a large Sidekiq 6.4-shaped dataset in a few pipelines:
// queues q0000.. with jobsPerQueue jobs each, processes with busyPerProcess
// running jobs each, some scheduled/retry/dead entries and the counters.
func (f *fixture) populate(queues, jobsPerQueue, processes, busyPerProcess int) {
	ctx := context.Background()
	pipe := f.c.Pipeline()
	flush := func() {
		_, err := pipe.Exec(ctx)
		require.NoError(f.tb, err)
	}
	names := make([]string, queues)
	for q := range queues {
		names[q] = "q" + strconv.Itoa(10000 + q)[1:]
		pipe.SAdd(ctx, f.key("queues"), names[q])
		for j := range jobsPerQueue {
			pipe.LPush(ctx, f.key("queue:"+names[q]), f.job6("Job"+strconv.Itoa(j%7), names[q], f.ago(time.Duration(jobsPerQueue-j)*time.Second)))
		}
		if q%100 == 99 {
			flush()
		}
	}
	for i := range 50 {
		entry := f.job6("Sched"+strconv.Itoa(i%3), "default", f.now)
		pipe.ZAdd(ctx, f.key("schedule"), redis.Z{Score: secs(f.now) + float64(i), Member: entry})
		pipe.ZAdd(ctx, f.key("retry"), redis.Z{Score: secs(f.now) + float64(i), Member: entry + " "})
		pipe.ZAdd(ctx, f.key("dead"), redis.Z{Score: secs(f.now) - float64(i), Member: entry + "  "})
	}
	pipe.Set(ctx, f.key("stat:processed"), 123456, 0)
	pipe.Set(ctx, f.key("stat:failed"), 789, 0)
	flush()
	for p := range processes {
		host := "worker-" + strconv.Itoa(p)
		id := host + ":" + strconv.Itoa(1000+p) + ":0123456789ab"
		f.heartbeat(id, info6(host, 1000+p, busyPerProcess+2, names[p%len(names)]), busyPerProcess, f.ago(2*time.Second), false, 200_000)
		threads := make(map[string]string, busyPerProcess)
		for b := range busyPerProcess {
			q := names[(p+b)%len(names)]
			threads["tid"+strconv.Itoa(b)] = f.work6(q, f.job6("Busy", q, f.ago(time.Minute)), f.ago(time.Duration(b+1)*time.Minute))
		}
		f.setWork(id, ":workers", threads)
	}
}
