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

// TestBullMQMetrics runs the receiver on BullMQ keys under a custom prefix,
// with the by-class breakdown on: states and totals carry the queue, no
// process metric is emitted without client_list, and the prefix is the
// namespace resource attribute.
func TestBullMQMetrics(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	pipe := c.Pipeline()
	pipe.HSet(ctx, "myapp:emails:meta", "version", "bullmq:6.7.0")
	pipe.HSet(ctx, "myapp:emails:1", "name", "welcome", "timestamp", now.Add(-time.Minute).UnixMilli())
	pipe.LPush(ctx, "myapp:emails:wait", "1")
	pipe.ZAdd(ctx, "myapp:emails:prioritized", redis.Z{Score: 1 << 32, Member: "2"})
	pipe.HSet(ctx, "myapp:emails:3", "name", "digest", "failedReason", "smtp down")
	pipe.ZAdd(ctx, "myapp:emails:failed", redis.Z{Score: float64(now.UnixMilli()), Member: "3"})
	pipe.HSet(ctx, "myapp:emails:metrics:completed", "count", 40)
	pipe.HSet(ctx, "myapp:emails:metrics:failed", "count", 2)
	pipe.HSet(ctx, "bull:other:meta", "version", "bullmq:6.7.0") // another prefix
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	cfg := configFor(srv.Addr())
	cfg.System = SystemBullMQ
	cfg.Namespace = "myapp"
	cfg.Metrics.JobqueueJobsByClass.Enabled = true
	r := startReceiver(t, cfg)
	md, err := r.last(t)
	require.NoError(t, err)

	assert.Equal(t, map[string]float64{"emails": 2}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))
	jobs := points(t, md, "jobqueue.jobs", "messaging.destination.name", "jobqueue.job.state")
	assert.Equal(t, 1.0, jobs["emails/waiting"])
	assert.Equal(t, 1.0, jobs["emails/prioritized"])
	assert.Equal(t, 1.0, jobs["emails/failed"])
	assert.Equal(t, map[string]float64{"emails": 42}, points(t, md, "jobqueue.jobs.processed", "messaging.destination.name"))
	assert.Equal(t, map[string]float64{"emails": 2}, points(t, md, "jobqueue.jobs.failed", "messaging.destination.name"))
	assert.Equal(t, map[string]float64{"failed/digest/smtp down": 1},
		points(t, md, "jobqueue.jobs.by_class", "jobqueue.job.state", "jobqueue.job.class", "error.type"))
	assert.Equal(t, map[string]float64{"emails": 0}, points(t, md, "jobqueue.queue.paused", "messaging.destination.name"))
	assert.False(t, hasMetric(md, "jobqueue.processes"), "no process figure without client_list")
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	system, _ := res.Get("messaging.system")
	assert.Equal(t, "bullmq", system.Str())
	ns, _ := res.Get("jobqueue.namespace")
	assert.Equal(t, "myapp", ns.Str())

	// With client_list, a worker connection is a process.
	worker := redis.NewClient(&redis.Options{Addr: srv.Addr(), ClientName: "myapp:ZW1haWxz"})
	require.NoError(t, worker.Ping(ctx).Err())
	defer worker.Close()
	cfg.ClientList = true
	md, err = startReceiver(t, cfg).last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes"))
}
