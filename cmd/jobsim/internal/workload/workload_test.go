// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start is a fixed simulated start, so miniredis runs are reproducible.
var start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// sidekiqJob is the part of Sidekiq's job JSON the tests read, decoded
// independently of the simulator's own types.
type sidekiqJob struct {
	Class      string   `json:"class"`
	Queue      string   `json:"queue"`
	JID        string   `json:"jid"`
	EnqueuedAt *float64 `json:"enqueued_at"`
	ErrorClass string   `json:"error_class"`
	RetryCount *int     `json:"retry_count"`
}

func decode(t *testing.T, payload string) sidekiqJob {
	t.Helper()
	var j sidekiqJob
	require.NoError(t, json.Unmarshal([]byte(payload), &j), payload)
	return j
}

func seconds(f float64) time.Time { return time.UnixMicro(int64(f * 1e6)) }

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	cfg := redisclient.Config{Endpoint: addr}
	c, err := cfg.NewClient(context.Background(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newMiniredis starts a miniredis whose TTLs follow the clock set with SetTime.
func newMiniredis(t *testing.T) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.NewMiniRedis()
	require.NoError(t, m.Start())
	t.Cleanup(m.Close)
	m.SetTime(start)
	m.ClockTTL(true)
	return m, newClient(t, m.Addr())
}

// play runs steps one second apart from start, calling observe after each.
func play(t *testing.T, sim workload.Simulation, m *miniredis.Miniredis, steps int, observe func(now time.Time)) workload.Report {
	t.Helper()
	var total workload.Report
	for i := range steps {
		now := start.Add(time.Duration(i) * time.Second)
		if m != nil {
			m.SetTime(now)
		}
		r, err := sim.Step(context.Background(), now)
		require.NoError(t, err, "step %d", i)
		total.Add(r)
		if observe != nil {
			observe(now)
		}
	}
	return total
}

func TestScenarioValidate(t *testing.T) {
	demo := workload.Demo()
	require.NoError(t, demo.Validate())

	tests := []struct {
		name   string
		change func(*workload.Scenario)
		want   string
	}{
		{"no heartbeat", func(s *workload.Scenario) { s.Heartbeat = 0 }, "heartbeat and poll interval"},
		{"duplicate class", func(s *workload.Scenario) { s.Classes = append(s.Classes, s.Classes[0]) }, "defined twice"},
		{"failing without errors", func(s *workload.Scenario) { s.Classes[0].Errors = nil }, "no errors to raise"},
		{"bad run time", func(s *workload.Scenario) { s.Classes[0].MaxRun = 0 }, "min run <= max run"},
		{"process without queues", func(s *workload.Scenario) { s.Processes[0].Queues = nil }, "needs a hostname"},
		{"unknown long job", func(s *workload.Scenario) { s.Processes[1].LongJob = &workload.LongJob{Class: "Nope"} }, `long job class "Nope"`},
		{"unknown backlog", func(s *workload.Scenario) { s.Backlogs[0].Class = "Nope" }, `backlog of "Nope"`},
		{"negative cleanup", func(s *workload.Scenario) { s.CleanupInterval = -time.Second }, "cleanup interval not negative"},
		{"long job of a later process", func(s *workload.Scenario) { s.Processes[1].StartAfter = time.Minute }, "cannot have a job already running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc := workload.Demo()
			tt.change(&sc)
			_, err := workload.NewSidekiq(nil, sc, 1)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// dump is every key of m with its type, TTL and content, in a stable order.
func dump(m *miniredis.Miniredis) string {
	var b strings.Builder
	for _, k := range m.Keys() {
		fmt.Fprintf(&b, "%s %s ttl=%s: ", m.Type(k), k, m.TTL(k))
		switch m.Type(k) {
		case "string":
			v, _ := m.Get(k)
			b.WriteString(v)
		case "list":
			v, _ := m.List(k)
			fmt.Fprint(&b, v)
		case "set":
			v, _ := m.Members(k)
			fmt.Fprint(&b, v)
		case "zset":
			v, _ := m.SortedSet(k)
			members := make([]string, 0, len(v))
			for member, score := range v {
				members = append(members, fmt.Sprintf("%f %s", score, member))
			}
			sort.Strings(members)
			fmt.Fprint(&b, members)
		case "hash":
			fields, _ := m.HKeys(k)
			for _, f := range fields {
				fmt.Fprintf(&b, "%s=%s ", f, m.HGet(k, f))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSameSeedSameState(t *testing.T) {
	run := func(seed uint64) string {
		m, c := newMiniredis(t)
		sim, err := workload.NewSidekiq(c, workload.Demo(), seed)
		require.NoError(t, err)
		play(t, sim, m, 90, nil)
		return dump(m)
	}
	first := run(7)
	require.True(t, strings.Contains(first, "stat:processed"), "the run wrote Sidekiq state")
	assert.True(t, first == run(7), "same seed and times must write the same state")
	assert.False(t, first == run(8), "another seed must play another workload")
}

// TestDemoIncidents plays the demo scenario for 260 simulated seconds and
// checks each incident it promises, and its end, reading Redis as a scraper
// would.
func TestDemoIncidents(t *testing.T) {
	sc := workload.Demo()
	m, c := newMiniredis(t)
	sim, err := workload.NewSidekiq(c, sc, 1)
	require.NoError(t, err)
	ctx := context.Background()

	hostOf := map[string]string{} // identity -> hostname
	identity := func(host string) string {
		for id, h := range hostOf {
			if h == host {
				return id
			}
		}
		return ""
	}
	var (
		reportsLatency = map[time.Duration]time.Duration{} // elapsed -> latency
		reportsSize    = map[time.Duration]int64{}
		sizes          = map[string][]int64{} // queue -> size per step
		quiet          = map[time.Duration]string{}
		crashedBeat    = map[time.Duration]string{}
		crashedExists  = map[time.Duration]int64{}
		registered     = map[time.Duration]bool{} // batch-1 in the processes set
		longJobRuns    = map[time.Duration]time.Duration{}
	)
	const steps = 260
	total := play(t, sim, m, steps, func(now time.Time) {
		elapsed := now.Sub(start)
		ids, err := c.SMembers(ctx, "processes").Result()
		require.NoError(t, err)
		for _, id := range ids {
			if _, ok := hostOf[id]; ok {
				continue
			}
			var info struct{ Hostname string }
			require.NoError(t, json.Unmarshal([]byte(c.HGet(ctx, id, "info").Val()), &info))
			hostOf[id] = info.Hostname
		}
		switch oldest, err := c.LIndex(ctx, "queue:reports", -1).Result(); {
		case errors.Is(err, redis.Nil):
			reportsLatency[elapsed] = 0 // drained
		default:
			require.NoError(t, err)
			j := decode(t, oldest)
			require.NotNil(t, j.EnqueuedAt)
			reportsLatency[elapsed] = now.Sub(seconds(*j.EnqueuedAt))
		}
		reportsSize[elapsed] = c.LLen(ctx, "queue:reports").Val()
		for _, q := range []string{"default", "mailers"} {
			sizes[q] = append(sizes[q], c.LLen(ctx, "queue:"+q).Val())
		}
		quiet[elapsed] = c.HGet(ctx, identity("reports-1"), "quiet").Val()
		crashedBeat[elapsed] = c.HGet(ctx, identity("batch-1"), "beat").Val()
		crashedExists[elapsed] = c.Exists(ctx, identity("batch-1")).Val()
		registered[elapsed] = c.SIsMember(ctx, "processes", identity("batch-1")).Val()
		for _, v := range c.HGetAll(ctx, identity("web-2")+":workers").Val() {
			var w struct {
				Payload string
				RunAt   int64 `json:"run_at"`
			}
			require.NoError(t, json.Unmarshal([]byte(v), &w))
			if decode(t, w.Payload).Class == sc.Processes[1].LongJob.Class {
				longJobRuns[elapsed] = now.Sub(time.Unix(w.RunAt, 0))
			}
		}
	})
	require.Len(t, hostOf, len(sc.Processes), "every process registers")

	t.Run("queues fill and drain", func(t *testing.T) {
		const filled = 10
		for q, s := range sizes {
			var peak int64
			drained := false
			for _, n := range s {
				peak = max(peak, n)
				drained = drained || (peak >= filled && n <= peak/2)
			}
			assert.True(t, drained, "queue %s never filled to %d and drained to half after: %v", q, filled, s)
		}
	})

	t.Run("reports falls behind, then catches up", func(t *testing.T) {
		quietAt := sc.Processes[2].QuietAfter
		require.Equal(t, "reports-1", sc.Processes[2].Hostname)
		scaleOut := sc.Processes[4].StartAfter
		require.Equal(t, "reports-2", sc.Processes[4].Hostname)
		assert.Less(t, reportsLatency[0], 5*time.Minute, "starts under the 5 minute mark")
		for e := quietAt + time.Second; e < scaleOut; e += time.Second {
			require.Greater(t, reportsLatency[e], reportsLatency[e-time.Second], "latency grows once nobody works the queue (%s)", e)
			require.GreaterOrEqual(t, reportsSize[e], reportsSize[e-time.Second], "a quiet process fetches nothing (%s)", e)
		}
		assert.Greater(t, reportsLatency[scaleOut-time.Second], 5*time.Minute+time.Minute, "well past 5 minutes when reports-2 starts")
		last := time.Duration(steps-1) * time.Second
		assert.Less(t, reportsLatency[last], 4*time.Minute+30*time.Second, "under the alert's resolve level (90%% of 5 minutes) at the end")
	})

	t.Run("process goes quiet", func(t *testing.T) {
		quietAt := sc.Processes[2].QuietAfter
		assert.Equal(t, "false", quiet[0])
		assert.Equal(t, "false", quiet[quietAt-sc.Heartbeat])
		assert.Equal(t, "true", quiet[quietAt+sc.Heartbeat])
	})

	t.Run("process crashes", func(t *testing.T) {
		crashAt := sc.Processes[3].CrashAfter
		require.Equal(t, "batch-1", sc.Processes[3].Hostname)
		lastBeat := crashedBeat[crashAt]
		require.NotEmpty(t, lastBeat)
		assert.NotEqual(t, crashedBeat[0], lastBeat, "beats before the crash")
		assert.Equal(t, lastBeat, crashedBeat[crashAt+50*time.Second], "no beat after the crash")
		assert.EqualValues(t, 1, crashedExists[crashAt+50*time.Second])
		assert.EqualValues(t, 0, crashedExists[crashAt+sc.Heartbeat+61*time.Second], "entry expires 60 s after the last beat")
		assert.True(t, registered[sc.CleanupInterval-time.Second], "the registry keeps the dead name")
		assert.False(t, registered[sc.CleanupInterval], "until the poller cleans the registry up")
		assert.True(t, c.SIsMember(ctx, "processes", identity("web-1")).Val(), "live processes stay")
	})

	t.Run("long job stalls, then finishes", func(t *testing.T) {
		finish := sc.Processes[1].LongJob.FinishAfter
		assert.Greater(t, longJobRuns[20*time.Second], 5*time.Minute, "stalled after about 15 s")
		assert.Greater(t, longJobRuns[finish-time.Second], 5*time.Minute)
		_, running := longJobRuns[time.Duration(steps-1)*time.Second]
		assert.False(t, running, "web-2's long job is done at the end")
	})

	t.Run("failures retry and die", func(t *testing.T) {
		assert.Positive(t, total.Retried)
		assert.Positive(t, total.Died)
		assert.EqualValues(t, total.Died, c.ZCard(ctx, "dead").Val())
		for _, d := range c.ZRange(ctx, "dead", 0, -1).Val() {
			j := decode(t, d)
			assert.Equal(t, "WebhookDeliveryJob", j.Class, "only retry: 2 jobs die within minutes")
			require.NotNil(t, j.RetryCount)
			assert.Equal(t, 2, *j.RetryCount)
			assert.NotEmpty(t, j.ErrorClass)
		}
	})
}

func TestStopRequeuesAndDeregisters(t *testing.T) {
	m, c := newMiniredis(t)
	sc := workload.Demo()
	sim, err := workload.NewSidekiq(c, sc, 3)
	require.NoError(t, err)
	total := play(t, sim, m, 30, nil)
	ctx := context.Background()

	r, err := sim.Stop(ctx, start.Add(30*time.Second))
	require.NoError(t, err)
	total.Add(r)
	assert.Positive(t, r.Requeued, "running jobs go back to their queues")

	var waiting int64
	for _, q := range c.SMembers(ctx, "queues").Val() {
		waiting += c.LLen(ctx, "queue:"+q).Val()
	}
	assert.EqualValues(t, total.Enqueued+total.Requeued-total.Fetched, waiting, "no job lost or duplicated")
	assert.Equal(t, fmt.Sprint(total.StatProcessed), c.Get(ctx, "stat:processed").Val())
	assert.EqualValues(t, total.Succeeded+total.Failed, total.StatProcessed, "stop flushes every count")
	assert.Empty(t, c.SMembers(ctx, "processes").Val(), "stopped processes leave the registry")
}
