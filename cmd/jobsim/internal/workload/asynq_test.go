// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"
)

func TestAsynqSameSeedSameState(t *testing.T) {
	run := func(seed uint64) string {
		m, c := newMiniredis(t)
		sim, err := workload.NewAsynq(c, workload.Demo(), seed)
		require.NoError(t, err)
		play(t, sim, m, 90, nil)
		return dump(m)
	}
	first := run(7)
	require.Contains(t, first, "asynq:{default}:processed", "the run wrote asynq state")
	assert.True(t, first == run(7), "same seed and times must write the same state")
	assert.False(t, first == run(8), "another seed must play another workload")
}

// asynqTimestamp reads field num (a google.protobuf.Timestamp) of a
// WorkerInfo, independently of the simulator's encoder.
func asynqTimestamp(t *testing.T, msg []byte, num protowire.Number) time.Time {
	t.Helper()
	for len(msg) > 0 {
		n, typ, l := protowire.ConsumeTag(msg)
		require.Positive(t, l)
		msg = msg[l:]
		l = protowire.ConsumeFieldValue(n, typ, msg)
		require.Positive(t, l)
		if n == num {
			v, _ := protowire.ConsumeBytes(msg)
			var sec, nsec uint64
			for len(v) > 0 {
				fn, _, fl := protowire.ConsumeTag(v)
				x, xl := protowire.ConsumeVarint(v[fl:])
				if fn == 1 {
					sec = x
				} else {
					nsec = x
				}
				v = v[fl+xl:]
			}
			return time.Unix(int64(sec), int64(nsec))
		}
		msg = msg[l:]
	}
	return time.Time{}
}

// TestAsynqDemoIncidents checks the incidents the demo promises, as they
// read in asynq's keys: the reports backlog ages, web-2's migration runs
// for minutes, batch-1's entry expires after its crash and its tasks are
// recovered into retry.
func TestAsynqDemoIncidents(t *testing.T) {
	m, c := newMiniredis(t)
	sim, err := workload.NewAsynq(c, workload.Demo(), 1)
	require.NoError(t, err)
	ctx := context.Background()
	checked := false
	total := play(t, sim, m, 240, func(now time.Time) {
		switch now.Sub(start) {
		case 39 * time.Second:
			tail, err := c.LIndex(ctx, "asynq:{reports}:pending", -1).Result()
			require.NoError(t, err)
			since, err := c.HGet(ctx, "asynq:{reports}:t:"+tail, "pending_since").Int64()
			require.NoError(t, err)
			assert.Greater(t, now.Sub(time.Unix(0, since)), 5*time.Minute, "reports falls behind")

			var migration time.Duration
			servers, err := c.ZRange(ctx, "asynq:servers", 0, -1).Result()
			require.NoError(t, err)
			require.Len(t, servers, 4, "reports-2 has not started")
			for _, s := range servers {
				workers, err := c.HVals(ctx, "asynq:workers:"+s[len("asynq:servers:"):]).Result()
				require.NoError(t, err)
				for _, w := range workers {
					migration = max(migration, now.Sub(asynqTimestamp(t, []byte(w), 8)))
				}
			}
			assert.Greater(t, migration, 5*time.Minute, "the migration is stalled")
		case 239 * time.Second:
			// batch-1 crashed at 60 s: its entry's expiry has passed.
			expired, err := c.ZCount(ctx, "asynq:servers", "-inf", "("+strconv.FormatInt(now.Unix(), 10)).Result()
			require.NoError(t, err)
			assert.Equal(t, int64(1), expired, "batch-1's entry is stale")
			checked = true
		}
	})
	require.True(t, checked)
	assert.Positive(t, total.Retried+total.Died)
	assert.Positive(t, total.StatFailed)
	processed, err := c.Get(ctx, "asynq:{default}:processed").Int64()
	require.NoError(t, err)
	assert.Positive(t, processed)
}

// TestAsynqReceiverReadsDemo plays 40 s of the demo into a real
// redis-server and takes a snapshot with the job_queue receiver: the
// incidents show as the demo promises.
func TestAsynqReceiverReadsDemo(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	sim, err := workload.NewAsynq(c, workload.Demo(), 3)
	require.NoError(t, err)
	begin := time.Now().Add(-39 * time.Second)
	for i := range 40 {
		_, err := sim.Step(context.Background(), begin.Add(time.Duration(i)*time.Second))
		require.NoError(t, err, "step %d", i)
	}
	cfg := jobqueuereceiver.NewDefaultConfig()
	cfg.System = "asynq"
	cfg.Endpoint = srv.Addr()
	snapshotter, err := jobqueuereceiver.NewSnapshotter(context.Background(), cfg)
	require.NoError(t, err)
	defer snapshotter.Close()
	s, err := snapshotter.Snapshot(context.Background())
	require.NoError(t, err)
	require.Empty(t, s.Problems)
	queues := map[string]jobqueuereceiver.Queue{}
	for _, q := range s.Queues {
		queues[q.Name] = q
	}
	require.Len(t, queues, 4)
	assert.Greater(t, queues["reports"].Latency, 5*time.Minute, "reports falls behind")
	assert.Equal(t, int64(1), queues["default"].Stalled, "web-2's migration")
	assert.Len(t, s.Processes, 4, "reports-2 has not started")
	assert.LessOrEqual(t, s.RoundTrips, int64(4))
}

// TestAsynqAccountsForEveryTask plays the demo into a real redis-server,
// stops it, and checks with asynq's own counting (as Inspector.GetQueueInfo
// reads it) that every task the simulator added is somewhere, and the
// counters add up.
func TestAsynqAccountsForEveryTask(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, srv.Addr())
	sim, err := workload.NewAsynq(c, workload.Demo(), 42)
	require.NoError(t, err)
	const steps = 300
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

	ctx := context.Background()
	queues, err := c.SMembers(ctx, "asynq:queues").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"critical", "default", "mailers", "reports"}, queues)
	var present, processed, failed, archived, active int64
	for _, q := range queues {
		pipe := c.Pipeline()
		counts := []*redis.IntCmd{
			pipe.LLen(ctx, "asynq:{"+q+"}:pending"), pipe.ZCard(ctx, "asynq:{"+q+"}:scheduled"),
			pipe.ZCard(ctx, "asynq:{"+q+"}:retry"), pipe.ZCard(ctx, "asynq:{"+q+"}:archived"),
		}
		act := pipe.LLen(ctx, "asynq:{"+q+"}:active")
		p := pipe.Get(ctx, "asynq:{"+q+"}:processed")
		f := pipe.Get(ctx, "asynq:{"+q+"}:failed")
		_, err := pipe.Exec(ctx)
		require.NoError(t, err)
		for _, n := range counts {
			present += n.Val()
		}
		archived += counts[3].Val()
		active += act.Val()
		pn, _ := p.Int64()
		fn, _ := f.Int64()
		processed += pn
		failed += fn
	}
	// Active tasks left are batch-1's, crashed: their lease ran out and the
	// recoverer runs every minute.
	assert.EqualValues(t, total.Enqueued+total.Scheduled, present+active+int64(total.Succeeded), "no task lost or duplicated")
	assert.EqualValues(t, total.StatProcessed, processed)
	assert.EqualValues(t, total.StatFailed, failed)
	assert.EqualValues(t, total.Died, archived)
	assert.Positive(t, total.Died)
	assert.Positive(t, total.Retried)
	n, err := c.ZCard(ctx, "asynq:servers").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "shut-down servers leave; the crashed one stays until pruned")
}
