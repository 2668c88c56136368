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
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestAsynqScrape runs the receiver with system: asynq on asynq 0.26's keys:
// pending size and latency, pausing, tasks per state and totals per queue,
// a server with a worker running a stalled task, and an expired server
// entry. (internal/asynq compares every figure with asynq's Inspector; this
// checks how they become metrics.)
func TestAsynqScrape(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Second) // the reader's clock, and the times written
	ns := func(ago time.Duration) int64 { return now.Add(-ago).UnixNano() }
	at := func(in time.Duration) float64 { return float64(now.Add(in).Unix()) }
	pipe := admin.Pipeline()
	pipe.SAdd(ctx, "asynq:queues", "default", "low")
	pipe.HSet(ctx, "asynq:{default}:t:a", "state", "pending", "pending_since", ns(2*time.Minute))
	pipe.HSet(ctx, "asynq:{default}:t:b", "state", "pending", "pending_since", ns(time.Second))
	pipe.LPush(ctx, "asynq:{default}:pending", "a", "b")
	pipe.LPush(ctx, "asynq:{default}:active", "c")
	pipe.ZAdd(ctx, "asynq:{default}:retry", redis.Z{Score: at(time.Minute), Member: "d"})
	pipe.ZAdd(ctx, "asynq:{default}:archived", redis.Z{Score: at(-time.Hour), Member: "e"}, redis.Z{Score: at(-time.Hour), Member: "f"})
	pipe.Set(ctx, "asynq:{default}:processed", 40, 0)
	pipe.Set(ctx, "asynq:{default}:failed", 3, 0)
	pipe.Set(ctx, "asynq:{low}:paused", now.Unix(), 0)
	pipe.ZAdd(ctx, "asynq:{low}:scheduled", redis.Z{Score: at(time.Hour), Member: "g"})
	pipe.ZAdd(ctx, "asynq:{low}:completed", redis.Z{Score: at(time.Hour), Member: "h"})
	// A server that beat 2 s ago (its entry expires 10 s after the beat),
	// running c for 10 minutes, and one gone for minutes.
	pipe.ZAdd(ctx, "asynq:servers", redis.Z{Score: at(8 * time.Second), Member: "asynq:servers:{web-1:7:s1}"},
		redis.Z{Score: at(-3 * time.Minute), Member: "asynq:servers:{web-2:8:s2}"})
	pipe.Set(ctx, "asynq:servers:{web-1:7:s1}", asynqServerInfo("web-1", 7, 10, "default", "active"), 10*time.Second)
	pipe.HSet(ctx, "asynq:workers:{web-1:7:s1}", "c", asynqWorkerInfo("default", now.Add(-10*time.Minute)))
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	cfg := configFor(srv.Addr())
	cfg.System = SystemAsynq
	r := startReceiverAt(t, cfg, func() time.Time { return now })
	md, err := r.scrape(t)
	require.NoError(t, err)

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"default": 2, "low": 0}, points(t, md, "jobqueue.queue.size", q))
	assert.Equal(t, map[string]float64{"default": 120, "low": 0}, points(t, md, "jobqueue.queue.latency", q))
	assert.Equal(t, map[string]float64{"default": 0, "low": 1}, points(t, md, "jobqueue.queue.paused", q))
	jobs := points(t, md, "jobqueue.jobs", "jobqueue.job.state", q)
	for k, v := range jobs {
		if v == 0 {
			delete(jobs, k)
		}
	}
	assert.Equal(t, map[string]float64{
		"active/default": 1, "retry/default": 1, "archived/default": 2, "scheduled/low": 1, "completed/low": 1,
	}, jobs)
	assert.Equal(t, map[string]float64{"default": 40, "low": 0}, points(t, md, "jobqueue.jobs.processed", q))
	assert.Equal(t, map[string]float64{"default": 3, "low": 0}, points(t, md, "jobqueue.jobs.failed", q))
	assert.Equal(t, map[string]float64{"default": 1, "low": 0}, points(t, md, "jobqueue.jobs.stalled", q), "running for 10m > 5m")
	assert.Equal(t, map[string]float64{"default": 600, "low": 0}, points(t, md, "jobqueue.job.running.max_age", q))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes.stale"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.workers.busy"))
	assert.Equal(t, map[string]float64{"": 10}, points(t, md, "jobqueue.workers.capacity"))
	assert.Equal(t, map[string]float64{"web-1:7:s1": 2}, points(t, md, "jobqueue.process.heartbeat.age", "jobqueue.process.id"))
	assert.False(t, hasMetric(md, "jobqueue.process.memory.usage"), "asynq keeps no memory figure")
	system, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get("messaging.system")
	assert.Equal(t, "asynq", system.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}

// asynqServerInfo encodes a ServerInfo as asynq does (host 1, pid 2,
// concurrency 4, queues 5, status 7).
func asynqServerInfo(host string, pid, concurrency int, queue, status string) string {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, host)
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(pid))
	b = protowire.AppendTag(b, 4, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(concurrency))
	var entry []byte
	entry = protowire.AppendTag(entry, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, queue)
	b = protowire.AppendTag(b, 5, protowire.BytesType)
	b = protowire.AppendBytes(b, entry)
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendString(b, status)
	return string(b)
}

// asynqWorkerInfo encodes a WorkerInfo's queue (7) and start_time (8).
func asynqWorkerInfo(queue string, started time.Time) string {
	var ts []byte
	ts = protowire.AppendTag(ts, 1, protowire.VarintType)
	ts = protowire.AppendVarint(ts, uint64(started.Unix()))
	var b []byte
	b = protowire.AppendTag(b, 7, protowire.BytesType)
	b = protowire.AppendString(b, queue)
	b = protowire.AppendTag(b, 8, protowire.BytesType)
	b = protowire.AppendBytes(b, ts)
	return string(b)
}
