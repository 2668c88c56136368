// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package bullmq

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testNow is the fixed clock of reader tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture writes BullMQ 6 state the way BullMQ's Lua scripts do (keys, types
// and hash fields), for the cases its API cannot produce or too slowly.
type fixture struct {
	tb     testing.TB
	c      *redis.Client
	prefix string
	ctx    context.Context
	nextID int
}

func newFixture(tb testing.TB, c *redis.Client, prefix string) *fixture {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &fixture{tb: tb, c: c, prefix: prefix, ctx: context.Background()}
}

func (f *fixture) key(q, suffix string) string { return f.prefix + ":" + q + ":" + suffix }

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func ago(d time.Duration) time.Time { return testNow.Add(-d) }

// queue writes the meta hash a Queue writes when constructed.
func (f *fixture) queue(q string) {
	require.NoError(f.tb, f.c.HSet(f.ctx, f.key(q, "meta"), "opts.maxLenEvents", "10000", "version", "bullmq:6.7.0").Err())
}

// job writes a job hash and returns its id.
func (f *fixture) job(q, name string, created time.Time, fields ...any) string {
	f.nextID++
	id := strconv.Itoa(f.nextID)
	args := append([]any{"name", name, "data", "{}", "opts", `{"attempts":0}`, "timestamp", ms(created), "delay", "0", "priority", "0"}, fields...)
	require.NoError(f.tb, f.c.HSet(f.ctx, f.key(q, id), args...).Err())
	return id
}

// waiting adds a FIFO job (LPUSH: the oldest ends at the tail).
func (f *fixture) waiting(q string, created time.Time) string {
	id := f.job(q, "job", created)
	require.NoError(f.tb, f.c.LPush(f.ctx, f.key(q, "wait"), id).Err())
	return id
}

// active adds a job a worker started at started.
func (f *fixture) active(q string, started time.Time) string {
	id := f.job(q, "job", started.Add(-time.Second), "processedOn", ms(started), "ats", "1")
	require.NoError(f.tb, f.c.LPush(f.ctx, f.key(q, "active"), id).Err())
	return id
}

// inSet adds a job to one of the sorted-set states.
func (f *fixture) inSet(q, set string, score float64, fields ...any) string {
	id := f.job(q, "job", testNow.Add(-time.Hour), fields...)
	require.NoError(f.tb, f.c.ZAdd(f.ctx, f.key(q, set), redis.Z{Score: score, Member: id}).Err())
	return id
}

// failed adds a job that failed for good with reason.
func (f *fixture) failed(q, name, reason string) string {
	f.nextID++
	id := strconv.Itoa(f.nextID)
	require.NoError(f.tb, f.c.HSet(f.ctx, f.key(q, id), "name", name, "data", "{}", "timestamp", ms(ago(time.Hour)),
		"processedOn", ms(ago(time.Minute)), "finishedOn", ms(ago(time.Minute)), "atm", "1", "failedReason", reason,
		"stacktrace", `["Error: `+reason+`\n    at worker.js:1:1"]`).Err())
	require.NoError(f.tb, f.c.ZAdd(f.ctx, f.key(q, "failed"), redis.Z{Score: float64(ago(time.Minute).UnixMilli()), Member: id}).Err())
	return id
}

// metrics writes the counters a Worker with the metrics option keeps.
func (f *fixture) metrics(q string, completed, failed int) {
	for set, n := range map[string]int{"completed": completed, "failed": failed} {
		require.NoError(f.tb, f.c.HSet(f.ctx, f.key(q, "metrics:"+set), "count", n, "prevTS", ms(ago(time.Minute)), "prevCount", 0).Err())
	}
}

// populate writes queues q0..q<n-1>, each with jobs waiting jobs, one active
// job, one delayed, one prioritized, one completed, one failed and metrics,
// in one pipeline.
func (f *fixture) populate(queues, jobs int) {
	pipe := f.c.Pipeline()
	created := ago(time.Minute)
	for i := range queues {
		q := "q" + strconv.Itoa(i)
		pipe.HSet(f.ctx, f.key(q, "meta"), "opts.maxLenEvents", "10000", "version", "bullmq:6.7.0")
		ids := make([]any, jobs)
		for j := range jobs {
			id := strconv.Itoa(j + 1)
			pipe.HSet(f.ctx, f.key(q, id), "name", "job", "data", `{"n":`+id+`}`, "opts", "{}", "timestamp", ms(created), "delay", "0", "priority", "0")
			ids[j] = id
		}
		pipe.LPush(f.ctx, f.key(q, "wait"), ids...)
		pipe.HSet(f.ctx, f.key(q, "a"), "name", "job", "timestamp", ms(created), "processedOn", ms(ago(time.Second)))
		pipe.LPush(f.ctx, f.key(q, "active"), "a")
		pipe.ZAdd(f.ctx, f.key(q, "delayed"), redis.Z{Score: float64(testNow.Add(time.Hour).UnixMilli() * 4096), Member: "d"})
		pipe.ZAdd(f.ctx, f.key(q, "prioritized"), redis.Z{Score: 1 << 32, Member: "p"})
		pipe.ZAdd(f.ctx, f.key(q, "completed"), redis.Z{Score: float64(created.UnixMilli()), Member: "c"})
		pipe.HSet(f.ctx, f.key(q, "f"), "name", "job", "failedReason", "boom", "timestamp", ms(created))
		pipe.ZAdd(f.ctx, f.key(q, "failed"), redis.Z{Score: float64(created.UnixMilli()), Member: "f"})
		pipe.HSet(f.ctx, f.key(q, "metrics:completed"), "count", 1)
		pipe.HSet(f.ctx, f.key(q, "metrics:failed"), "count", 1)
		if pipe.Len() > 10_000 {
			_, err := pipe.Exec(f.ctx)
			require.NoError(f.tb, err)
		}
	}
	_, err := pipe.Exec(f.ctx)
	require.NoError(f.tb, err)
}

func fixedNow(opts Options) Options {
	opts.Now = func() time.Time { return testNow }
	return opts
}
