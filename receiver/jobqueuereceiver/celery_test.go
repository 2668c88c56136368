// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestCeleryScrape runs the receiver with system: celery on kombu's keys
// (default options, results on): sizes over the priority lists, unacked
// messages per queue and stalled ones, result states; no latency and no
// process or worker metric, which Celery's Redis cannot give.
func TestCeleryScrape(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	pipe := admin.Pipeline()
	pipe.SAdd(ctx, "_kombu.binding.celery", "celery\x06\x16\x06\x16celery")
	pipe.SAdd(ctx, "_kombu.binding.mail", "mail\x06\x16\x06\x16mail")
	pipe.SAdd(ctx, "_kombu.binding.celery.pidbox", "\x06\x16\x06\x16w1@host.celery.pidbox")
	pipe.LPush(ctx, "celery", "{}", "{}")
	pipe.LPush(ctx, "celery\x06\x163", "{}")
	pipe.LPush(ctx, "mail\x06\x169", "{}")
	for i, ago := range []time.Duration{10 * time.Minute, time.Second} {
		tag := "tag" + strconv.Itoa(i)
		pipe.ZAdd(ctx, "unacked_index", redis.Z{Score: float64(now.Add(-ago).Unix()), Member: tag})
		pipe.HSet(ctx, "unacked", tag, `[{"body": ""}, "", "mail"]`)
	}
	pipe.Set(ctx, "celery-task-meta-1", `{"status": "FAILURE", "result": {}}`, 0)
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	cfg := configFor(srv.Addr())
	cfg.System = SystemCelery
	cfg.Celery.Results.Enabled = true
	r := startReceiver(t, cfg)
	md, err := r.scrape(t)
	require.NoError(t, err)

	assert.Equal(t, map[string]float64{"celery": 3, "mail": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))
	assert.Equal(t, map[string]float64{"celery": 0, "mail": 1}, points(t, md, "jobqueue.jobs.stalled", "messaging.destination.name"))
	assert.Equal(t, map[string]float64{"unacked/celery": 0, "unacked/mail": 2, "failure": 1},
		points(t, md, "jobqueue.jobs", "jobqueue.job.state", "messaging.destination.name"))
	metrics := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range metrics.Len() {
		name := metrics.At(i).Name()
		assert.NotContains(t, []string{"jobqueue.queue.latency", "jobqueue.processes", "jobqueue.processes.stale",
			"jobqueue.workers.busy", "jobqueue.workers.capacity"}, name)
	}
	system, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get("messaging.system")
	assert.Equal(t, "celery", system.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}
