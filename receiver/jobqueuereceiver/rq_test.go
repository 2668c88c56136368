// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestRQScrape runs the receiver with system: rq on RQ 1.13's keys: size and
// latency of the head job, RQ's registries as states per queue, workers (a
// busy one running a stalled job, an idle one, a registry entry whose hash
// is gone), totals summed over the workers; no memory, no pausing. When a
// worker leaves, its counts go with it: the sums restart with a new start
// time rather than go down.
func TestRQScrape(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second) // the reader's clock, and the times written
	utc := func(ago time.Duration) string { return now.Add(-ago).Format("2006-01-02T15:04:05.000000Z") }
	score := func(in time.Duration) float64 { return float64(now.Add(in).Unix()) }
	pipe := admin.Pipeline()
	pipe.SAdd(ctx, "rq:queues", "rq:queue:default", "rq:queue:low")
	pipe.HSet(ctx, "rq:job:a", "status", "queued", "origin", "default", "enqueued_at", utc(2*time.Minute))
	pipe.HSet(ctx, "rq:job:b", "status", "queued", "origin", "default", "enqueued_at", utc(time.Second))
	pipe.RPush(ctx, "rq:queue:default", "a", "b")
	pipe.HSet(ctx, "rq:job:c", "status", "started", "origin", "default", "started_at", utc(10*time.Minute))
	pipe.ZAdd(ctx, "rq:wip:default", redis.Z{Score: score(90 * time.Second), Member: "c"})
	pipe.ZAdd(ctx, "rq:finished:default", redis.Z{Score: score(400 * time.Second), Member: "d"}, redis.Z{Score: score(-time.Second), Member: "e"})
	pipe.ZAdd(ctx, "rq:failed:low", redis.Z{Score: -1, Member: "f"})
	pipe.ZAdd(ctx, "rq:scheduled:low", redis.Z{Score: score(time.Hour), Member: "g"})
	pipe.HSet(ctx, "rq:worker:busy", "state", "busy", "current_job", "c", "hostname", "web-1", "pid", 7, "queues", "default",
		"last_heartbeat", utc(3*time.Second), "successful_job_count", 40, "failed_job_count", 2)
	pipe.Expire(ctx, "rq:worker:busy", 90*time.Second)
	pipe.HSet(ctx, "rq:worker:idle", "state", "idle", "hostname", "web-2", "pid", 8, "queues", "default,low",
		"last_heartbeat", utc(100*time.Second), "successful_job_count", 10, "failed_job_count", 1)
	pipe.Expire(ctx, "rq:worker:idle", 400*time.Second)
	pipe.SAdd(ctx, "rq:workers", "rq:worker:busy", "rq:worker:idle", "rq:worker:gone")
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	cfg := configFor(srv.Addr())
	cfg.System = SystemRQ
	r := startReceiverAt(t, cfg, func() time.Time { return now })
	md, err := r.scrape(t)
	require.NoError(t, err)

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"default": 2, "low": 0}, points(t, md, "jobqueue.queue.size", q))
	assert.Equal(t, map[string]float64{"default": 120, "low": 0}, points(t, md, "jobqueue.queue.latency", q))
	assert.False(t, hasMetric(md, "jobqueue.queue.paused"), "RQ cannot pause a queue")
	jobs := points(t, md, "jobqueue.jobs", "jobqueue.job.state", q)
	for k, v := range jobs {
		if v == 0 {
			delete(jobs, k)
		}
	}
	assert.Equal(t, map[string]float64{
		"queued/default": 2, "started/default": 1, "finished/default": 1, "failed/low": 1, "scheduled/low": 1,
	}, jobs, "the expired finished entry left out, the failure_ttl=-1 one kept")
	assert.Equal(t, map[string]float64{"default": 1, "low": 0}, points(t, md, "jobqueue.jobs.stalled", q), "running for 10m > 5m")
	assert.Equal(t, map[string]float64{"default": 600, "low": 0}, points(t, md, "jobqueue.job.running.max_age", q))
	assert.Equal(t, map[string]float64{"": 53}, points(t, md, "jobqueue.jobs.processed"))
	assert.Equal(t, map[string]float64{"": 3}, points(t, md, "jobqueue.jobs.failed"))
	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.processes"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes.stale"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.workers.busy"))
	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.workers.capacity"))
	assert.Equal(t, map[string]float64{"busy": 3, "idle": 100}, points(t, md, "jobqueue.process.heartbeat.age", "jobqueue.process.id"))
	assert.False(t, hasMetric(md, "jobqueue.process.memory.usage"), "RQ keeps no memory figure")
	system, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get("messaging.system")
	assert.Equal(t, "rq", system.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
	started := dataPoints(findMetric(t, md, "jobqueue.jobs.processed")).At(0).StartTimestamp()

	// The idle worker exits (register_death): its 11 executions leave the sums.
	require.NoError(t, admin.SRem(ctx, "rq:workers", "rq:worker:idle").Err())
	require.NoError(t, admin.Del(ctx, "rq:worker:idle").Err())
	now = now.Add(time.Minute)
	md, err = r.scrape(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"": 42}, points(t, md, "jobqueue.jobs.processed"))
	restarted := dataPoints(findMetric(t, md, "jobqueue.jobs.processed")).At(0).StartTimestamp()
	assert.Greater(t, restarted, started, "a sum that went down restarts")
}
