// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// everyOp adds one op of each kind that writes, on keys named after the op.
func everyOp(b *Batch, ttl time.Duration) {
	b.Incr("incr", 1, ttl)
	b.Max("max", 1, ttl)
	b.MarkOnce("mark", ttl)
	b.WindowAdd("window", Window{Length: ttl, Buckets: 4}, time.Time{}, 1)
	b.TopAdd("top", "a", 1, 5, ttl)
	b.DistinctAdd("distinct", "a", time.Time{}, ttl, 5)
	b.MemberMax("active", "a", 1, 5, ttl)
}

// TestRedisEveryKeyExpires: no op leaves a key without a TTL in a shared
// Redis, and the TTL is at most the op's.
func TestRedisEveryKeyExpires(t *testing.T) {
	srv := redistest.Start(t)
	s := newRedisStore(t, srv, "p:")
	apply(t, s, func(b *Batch) { everyOp(b, time.Hour) })

	admin := srv.Client(t)
	ctx := context.Background()
	keys, err := admin.Keys(ctx, "*").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"p:incr", "p:max", "p:mark", "p:window", "p:top", "p:distinct", "p:active"}, keys)
	for _, k := range keys {
		ttl, err := admin.PTTL(ctx, k).Result()
		require.NoError(t, err)
		assert.Positive(t, ttl, k)
		// A window key lives one bucket longer than its window.
		assert.LessOrEqual(t, ttl, time.Hour+15*time.Minute, k)
	}
}

// TestRedisTTL checks expiry on a real server with real time: TTLs in
// milliseconds, waited for with Eventually (no timing is asserted).
func TestRedisTTL(t *testing.T) {
	srv := redistest.Start(t)
	s := newRedisStore(t, srv, "")
	admin := srv.Client(t)
	ctx := context.Background()
	expireAt := func(key string) time.Time {
		at, err := admin.PExpireTime(ctx, key).Result()
		require.NoError(t, err)
		return time.UnixMilli(int64(at / time.Millisecond))
	}

	b := apply(t, s, func(b *Batch) { b.Incr("incr", 1, time.Hour); b.Max("max", 1, time.Hour) })
	incrAt, maxAt := expireAt("incr"), expireAt("max")
	// Incr keeps the expiry set at creation; Max moves it on with every call.
	require.Eventually(t, func() bool {
		b = apply(t, s, func(b *Batch) { b.Incr("incr", 1, time.Hour); b.Max("max", 1, time.Hour) })
		return expireAt("max").After(maxAt)
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, incrAt, expireAt("incr"))
	assert.Greater(t, b.Value(0), int64(1))

	// A mark that lives 50ms can be set again once it is gone.
	b = apply(t, s, func(b *Batch) { b.MarkOnce("mark", 50*time.Millisecond) })
	require.True(t, b.OK(0))
	require.Eventually(t, func() bool {
		return apply(t, s, func(b *Batch) { b.MarkOnce("mark", 50*time.Millisecond) }).OK(0)
	}, 5*time.Second, 10*time.Millisecond)

	// A counter that lives 50ms starts again from the delta.
	require.Eventually(t, func() bool {
		return apply(t, s, func(b *Batch) { b.Incr("short", 1, 50*time.Millisecond) }).Value(0) == 1
	}, 5*time.Second, 10*time.Millisecond)
}

// TestRedisOnePipelinePerApply: a batch costs one round trip whatever its
// size; an empty batch, or one of adds too old to count, costs none.
func TestRedisOnePipelinePerApply(t *testing.T) {
	srv := redistest.Start(t)
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), 5*time.Second)
	require.NoError(t, err)
	var counter redisclient.Counter
	client.AddHook(&counter)
	s := NewRedis(client, "", 5*time.Second)
	defer s.Close()

	b := apply(t, s, func(b *Batch) {
		for i := range 150 {
			k := strconv.Itoa(i)
			everyOp(b, time.Hour)
			b.Incr(k, 1, time.Hour)
			b.Members("top", 3)
			b.RemoveMember("active", k)
			b.Delete(k)
		}
	})
	assert.Equal(t, 150*11, b.Len())
	assert.Equal(t, int64(1), counter.RoundTrips())
	assert.Greater(t, counter.Commands(), int64(b.Len()))

	counter.Reset()
	apply(t, s, func(*Batch) {})
	apply(t, s, func(b *Batch) { b.WindowAdd("w", window1m, time.Now().Add(-time.Hour), 1) })
	assert.Zero(t, counter.RoundTrips())
}

// TestRedisBadData: a key of another type, or a bucket that is not a number,
// fails its op with a clear error; the other ops still get their results.
func TestRedisBadData(t *testing.T) {
	srv := redistest.Start(t)
	clock := clockwork.NewFakeClockAt(start)
	s := newRedisStore(t, srv, "", WithClock(clock))
	admin := srv.Client(t)
	ctx := context.Background()
	bucket := strconv.FormatInt(start.UnixMilli()/window1m.width(), 10)
	require.NoError(t, admin.HSet(ctx, "w", bucket, "garbage").Err())
	require.NoError(t, admin.LPush(ctx, "list", "x").Err())

	var b Batch
	b.WindowAdd("w", window1m, time.Time{}, 0)
	b.Incr("ok", 1, day)
	b.Max("list", 1, day)
	err := s.Apply(ctx, &b)
	require.ErrorContains(t, err, "2 ops failed, first: WindowAdd \"w\": bucket is not an integer: \"garbage\"")
	assert.NotErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, int64(1), b.Value(1))
}

// TestRedisExactlyOnceAcrossReplicas: three stores on one Redis (three
// collector replicas) race on the same keys; every exactly-once answer goes
// to exactly one of them.
func TestRedisExactlyOnceAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	replicas := []Store{newRedisStore(t, srv, "x:"), newRedisStore(t, srv, "x:"), newRedisStore(t, srv, "x:")}
	testExactlyOnce(t, replicas)
}

// testExactlyOnce runs 3 goroutines per store, each applying the same 40
// batches; it checks counts add up and each one-time answer was given once:
// a mark set, a new high of Max and MemberMax, a key deleted, a member removed.
func testExactlyOnce(t *testing.T, stores []Store) {
	const perStore, batches = 3, 40
	apply(t, stores[0], func(b *Batch) {
		for i := range batches {
			b.MarkOnce("del"+strconv.Itoa(i), day)
			b.MemberMax("claims", "c"+strconv.Itoa(i), 1, batches, day)
		}
	})
	var (
		mu     sync.Mutex
		once   = map[string]int{}
		raised = map[string]int{}
		last   int64
	)
	var wg sync.WaitGroup
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				var b Batch
				for i := range batches {
					n := strconv.Itoa(i)
					b.Reset()
					count := b.Incr("count", 1, day)
					mark := b.MarkOnce("mark"+strconv.Itoa(i%10), day)
					level := b.Max("level", int64(i), day)
					member := b.MemberMax("active", "cluster", int64(i), 10, day)
					del := b.Delete("del" + n)
					claim := b.RemoveMember("claims", "c"+n)
					if !assert.NoError(t, s.Apply(context.Background(), &b)) {
						return
					}
					mu.Lock()
					for name, r := range map[string]Ref{"mark" + strconv.Itoa(i%10): mark, "del" + n: del, "claim" + n: claim} {
						if b.OK(r) {
							once[name]++
						}
					}
					if b.OK(level) {
						raised["Max "+strconv.FormatInt(b.Value(level), 10)]++
					}
					if b.OK(member) {
						raised["MemberMax "+strconv.FormatInt(b.Value(member), 10)]++
					}
					last = max(last, b.Value(count))
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	assert.Equal(t, int64(len(stores)*perStore*batches), last, "every Incr counted")
	assert.Len(t, once, 10+2*batches, "every mark set, every key deleted, every member removed")
	for name, n := range once {
		assert.Equal(t, 1, n, name)
	}
	for name, n := range raised {
		assert.Equal(t, 1, n, name)
	}
	assert.Contains(t, raised, "Max "+strconv.Itoa(batches-1), "someone raised Max to the top")
	assert.Contains(t, raised, "MemberMax "+strconv.Itoa(batches-1), "someone raised MemberMax to the top")
}

func TestConcurrentApply(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t, clockwork.NewRealClock())
			testExactlyOnce(t, []Store{s})
		})
	}
}

func TestRedisTimeout(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--enable-debug-command", "yes"))
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), time.Minute)
	require.NoError(t, err)
	s := NewRedis(client, "", 100*time.Millisecond)
	defer s.Close()
	apply(t, s, func(b *Batch) { b.Incr("k", 1, day) }) // connected

	stall(t, srv)
	// The server is blocked for a second; the store's own timeout ends the
	// wait although the client would wait a minute.
	require.Eventually(t, func() bool {
		var b Batch
		b.Incr("k", 1, day)
		err := s.Apply(context.Background(), &b)
		return err != nil && assert.ErrorIs(t, err, ErrUnavailable) && assert.ErrorContains(t, err, "i/o timeout")
	}, 5*time.Second, 10*time.Millisecond)
}

// stall blocks srv for a second with DEBUG SLEEP, like a hung Redis. The
// test waits for the sleep to end before it stops the server.
func stall(t *testing.T, srv *redistest.Server) {
	admin := srv.Client(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = admin.Do(context.Background(), "DEBUG", "SLEEP", "1").Err()
	}()
	t.Cleanup(func() { <-done })
}

func TestUnavailable(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--requirepass", "secret"))
	s := newRedisStore(t, srv, "") // no password
	var b Batch
	b.Incr("k", 1, day)
	err := s.Apply(context.Background(), &b)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorContains(t, err, "NOAUTH")

	srv.Stop()
	err = s.Apply(context.Background(), &b)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.ErrorContains(t, err, "connection refused")
	assert.Equal(t, fmt.Sprint(Stats{}), fmt.Sprint(s.Stats()))
}
