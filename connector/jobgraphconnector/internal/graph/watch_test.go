// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package graph

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/scc"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

func cycleName(c scc.Cycle) string { return strings.Join(c.Classes, ",") }

func redisStore(t *testing.T, srv *redistest.Server, clock clockwork.Clock) statestore.Store {
	t.Helper()
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), 5*time.Second)
	require.NoError(t, err)
	s := statestore.NewRedis(client, t.Name()+":", 5*time.Second, statestore.WithClock(clock))
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

type decided struct {
	id       string
	resolved bool
}

func sync(t *testing.T, w *Watch, now time.Time, edges ...Edge) []decided {
	t.Helper()
	delta := map[Edge]int64{}
	for _, e := range edges {
		delta[e]++
	}
	ds, err := w.Sync(context.Background(), now, delta)
	require.NoError(t, err)
	var out []decided
	for _, d := range ds {
		out = append(out, decided{d.ID, d.Resolved})
	}
	return out
}

// One watcher on a memory store: a cycle fires at the Sync after the one
// that found it (its claim rides with the next batch), once, and resolves
// once after an edge of it expired.
func TestWatchMemory(t *testing.T) {
	clock := clockwork.NewFakeClockAt(t0)
	w := NewWatch(statestore.NewMemory(1000, statestore.WithClock(clock)), time.Hour, 100, cycleName)
	ab := Edge{System: "sidekiq", Parent: "A", Child: "B", Queue: "q"}
	ba := Edge{System: "sidekiq", Parent: "B", Child: "A", Queue: "q"}
	assert.Empty(t, sync(t, w, clock.Now(), ab, ab))
	assert.Empty(t, sync(t, w, clock.Now(), ba))
	assert.Len(t, w.claims, 1, "the claim waits for the next Sync")
	ds, err := w.Sync(context.Background(), clock.Now(), nil)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	assert.Equal(t, Decision{Cycle: scc.Cycle{Classes: []string{"A", "B"}, Path: []string{"A", "B", "A"}},
		ID: "A,B", Enqueues: []int64{2, 1}, System: "sidekiq"}, ds[0])
	// Seen again: still firing, nothing new.
	clock.Advance(30 * time.Minute)
	assert.Empty(t, sync(t, w, clock.Now(), ab))
	assert.Empty(t, sync(t, w, clock.Now()))
	// B -> A was last seen 30m before ab: it expires first.
	clock.Advance(31 * time.Minute)
	assert.Empty(t, sync(t, w, clock.Now()), "the expiry is seen; the resolution is claimed next")
	assert.Equal(t, []decided{{"A,B", true}}, sync(t, w, clock.Now()))
	assert.Empty(t, sync(t, w, clock.Now().Add(refreshEvery)))
}

// Two replicas on one Redis, each seeing half of a cycle: it is found and
// fired once, and resolved once.
func TestWatchReplicasShareTheEdgeSet(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(t0)
	store1, store2 := redisStore(t, srv, clock), redisStore(t, srv, clock)
	// The stores share the server and, by the test's name, the prefix.
	w1 := NewWatch(store1, time.Hour, 100, cycleName)
	w2 := NewWatch(store2, time.Hour, 100, cycleName)
	path := []string{"a", "b", "c", "d", "e"} // a cycle of 5
	var all []decided
	for i := range path {
		e := Edge{System: "river", Parent: path[i], Child: path[(i+1)%len(path)]}
		w := w1
		if i%2 == 1 {
			w = w2
		}
		all = append(all, sync(t, w, clock.Now(), e)...)
	}
	for range 2 {
		all = append(all, sync(t, w1, clock.Now())...)
		all = append(all, sync(t, w2, clock.Now())...)
	}
	assert.Equal(t, []decided{{"a,b,c,d,e", false}}, all, "fired once between the two")

	// w2 keeps seeing its edges; w1's (a->b, c->d, e->a) expire.
	clock.Advance(40 * time.Minute)
	assert.Empty(t, sync(t, w2, clock.Now(), Edge{System: "river", Parent: "b", Child: "c"}, Edge{System: "river", Parent: "d", Child: "e"}))
	clock.Advance(21 * time.Minute)
	all = nil
	for range 3 {
		clock.Advance(refreshEvery)
		all = append(all, sync(t, w1, clock.Now())...)
		all = append(all, sync(t, w2, clock.Now())...)
	}
	assert.Equal(t, []decided{{"a,b,c,d,e", true}}, all, "resolved once between the two")
}
