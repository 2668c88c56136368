// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
)

// TestResqueDemo plays nine minutes of the demo as Resque 3.0 and checks
// the keys against the simulator's own count and Resque's layout: no job
// lost or duplicated, counters and failed list as Resque keeps them, the
// crashed pool registered (its heartbeat ageing) until a prune removes it.
func TestResqueDemo(t *testing.T) {
	m, c := newMiniredis(t)
	sim, err := workload.NewResque(c, workload.Demo(), 7)
	require.NoError(t, err)
	ctx := context.Background()
	batch := func() []string {
		var ids []string
		for _, id := range c.SMembers(ctx, "resque:workers").Val() {
			if strings.HasPrefix(id, "batch-1:") {
				ids = append(ids, id)
			}
		}
		return ids
	}
	var crashedAt5m []string
	total := play(t, sim, m, 9*60, func(now time.Time) {
		if now.Sub(start) == 5*time.Minute {
			crashedAt5m = batch()
		}
	})

	assert.Len(t, crashedAt5m, 5, "batch-1's five workers stay registered after the crash")
	assert.Empty(t, batch(), "and are pruned once their heartbeat is 5 minutes old")
	assert.Positive(t, total.Died, "batch-1's running jobs were recorded as failed")

	var waiting, running int64
	for _, q := range c.SMembers(ctx, "resque:queues").Val() {
		waiting += c.LLen(ctx, "resque:queue:"+q).Val()
	}
	workers := c.SMembers(ctx, "resque:workers").Val()
	beats := c.HGetAll(ctx, "resque:workers:heartbeat").Val()
	assert.Len(t, beats, len(workers), "one heartbeat per registered worker")
	for _, id := range workers {
		beat, err := time.Parse(time.RFC3339, beats[id])
		require.NoError(t, err, "Time#iso8601: %q", beats[id])
		assert.LessOrEqual(t, start.Add(9*time.Minute).Sub(beat), workload.Demo().Heartbeat)
		raw, err := c.Get(ctx, "resque:worker:"+id).Result()
		if err != nil {
			continue // idle
		}
		running++
		var job struct {
			Queue   string          `json:"queue"`
			RunAt   string          `json:"run_at"`
			Payload json.RawMessage `json:"payload"`
		}
		require.NoError(t, json.Unmarshal([]byte(raw), &job), raw)
		assert.Contains(t, strings.Split(strings.SplitN(id, ":", 3)[2], ","), job.Queue)
		_, err = time.Parse(time.RFC3339, job.RunAt)
		require.NoError(t, err)
		assert.Contains(t, string(job.Payload), `"class":`)
	}
	assert.Positive(t, running)
	assert.EqualValues(t, total.Enqueued, waiting+running+int64(total.Succeeded+total.Failed+total.Died), "no job lost or duplicated")
	assert.EqualValues(t, total.Fetched, running+int64(total.Succeeded+total.Failed+total.Died))
	assert.Equal(t, fmt.Sprint(total.StatProcessed), c.Get(ctx, "resque:stat:processed").Val())
	assert.Equal(t, fmt.Sprint(total.StatFailed), c.Get(ctx, "resque:stat:failed").Val())
	assert.EqualValues(t, total.Succeeded+total.Failed, total.StatProcessed)
	assert.EqualValues(t, total.Failed+total.Died, c.LLen(ctx, "resque:failed").Val())

	r, err := sim.Stop(ctx, start.Add(9*time.Minute))
	require.NoError(t, err)
	assert.EqualValues(t, running, r.Died, "jobs still running fail as DirtyExit")
	assert.Empty(t, c.SMembers(ctx, "resque:workers").Val(), "stopped workers leave the registry")
	assert.Empty(t, c.HGetAll(ctx, "resque:workers:heartbeat").Val())
	for _, k := range m.Keys() {
		assert.False(t, strings.HasPrefix(k, "resque:worker:") || strings.HasPrefix(k, "resque:stat:processed:"),
			"unregister_worker leaves no per-worker key: %s", k)
	}
}
