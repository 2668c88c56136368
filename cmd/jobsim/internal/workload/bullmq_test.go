// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

func TestBullMQSameSeedSameState(t *testing.T) {
	run := func(seed uint64) string {
		m, c := newMiniredis(t)
		sim, err := workload.NewBullMQ(c, workload.Demo(), seed)
		require.NoError(t, err)
		play(t, sim, m, 90, nil)
		return dump(m)
	}
	first := run(7)
	require.Contains(t, first, "bull:default:metrics:completed", "the run wrote BullMQ state")
	assert.True(t, first == run(7), "same seed and times must write the same state")
	assert.False(t, first == run(8), "another seed must play another workload")
}

// TestBullMQDemoIncidents checks the incidents the demo promises, as the
// job_queue receiver reads them: the reports backlog ages, web-2's
// migration runs for minutes, batch-1's jobs stay active after its crash
// until the stalled check moves them back.
func TestBullMQDemoIncidents(t *testing.T) {
	m, c := newMiniredis(t)
	sim, err := workload.NewBullMQ(c, workload.Demo(), 1)
	require.NoError(t, err)
	ctx := context.Background()
	const steps = 40
	now := start.Add((steps - 1) * time.Second) // the last step's time
	oldestWaiting := func(q string) time.Duration {
		id, err := c.LIndex(ctx, "bull:"+q+":wait", -1).Result()
		require.NoError(t, err)
		ts, err := c.HGet(ctx, "bull:"+q+":"+id, "timestamp").Int64()
		require.NoError(t, err)
		return now.Sub(time.UnixMilli(ts))
	}
	oldestActive := func(q string) time.Duration {
		ids, err := c.LRange(ctx, "bull:"+q+":active", 0, -1).Result()
		require.NoError(t, err)
		var oldest time.Duration
		for _, id := range ids {
			ms, err := c.HGet(ctx, "bull:"+q+":"+id, "processedOn").Int64()
			require.NoError(t, err)
			oldest = max(oldest, now.Sub(time.UnixMilli(ms)))
		}
		return oldest
	}
	play(t, sim, m, steps, nil)
	assert.Greater(t, oldestWaiting("reports"), 5*time.Minute, "reports falls behind")
	assert.Greater(t, oldestActive("default"), 5*time.Minute, "the migration is stalled")
	meta, err := c.HGetAll(ctx, "bull:default:meta").Result()
	require.NoError(t, err)
	assert.Equal(t, "bullmq:6.7.0", meta["version"])
}

// countsView is what BullMQ's API reads of one queue (testdata/bullmq/counts.js).
type countsView struct {
	Counts    map[string]int64 `json:"counts"`
	Paused    bool             `json:"paused"`
	Completed int64            `json:"completed"`
	Failed    int64            `json:"failed"`
}

// TestBullMQReadsSimulatedState plays the demo scenario into a real
// redis-server, stops it, and reads it back with BullMQ 6.7.0's own API:
// its counts and metrics must account for every job the simulator added.
func TestBullMQReadsSimulatedState(t *testing.T) {
	app := nodetest.Install(t, filepath.Join("testdata", "bullmq"), "counts.js")
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	sim, err := workload.NewBullMQ(c, workload.Demo(), 42)
	require.NoError(t, err)
	const steps = 180
	begin := time.Now().Add(-steps * time.Second)
	var total workload.Report
	for i := range steps {
		r, err := sim.Step(context.Background(), begin.Add(time.Duration(i)*time.Second))
		require.NoError(t, err, "step %d", i)
		total.Add(r)
	}
	r, err := sim.Stop(context.Background(), time.Now())
	require.NoError(t, err)
	total.Add(r)

	queues := []string{"critical", "default", "mailers", "reports"}
	cmd := exec.Command("node", "counts.js")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()), "QUEUES="+strings.Join(queues, ","))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "counts.js: %s", stderr.String())
	var view map[string]countsView
	require.NoError(t, json.Unmarshal(out, &view), "%s", out)

	var present, completed, failed, failedSet int64
	for _, q := range queues {
		v := view[q]
		assert.Zero(t, v.Counts["active"], "%s: stopped workers hold no jobs", q)
		assert.False(t, v.Paused, q)
		present += v.Counts["waiting"] + v.Counts["paused"] + v.Counts["prioritized"] + v.Counts["delayed"]
		completed += v.Completed
		failed += v.Failed
		failedSet += v.Counts["failed"]
		assert.LessOrEqual(t, v.Counts["completed"], int64(1000), "%s: removeOnComplete keeps 1,000", q)
	}
	assert.EqualValues(t, total.Succeeded, completed, "metrics:completed counts every success")
	assert.EqualValues(t, total.Died, failed, "metrics:failed counts every final failure")
	assert.EqualValues(t, total.Died, failedSet)
	assert.Positive(t, total.Died)
	assert.Positive(t, total.Retried)
	assert.EqualValues(t, total.Enqueued+total.Scheduled, present+completed+failed, "no job lost or duplicated")
	assert.EqualValues(t, total.StatProcessed, completed+failed)
}
