// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// fixture writes keys the way RQ 1.13 does (rq/queue.py, job.py,
// registry.py, worker.py), for what the real library cannot produce on
// demand: old formats, bad data, exact ages and large datasets.
type fixture struct {
	tb  testing.TB
	c   *redis.Client
	now time.Time
	// next numbers generated job ids.
	next int
}

// testNow is the clock of unit tests; ages are written relative to it.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC)

func newFixture(tb testing.TB, c *redis.Client) *fixture {
	return &fixture{tb: tb, c: c, now: testNow}
}

// ago returns the time d before the fixture's now.
func (f *fixture) ago(d time.Duration) time.Time { return f.now.Add(-d) }

// utc formats t as rq.utils.utcformat does: '%Y-%m-%dT%H:%M:%S.%fZ'.
func utc(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func (f *fixture) id() string {
	f.next++
	return "job-" + strconv.Itoa(f.next)
}

// job writes a job hash as Job.save does (the fields the reader may read,
// plus the ones that make it RQ's).
func (f *fixture) job(pipe redis.Pipeliner, id, queue, status string, fields ...any) {
	ctx := context.Background()
	all := append([]any{
		"status", status, "origin", queue, "description", "rqjobs.ok(1)",
		"created_at", utc(f.ago(time.Hour)), "timeout", 180, "data", "x\x9c\x00binary",
	}, fields...)
	pipe.HSet(ctx, "rq:job:"+id, all...)
}

// enqueue pushes jobs as Queue.enqueue does: SADD rq:queues, the job hash
// with enqueued_at, RPUSH. The first is the oldest, at the head.
func (f *fixture) enqueue(queue string, enqueued ...time.Time) []string {
	ctx := context.Background()
	pipe := f.c.Pipeline()
	pipe.SAdd(ctx, "rq:queues", "rq:queue:"+queue)
	ids := make([]string, len(enqueued))
	for i, at := range enqueued {
		ids[i] = f.id()
		f.job(pipe, ids[i], queue, "queued", "enqueued_at", utc(at))
		pipe.RPush(ctx, "rq:queue:"+queue, ids[i])
	}
	_, err := pipe.Exec(ctx)
	require.NoError(f.tb, err)
	return ids
}

// register adds a job to a registry of queue (prefix "rq:wip:", ...) with
// the score RQ gives it, and its hash with status.
func (f *fixture) register(prefix, queue, status string, score float64) string {
	ctx := context.Background()
	id := f.id()
	pipe := f.c.Pipeline()
	pipe.SAdd(ctx, "rq:queues", "rq:queue:"+queue)
	f.job(pipe, id, queue, status)
	pipe.ZAdd(ctx, prefix+queue, redis.Z{Score: score, Member: id})
	_, err := pipe.Exec(ctx)
	require.NoError(f.tb, err)
	return id
}

// rqWorker is a worker hash as register_birth, heartbeat and
// prepare_job_execution leave it.
type rqWorker struct {
	name, state, hostname string
	pid                   int
	queues                []string
	beat                  time.Time
	successful, failed    int
	// job is the current job's id, started at started from queue origin.
	job, origin string
	started     time.Time
	// ttl is what is left of the hash's TTL; 0 means no TTL.
	ttl time.Duration
}

// worker writes w as RQ does: the hash, rq:workers, rq:workers:<q>, the
// TTL; a busy worker's job hash and its rq:wip entry.
func (f *fixture) worker(w rqWorker) {
	ctx := context.Background()
	key := "rq:worker:" + w.name
	pipe := f.c.Pipeline()
	fields := []any{
		"birth", utc(f.ago(time.Hour)), "last_heartbeat", utc(w.beat), "queues", strings.Join(w.queues, ","),
		"pid", w.pid, "hostname", w.hostname, "ip_address", "10.0.0.1", "version", "1.13.0",
		"python_version", "3.11.2", "state", w.state, "total_working_time", 1.5,
		"successful_job_count", w.successful, "failed_job_count", w.failed,
	}
	if w.job != "" {
		fields = append(fields, "current_job", w.job, "current_job_working_time", 0)
		f.job(pipe, w.job, w.origin, "started", "enqueued_at", utc(w.started.Add(-time.Second)),
			"started_at", utc(w.started), "worker_name", w.name)
		pipe.ZAdd(ctx, "rq:wip:"+w.origin, redis.Z{Score: float64(f.now.Unix() + 90), Member: w.job})
	}
	pipe.HSet(ctx, key, fields...)
	pipe.SAdd(ctx, "rq:workers", key)
	for _, q := range w.queues {
		pipe.SAdd(ctx, "rq:workers:"+q, key)
	}
	if w.ttl > 0 {
		pipe.PExpire(ctx, key, w.ttl)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(f.tb, err)
}

// populate writes a large RQ dataset in a few pipelines: queues q0000..
// with jobsPerQueue waiting jobs each, a few entries in every registry of
// every queue, and workers, busy ones running a job each.
func (f *fixture) populate(queues, jobsPerQueue, workers, busy int) {
	ctx := context.Background()
	pipe := f.c.Pipeline()
	flush := func() {
		_, err := pipe.Exec(ctx)
		require.NoError(f.tb, err)
	}
	names := make([]string, queues)
	now := float64(f.now.Unix())
	for q := range queues {
		name := "q" + strconv.Itoa(10000 + q)[1:]
		names[q] = name
		pipe.SAdd(ctx, "rq:queues", "rq:queue:"+name)
		for j := range jobsPerQueue {
			id := f.id()
			f.job(pipe, id, name, "queued", "enqueued_at", utc(f.ago(time.Duration(jobsPerQueue-j)*time.Second)))
			pipe.RPush(ctx, "rq:queue:"+name, id)
		}
		for i, reg := range registries {
			for k := range i + 1 {
				pipe.ZAdd(ctx, reg.prefix+name, redis.Z{Score: now + 500 - float64(k*300), Member: f.id()})
			}
		}
		if q%50 == 49 {
			flush()
		}
	}
	flush()
	for i := range workers {
		w := rqWorker{
			name: "w" + strconv.Itoa(i), state: "idle", hostname: "host-" + strconv.Itoa(i%10), pid: 1000 + i,
			queues: []string{names[i%len(names)]}, beat: f.ago(5 * time.Second), successful: 10 * i, failed: i,
			ttl: 400 * time.Second,
		}
		if i < busy {
			w.state, w.job, w.origin, w.started = "busy", f.id(), names[i%len(names)], f.ago(time.Duration(i+1)*time.Second)
		}
		f.worker(w)
	}
}
