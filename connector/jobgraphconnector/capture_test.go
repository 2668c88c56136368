// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/graph"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// captures are the real traces of jobs that enqueue jobs
// (testdata/otlp/*-enqueue/INDEX.md says how they were made), with the
// edges and the cycle their workloads make.
var captures = []struct {
	dir   string
	edges map[string]int64
	cycle string
}{
	{
		dir: "bullmq-otel-enqueue",
		edges: map[string]int64{
			"bullmq import-csv -> import-row @rows":             3,
			"bullmq deliver-webhook -> retry-webhook @retries":  2,
			"bullmq retry-webhook -> deliver-webhook @webhooks": 2,
		},
		cycle: "deliver-webhook -> retry-webhook -> deliver-webhook",
	},
	{
		dir: "river-otelriver-enqueue",
		edges: map[string]int64{
			"river import_csv -> import_row @rows":             3,
			"river import_csv -> notify_done @default":         1,
			"river deliver_webhook -> retry_webhook @retries":  2,
			"river retry_webhook -> deliver_webhook @webhooks": 2,
		},
		cycle: "deliver_webhook -> retry_webhook -> deliver_webhook",
	},
}

func TestCaptures(t *testing.T) {
	for _, c := range captures {
		t.Run(c.dir, func(t *testing.T) {
			p := newPair(t, testConfig())
			for _, td := range capture(t, c.dir) {
				p.consume(t, td)
			}
			assert.Equal(t, c.edges, p.edges(t))
			p.tick()
			got := p.alerts()
			require.Len(t, got, 1)
			assert.Equal(t, "firing", got[0].state)
			assert.Equal(t, c.cycle, got[0].cycle)
		})
	}
}

// Two collector replicas share the edge set in a real Redis. The edges of
// a cycle of 5 reach them in separate traces, as a load-balancing exporter
// routing by trace id spreads them: no replica sees the whole cycle, it is
// fired once, and resolved once when an edge expires.
func TestReplicasShareTheEdgeSet(t *testing.T) {
	srv := redistest.Start(t)
	cfg := testConfig()
	cfg.State.Backend = statestore.BackendRedis
	cfg.State.Redis.Endpoint = srv.Addr()
	cfg.State.Redis.KeyPrefix = t.Name() + ":"
	replicas := [2]*pair{newPair(t, cfg), newPair(t, cfg)}
	classes := []string{"A", "B", "C", "D", "E"}
	edge := func(i int) ptrace.Traces { return traces(t, sidekiqEdge(byte(i+1), classes[i], classes[(i+1)%5])...) }
	ticks := func() []alertRec {
		var all []alertRec
		for range 2 {
			for _, p := range replicas {
				p.logs.tick(context.Background())
			}
		}
		for _, p := range replicas {
			all = append(all, p.alerts()...)
		}
		return all
	}
	for i := range classes {
		require.NoError(t, replicas[i%2].logs.ConsumeTraces(context.Background(), edge(i)))
	}
	assert.Equal(t, []alertRec{{"firing", "A -> B -> C -> D -> E -> A", "A -> B: 1, B -> C: 1, C -> D: 1, D -> E: 1, E -> A: 1"}}, ticks(),
		"fired once between the replicas")

	// Replica 1 keeps seeing B -> C and D -> E; the others expire.
	for _, p := range replicas {
		p.clock.Advance(12 * time.Hour)
	}
	require.NoError(t, replicas[1].logs.ConsumeTraces(context.Background(), edge(1)))
	require.NoError(t, replicas[1].logs.ConsumeTraces(context.Background(), edge(3)))
	for _, p := range replicas {
		p.clock.Advance(12*time.Hour + time.Second)
	}
	got := ticks()
	require.Len(t, got, 2)
	assert.Equal(t, alertRec{"resolved", "A -> B -> C -> D -> E -> A", "A -> B: 1, B -> C: 1, C -> D: 1, D -> E: 1, E -> A: 1"}, got[1],
		"resolved once between the replicas")
}

// useCountedRedis puts c's watch on a Redis store whose client counts its
// round trips.
func useCountedRedis(t testing.TB, c *jobGraph, srv *redistest.Server, prefix string) *redisclient.Counter {
	t.Helper()
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), 5*time.Second)
	require.NoError(t, err)
	counter := new(redisclient.Counter)
	client.AddHook(counter)
	require.NoError(t, c.store.Close())
	c.store = statestore.NewRedis(client, prefix, 5*time.Second, statestore.WithClock(c.clock))
	c.watch = graph.NewWatch(c.store, c.cfg.EdgeTTL, c.cfg.MaxEdges, cycleID)
	return counter
}

// Every batch costs one Redis round trip, also those that carry a cycle's
// decision; a tick with nothing to send costs none.
func TestOneRoundTripPerBatch(t *testing.T) {
	srv := redistest.Start(t)
	p := newPair(t, testConfig())
	counter := useCountedRedis(t, p.logs, srv, t.Name()+":")
	classes := []string{"A", "B", "C"}
	for i := range 6 {
		before := counter.RoundTrips()
		p.clock.Advance(time.Second)
		require.NoError(t, p.logs.ConsumeTraces(context.Background(), traces(t, sidekiqEdge(byte(i+1), classes[i%3], classes[(i+1)%3])...)))
		assert.Equal(t, int64(1), counter.RoundTrips()-before, "batch %d", i)
	}
	assert.Equal(t, []alertRec{{"firing", "A -> B -> C -> A", "A -> B: 2, B -> C: 1, C -> A: 1"}}, p.alerts(),
		"found by the third batch, fired with the fourth (which saw A -> B again)")
	before := counter.RoundTrips()
	p.logs.tick(context.Background())
	assert.Equal(t, before, counter.RoundTrips(), "nothing to send")
}
