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
