// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

func TestParseTime(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want time.Time
		ok   bool
	}{
		{"2026-11-27T12:00:00.123456Z", time.Date(2026, 11, 27, 12, 0, 0, 123456000, time.UTC), true},
		{"2026-11-27T12:00:00Z", time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), true}, // utcparse's fallback format
		{"2026-11-27T12:00:00.5Z", time.Date(2026, 11, 27, 12, 0, 0, 500000000, time.UTC), true},
		{"2026-11-27T13:00:00+01:00", time.Time{}, false}, // RQ never writes an offset
		{"2026-11-27 12:00:00Z", time.Time{}, false},
		{"1764244800", time.Time{}, false},
		{"", time.Time{}, false},
	} {
		got, ok := parseTime(tt.raw)
		assert.Equal(t, tt.ok, ok, tt.raw)
		assert.Equal(t, tt.want, got, tt.raw)
	}
}

// FuzzParseTime: never panics; whatever it accepts is UTC and reads back
// the same once written as RQ writes it (to RQ's microseconds).
func FuzzParseTime(f *testing.F) {
	for _, seed := range []string{
		"2026-11-27T12:00:00.123456Z", "2026-11-27T12:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z",
		"2026-11-27T13:00:00+01:00", "2026-02-30T00:00:00Z", "", "yesterday",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ts, ok := parseTime(raw)
		if !ok {
			assert.True(t, ts.IsZero())
			return
		}
		assert.Equal(t, time.UTC, ts.Location())
		again, ok := parseTime(utc(ts))
		require.True(t, ok, "%q", utc(ts))
		assert.Equal(t, ts.Truncate(time.Microsecond), again)
	})
}

// FuzzWorker feeds arbitrary field values to the worker hash parser: it
// never panics, counts never go negative, names stay bounded, and every
// hash that exists with time left is judged live.
func FuzzWorker(f *testing.F) {
	f.Add("busy", "job-1", "2026-11-27T12:00:00.123456Z", "3", "1", "web-1", "42", "default,low", "", int64(90_000))
	f.Add("suspended", "", "soon", "-1", "x", "h\xff", "", ",,", "2026-11-27T12:00:00Z", int64(29_999))
	f.Add("", "", "", "", "", "", "99999999999999999999", "", "", int64(-1))
	f.Fuzz(func(t *testing.T, state, job, beat, successful, failed, hostname, pid, queues, shutdown string, ttlMS int64) {
		hash := redis.NewSliceCmd(context.Background())
		hash.SetVal([]any{state, job, beat, successful, failed, hostname, pid, queues, shutdown})
		ttl := redis.NewDurationCmd(context.Background(), time.Millisecond)
		ttl.SetVal(time.Duration(ttlMS) * time.Millisecond)
		sc := &scrape{r: &Reader{}, now: testNow}
		p, judged := sc.worker(&workerRead{name: "w", key: "rq:worker:w", hash: hash, ttl: ttl})
		assert.GreaterOrEqual(t, p.successful, int64(0))
		assert.GreaterOrEqual(t, p.failed, int64(0))
		assert.GreaterOrEqual(t, p.PID, int64(0))
		assert.GreaterOrEqual(t, p.HeartbeatAge, time.Duration(0))
		assert.LessOrEqual(t, len(p.Hostname), snapshot.MaxNameLen)
		if ttl.Val() >= overdueBelow || ttl.Val() == -1 {
			assert.Equal(t, workerLive, judged)
		}
	})
}
