// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

type fallbackFixture struct {
	store   *Fallback
	clock   *clockwork.FakeClock
	logs    *observer.ObservedLogs
	counter *redisclient.Counter
	outages *outageLog
}

// outageLog records WithOutageReport's calls.
type outageLog struct {
	mu   sync.Mutex
	errs []error
}

func (l *outageLog) report(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, err)
}

func (l *outageLog) list() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.errs...)
}

func newFallback(t *testing.T, srv *redistest.Server, timeout time.Duration) fallbackFixture {
	t.Helper()
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), timeout)
	require.NoError(t, err)
	counter := &redisclient.Counter{}
	client.AddHook(counter)
	clock := clockwork.NewFakeClockAt(start)
	core, logs := observer.New(zap.DebugLevel)
	outages := &outageLog{}
	f := WithFallback(NewRedis(client, "f:", timeout), NewMemory(100, WithClock(clock)), zap.New(core), time.Minute,
		WithClock(clock), WithOutageReport(outages.report))
	t.Cleanup(func() { assert.NoError(t, f.Close()) })
	return fallbackFixture{store: f, clock: clock, logs: logs, counter: counter, outages: outages}
}

func (fx fallbackFixture) incr(t *testing.T) int64 {
	t.Helper()
	return apply(t, fx.store, func(b *Batch) { b.Incr("k", 1, day) }).Value(0)
}

// TestFallbackOutage kills Redis under the store and brings it back: data
// keeps flowing through local memory, the outage and the recovery are logged
// once each, Redis is left alone during the back-off, then used again.
func TestFallbackOutage(t *testing.T) {
	srv := redistest.Start(t)
	fx := newFallback(t, srv, time.Second)
	admin := srv.Client(t)
	ctx := context.Background()

	assert.Equal(t, int64(1), fx.incr(t))
	assert.Equal(t, "1", admin.Get(ctx, "f:k").Val(), "the state is in Redis")
	assert.False(t, fx.store.Stats().Fallback)

	srv.Stop()
	assert.Equal(t, []int64{1, 2, 3}, []int64{fx.incr(t), fx.incr(t), fx.incr(t)}, "local memory counts on")
	assert.True(t, fx.store.Stats().Fallback)
	assert.Equal(t, int64(1), fx.store.Stats().Entries)
	warnings := fx.logs.FilterLevelExact(zap.WarnLevel).All()
	require.Len(t, warnings, 1, "one warning per outage, not per batch")
	assert.Contains(t, warnings[0].Message, "Shared state store unavailable")
	assert.Contains(t, warnings[0].ContextMap()["error"], "connection refused")
	outages := fx.outages.list()
	require.Len(t, outages, 1, "the outage is reported once")
	assert.ErrorIs(t, outages[0], ErrUnavailable)

	fx.counter.Reset()
	fx.clock.Advance(59 * time.Second)
	assert.Equal(t, int64(4), fx.incr(t))
	assert.Zero(t, fx.counter.RoundTrips(), "Redis is not tried during the back-off")

	srv.Restart()
	// Past the back-off one batch probes Redis; the restarted server is empty.
	require.Eventually(t, func() bool {
		fx.clock.Advance(time.Minute)
		return fx.incr(t) == 1 && !fx.store.Stats().Fallback
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, "1", admin.Get(ctx, "f:k").Val(), "the state is in Redis again")
	assert.Equal(t, int64(2), fx.incr(t))

	infos := fx.logs.FilterLevelExact(zap.InfoLevel).All()
	require.Len(t, infos, 1)
	assert.Contains(t, infos[0].Message, "available again")
	assert.Len(t, fx.logs.FilterLevelExact(zap.WarnLevel).All(), 1, "still one warning")
	outages = fx.outages.list()
	require.Len(t, outages, 2, "then its end, once")
	assert.NoError(t, outages[1])
}

// TestFallbackSlowRedis: a Redis that does not answer within the timeout is
// an outage too; the batch is served from memory.
func TestFallbackSlowRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--enable-debug-command", "yes"))
	fx := newFallback(t, srv, 100*time.Millisecond)
	assert.Equal(t, int64(1), fx.incr(t))

	stall(t, srv)
	require.Eventually(t, func() bool {
		return fx.incr(t) == 1 && fx.store.Stats().Fallback
	}, 5*time.Second, 10*time.Millisecond)
	warnings := fx.logs.FilterLevelExact(zap.WarnLevel).All()
	require.Len(t, warnings, 1)
	assert.Contains(t, warnings[0].ContextMap()["error"], "i/o timeout")
}

// TestFallbackPassesOpErrors: an op Redis refuses is the caller's error, not
// an outage; an invalid batch is refused before anything runs; a cancelled
// context is the caller's.
func TestFallbackPassesOpErrors(t *testing.T) {
	srv := redistest.Start(t)
	fx := newFallback(t, srv, time.Second)
	require.NoError(t, srv.Client(t).LPush(context.Background(), "f:list", "x").Err())

	var b Batch
	b.Incr("list", 1, day)
	b.Incr("k", 1, day)
	require.ErrorContains(t, fx.store.Apply(context.Background(), &b), "WRONGTYPE")
	assert.Equal(t, int64(1), b.Value(1))
	assert.False(t, fx.store.Stats().Fallback)

	fx.counter.Reset()
	b.Reset()
	b.Incr("k", 1, 0)
	require.ErrorContains(t, fx.store.Apply(context.Background(), &b), "ttl must be")
	assert.Zero(t, fx.counter.RoundTrips())

	// A caller that gives up (a shutting-down pipeline) is not an outage.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Reset()
	b.Incr("k", 1, day)
	require.ErrorIs(t, fx.store.Apply(ctx, &b), context.Canceled)
	assert.False(t, fx.store.Stats().Fallback)
	assert.Zero(t, fx.logs.Len())
}
