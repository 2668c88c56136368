// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestResqueScrape runs the receiver with system: resque on Resque 3.0's
// keys under a namespace of its own: sizes, failed (both failure backends)
// and working jobs, totals, workers with their heartbeats, a stale one
// apart, a stalled job; no latency, which Resque's payloads cannot give.
func TestResqueScrape(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second) // the reader's clock, and the times written
	iso := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	busy, idle, gone := "web-1:101:critical,default", "web-2:202:default", "web-3:303:default"
	pipe := admin.Pipeline()
	pipe.SAdd(ctx, "app:queues", "critical", "default")
	pipe.RPush(ctx, "app:queue:default", `{"class":"HardJob","args":[1]}`, `{"class":"HardJob","args":[2]}`)
	pipe.RPush(ctx, "app:failed", `{"failed_at":"2026/11/27 12:00:00 UTC","payload":{"class":"HardJob","args":[3]},"exception":"RuntimeError","error":"boom","queue":"default"}`)
	pipe.SAdd(ctx, "app:failed_queues", "critical_failed")
	pipe.RPush(ctx, "app:critical_failed", `{"payload":{"class":"A","args":[]},"exception":"E","queue":"critical"}`)
	pipe.SAdd(ctx, "app:workers", busy, idle, gone)
	pipe.HSet(ctx, "app:workers:heartbeat", busy, iso(2*time.Second), idle, iso(30*time.Second), gone, iso(10*time.Minute))
	pipe.Set(ctx, "app:worker:"+busy, `{"queue":"default","run_at":"`+iso(10*time.Minute)+`","payload":{"class":"HardJob","args":[0]}}`, 0)
	pipe.Set(ctx, "app:stat:processed", 1000, 0)
	pipe.Set(ctx, "app:stat:failed", 25, 0)
	pipe.Set(ctx, "stat:processed", 9, 0) // another app's
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	cfg := configFor(srv.Addr())
	cfg.System = SystemResque
	cfg.Namespace = "app"
	r := startReceiverAt(t, cfg, func() time.Time { return now })
	md, err := r.scrape(t)
	require.NoError(t, err)

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"critical": 0, "default": 2}, points(t, md, "jobqueue.queue.size", q))
	assert.False(t, hasMetric(md, "jobqueue.queue.latency"), "Resque jobs carry no enqueue time")
	assert.Equal(t, map[string]float64{"failed": 2, "working": 1}, points(t, md, "jobqueue.jobs", "jobqueue.job.state"))
	assert.Equal(t, map[string]float64{"critical": 0, "default": 1}, points(t, md, "jobqueue.jobs.stalled", q), "running for 10m > 5m")
	assert.Equal(t, map[string]float64{"": 1000}, points(t, md, "jobqueue.jobs.processed"))
	assert.Equal(t, map[string]float64{"": 25}, points(t, md, "jobqueue.jobs.failed"))
	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.processes"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes.stale"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.workers.busy"))
	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.workers.capacity"))
	assert.Equal(t, map[string]float64{busy: 2, idle: 30}, points(t, md, "jobqueue.process.heartbeat.age", "jobqueue.process.id"))
	assert.Equal(t, map[string]float64{"critical": 0, "default": 600}, points(t, md, "jobqueue.job.running.max_age", q))
	assert.False(t, hasMetric(md, "jobqueue.process.memory.usage"), "Resque keeps no memory figure")
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	system, _ := res.Get("messaging.system")
	assert.Equal(t, "resque", system.Str())
	ns, _ := res.Get("jobqueue.namespace")
	assert.Equal(t, "app", ns.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}
