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
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"

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
	b.Claim(b.Incr("claimed", 2, ttl), Claim{Set: "registry", Member: "a", Capacity: 5, TTL: ttl, Rule: Rule{Threshold: 1}})
	b.CountOnce(b.Incr("gated", 0, ttl), b.Dedupe("once", ttl), 1)
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
	assert.ElementsMatch(t, []string{"p:incr", "p:max", "p:mark", "p:window", "p:top", "p:distinct", "p:active",
		"p:claimed", "p:registry", "p:gated", "p:once"}, keys)
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

	// An event whose mark lived 50ms counts again once the mark is gone.
	gated := func() int64 {
		return apply(t, s, func(b *Batch) { b.CountOnce(b.Incr("gated", 0, time.Hour), b.Dedupe("once", 50*time.Millisecond), 1) }).Value(0)
	}
	require.Equal(t, int64(1), gated())
	require.Eventually(t, func() bool { return gated() > 1 }, 5*time.Second, 10*time.Millisecond)

	// A counter that lives 50ms starts again from the delta.
	require.Eventually(t, func() bool {
		return apply(t, s, func(b *Batch) { b.Incr("short", 1, 50*time.Millisecond) }).Value(0) == 1
	}, 5*time.Second, 10*time.Millisecond)
}

// newCountingStore is a store on srv whose client counts round trips.
func newCountingStore(t *testing.T, srv *redistest.Server) (*Redis, *redisclient.Counter, *redis.Client) {
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), 5*time.Second)
	require.NoError(t, err)
	counter := new(redisclient.Counter)
	client.AddHook(counter)
	s := NewRedis(client, "", 5*time.Second)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s, counter, client
}

// TestRedisOnePipelinePerApply: a batch costs one round trip whatever its
// size; an empty batch, or one of adds too old to count, costs none.
func TestRedisOnePipelinePerApply(t *testing.T) {
	s, counter, _ := newCountingStore(t, redistest.Start(t))

	b := apply(t, s, func(b *Batch) {
		for i := range 300 {
			k := strconv.Itoa(i)
			everyOp(b, time.Hour)
			b.Incr(k, 1, time.Hour)
			b.Members("top", 3)
			b.RemoveMember("active", k)
			b.Delete(k)
		}
	})
	assert.Equal(t, 300*14, b.Len())
	assert.Equal(t, int64(1), counter.RoundTrips(), "the claim script is loaded in the same pipeline")
	// 300 claims and 300 gated ops take three script calls; each got its
	// own results.
	for i := range 300 {
		claimed := Ref(14*i + 8)
		require.Equal(t, int64(2*i+2), b.Value(claimed-1))
		require.Equal(t, i == 0, b.OK(claimed), "claim %d", i)
		require.Equal(t, int64(1), b.Value(claimed), "claim %d", i)
		// One mark counts in every op of its batch that it gates.
		require.Equal(t, int64(i+1), b.Value(claimed+1), "gated %d", i)
	}
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
	claimed := b.Claim(b.WindowAdd("f", window1m, time.Time{}, 4), Claim{Set: "reg", Member: "m", Capacity: 1, TTL: day,
		Rule: Rule{MinRatio: 0.5}, Of: "w"})
	b.Claim(b.WindowAdd("w", window1m, time.Time{}, 0), Claim{Set: "reg", Member: "m", Capacity: 1, TTL: day})
	err := s.Apply(ctx, &b)
	require.ErrorContains(t, err, "5 ops failed, first: WindowAdd \"w\": bucket is not an integer: \"garbage\"")
	assert.ErrorContains(t, err, "bucket is not an integer")
	assert.NotErrorIs(t, err, ErrUnavailable)
	assert.Equal(t, int64(1), b.Value(1))
	assert.Equal(t, int64(4), b.Value(claimed-1), "a bad Of fails the claim alone")
}

// TestRedisClaimScriptReload: a Redis restarted with its data (AOF) has lost
// the claim script. The first batch after it gets NOSCRIPT for its claims,
// loads the script and sends them once more: two round trips, each claim
// applied once. Later batches take one.
func TestRedisClaimScriptReload(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--appendonly", "yes", "--appendfsync", "always"))
	s, counter, client := newCountingStore(t, srv)
	batch := func(b *Batch) {
		b.Incr("plain", 1, day)
		for _, job := range []string{"a", "b"} {
			b.Claim(b.Incr("runs:"+job, 1, day), Claim{Set: "alerts:" + job, Member: "job", Capacity: 1, TTL: day,
				Rule: Rule{Threshold: 1, Factor: 2}})
		}
	}
	apply(t, s, batch)
	assert.Equal(t, int64(1), counter.RoundTrips(), "the script is loaded with the first batch")

	srv.Restart()
	require.Eventually(t, func() bool { return client.Ping(context.Background()).Err() == nil }, 10*time.Second, 10*time.Millisecond)
	loaded, err := client.ScriptExists(context.Background(), claimScript.Hash()).Result()
	require.NoError(t, err)
	require.Equal(t, []bool{false}, loaded, "a restart forgets scripts")

	counter.Reset()
	b := apply(t, s, batch)
	assert.Equal(t, int64(2), counter.RoundTrips(), "NOSCRIPT: load, send the claims again")
	assert.Equal(t, []int64{2, 2, 1, 2, 1}, values(b), "counted once each, after the restart's data")
	assert.True(t, b.OK(2) && b.OK(4), "level 1 raised")

	counter.Reset()
	b = apply(t, s, batch)
	assert.Equal(t, int64(1), counter.RoundTrips())
	assert.Equal(t, []int64{3, 3, 2, 3, 2}, values(b), "level 2 past 2")
}

// TestClaimLevelsAgree: the script computes the level a count calls for as
// Rule.Level does, for fractional thresholds and factors too.
func TestClaimLevelsAgree(t *testing.T) {
	srv := redistest.Start(t)
	s := newRedisStore(t, srv, "")
	var b Batch
	var want []int64
	for _, threshold := range []float64{-1, 0, 1, 3, 7.5, 10} {
		for _, factor := range []float64{0.5, 1, 1.1, 1.5, 2, 3} {
			for _, count := range []int64{0, 1, 3, 4, 7, 8, 11, 12, 16, 17, 23, 1000, 1 << 40, 1 << 52} {
				rule := Rule{Threshold: threshold, Factor: factor}
				key := fmt.Sprint(threshold, factor, count)
				b.Claim(b.Incr(key, count, day), Claim{Set: key + ":reg", Member: "m", Capacity: 1, TTL: day, Rule: rule})
				want = append(want, count, rule.Level(count, 0))
			}
		}
	}
	require.NoError(t, s.Apply(context.Background(), &b))
	assert.Equal(t, want, values(&b))
	assert.Contains(t, want, int64(64), "the level cap is covered")
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
// a mark set, a new high of Max, MemberMax and Claim, a key deleted, a member
// removed.
func testExactlyOnce(t *testing.T, stores []Store) {
	const perStore, batches = 3, 40
	doubling := Rule{Threshold: 1, Factor: 2}
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
					claimed := b.Claim(b.Incr("claimed", 1, day), Claim{Set: "claimed-levels", Member: "m", Capacity: 1, TTL: day,
						Rule: doubling})
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
					if b.OK(claimed) {
						raised["Claim "+strconv.FormatInt(b.Value(claimed), 10)]++
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
	top := doubling.Level(last, 0)
	assert.Greater(t, top, int64(5))
	assert.Contains(t, raised, "Claim "+strconv.FormatInt(top, 10), "someone raised the claim to the top")
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

// A server that refuses the connection's set-up (AUTH, SELECT) answers the
// pipeline as a whole, not each command: that is an outage too, reported
// with the server's own words, never results read as zeros.
func TestUnavailableConnectionSetup(t *testing.T) {
	ctx := context.Background()
	for _, tc := range redistest.RefusedSetUps() {
		t.Run(tc.Name, func(t *testing.T) {
			srv, _ := tc.Start(t)
			cfg := redisclient.Config{Endpoint: srv.Addr(), Username: tc.Username, Password: configopaque.String(tc.Password), DB: tc.DB}
			client, err := cfg.NewClient(ctx, 5*time.Second)
			require.NoError(t, err)
			s := NewRedis(client, "setup:", 5*time.Second)
			t.Cleanup(func() { assert.NoError(t, s.Close()) })
			var b Batch
			b.Claim(b.Incr("runs", 5, day), Claim{Set: "registry", Member: "a", Capacity: 5, TTL: day, Rule: Rule{Threshold: 1}})
			err = s.Apply(ctx, &b)
			require.ErrorIs(t, err, ErrUnavailable)
			assert.ErrorContains(t, err, tc.Cause)
		})
	}
}

// TestRedisACLUser: the user docs/deployment.md tells operators to create
// for the state store (keys under its prefix; read, write and scripting
// commands) can run every op, claims included, and the script's first load.
func TestRedisACLUser(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "otelcol-state", "on", ">s3cret", "~otelcol-jobs:*",
		"+@read", "+@write", "+@scripting", "-@dangerous").Err())

	cfg := &redisclient.Config{Endpoint: srv.Addr(), Username: "otelcol-state", Password: "s3cret"}
	client, err := cfg.NewClient(ctx, 5*time.Second)
	require.NoError(t, err)
	s := NewRedis(client, "otelcol-jobs:", 5*time.Second)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })

	apply(t, s, func(b *Batch) { everyOp(b, time.Hour) })
	b := apply(t, s, func(b *Batch) {
		b.Members("active", 5)
		b.Claim(b.Incr("claimed", 2, time.Hour), Claim{Set: "registry", Member: "a", Capacity: 5, TTL: time.Hour,
			Rule: Rule{Threshold: 1, Factor: 2}})
	})
	assert.Equal(t, []Entry{{Member: "a", Score: 1}}, b.Entries(0))
	assert.Equal(t, int64(4), b.Value(1), "counted across both batches")
	assert.True(t, b.OK(2), "escalated to level 2 past 2")

	// The same user cannot touch keys outside its prefix: the pattern in
	// the docs is what confines it.
	other := NewRedis(client, "elsewhere:", 5*time.Second)
	var denied Batch
	denied.Incr("incr", 1, time.Hour)
	assert.ErrorContains(t, other.Apply(ctx, &denied), "NOPERM")
}
