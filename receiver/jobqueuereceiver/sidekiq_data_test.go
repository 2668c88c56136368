// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// sidekiqData writes state the way Sidekiq 6.4.1 does (see
// /work/shared/reference/jobsystems/sidekiq.md): Sidekiq::Client#push for
// queues, the launcher's heartbeat for processes, the processor's
// `<identity>:workers` hash for running jobs. Writes are pipelined and sent
// by flush.
type sidekiqData struct {
	tb   testing.TB
	pipe redis.Pipeliner
}

func newSidekiqData(tb testing.TB, c *redis.Client) *sidekiqData {
	return &sidekiqData{tb: tb, pipe: c.Pipeline()}
}

func (d *sidekiqData) flush() {
	d.tb.Helper()
	_, err := d.pipe.Exec(context.Background())
	require.NoError(d.tb, err)
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func (d *sidekiqData) json(v any) string {
	b, err := json.Marshal(v)
	require.NoError(d.tb, err)
	return string(b)
}

// job is a job's JSON as Sidekiq::Client pushes it.
func (d *sidekiqData) job(class, queue string, enqueued time.Time) string {
	return d.json(map[string]any{
		"class": class, "args": []any{42, "x"}, "retry": true, "queue": queue,
		"jid": "b4a577edbccf1d805744efa9", "created_at": epochSeconds(enqueued), "enqueued_at": epochSeconds(enqueued),
	})
}

// push registers the queue and LPUSHes one job per enqueue time, oldest
// first, so the oldest ends at the tail as with Sidekiq.
func (d *sidekiqData) push(queue string, enqueued ...time.Time) {
	ctx := context.Background()
	d.pipe.SAdd(ctx, "queues", queue)
	for _, at := range enqueued {
		d.pipe.LPush(ctx, "queue:"+queue, d.job("HardJob", queue, at))
	}
}

// sorted adds n jobs to one of the schedule, retry and dead sorted sets.
func (d *sidekiqData) sorted(set string, n int, at time.Time) {
	for i := range n {
		job := d.json(map[string]any{
			"class": "HardJob", "args": []any{i}, "queue": "default", "jid": strconv.Itoa(i),
			"error_class": "Net::ReadTimeout", "retry_count": 0,
		})
		d.pipe.ZAdd(context.Background(), set, redis.Z{Score: epochSeconds(at) + float64(i), Member: job})
	}
}

func (d *sidekiqData) stats(processed, failed int64) {
	d.pipe.Set(context.Background(), "stat:processed", processed, 0)
	d.pipe.Set(context.Background(), "stat:failed", failed, 0)
}

// sidekiqProcess is what one heartbeat writes.
type sidekiqProcess struct {
	host        string
	pid         int
	concurrency int
	busy        int
	rssKB       int64
	beat        time.Time
	quiet       bool
	// running maps queue names to the run_at of each job running from it.
	running map[string][]time.Time
}

func (p sidekiqProcess) identity() string {
	return p.host + ":" + strconv.Itoa(p.pid) + ":3c0d6e5f4a1b"
}

// process writes the heartbeat's hash (TTL 60 s), registers the identity and
// writes the running jobs as `<identity>:workers`, as 6.4.1 does.
func (d *sidekiqData) process(p sidekiqProcess) {
	ctx := context.Background()
	id := p.identity()
	info := d.json(map[string]any{
		"hostname": p.host, "started_at": epochSeconds(p.beat) - 3600, "pid": p.pid, "tag": "app",
		"concurrency": p.concurrency, "queues": []string{"critical", "default"}, "labels": []string{}, "identity": id,
	})
	d.pipe.SAdd(ctx, "processes", id)
	d.pipe.HSet(ctx, id, "info", info, "busy", p.busy, "beat", epochSeconds(p.beat),
		"quiet", strconv.FormatBool(p.quiet), "rss", p.rssKB, "rtt_us", 310)
	d.pipe.Expire(ctx, id, time.Minute)
	tid := 0
	for queue, runAts := range p.running {
		for _, at := range runAts {
			tid++
			work := d.json(map[string]any{
				"queue": queue, "payload": d.job("HardJob", queue, at.Add(-time.Second)), "run_at": at.Unix(),
			})
			d.pipe.HSet(ctx, id+":workers", strconv.FormatInt(int64(tid)*7919, 36), work)
		}
	}
	if tid > 0 {
		d.pipe.Expire(ctx, id+":workers", time.Minute)
	}
}
