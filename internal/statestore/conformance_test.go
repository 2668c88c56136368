// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// start is a bucket boundary for every window used below.
var start = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// backend opens a fresh, empty store of one kind on the given clock.
type backend struct {
	name string
	open func(t *testing.T, clock clockwork.Clock) Store
}

// backends are the memory store (also with colliding key hashes, to run its
// hash chains) and a Redis store on a private redis-server.
func backends(t *testing.T) []backend {
	t.Helper()
	srv := redistest.Start(t)
	return []backend{
		{"memory", func(_ *testing.T, clock clockwork.Clock) Store {
			return NewMemory(1000, WithClock(clock))
		}},
		{"memory with every key in one hash chain", func(_ *testing.T, clock clockwork.Clock) Store {
			m := NewMemory(1000, WithClock(clock))
			m.hash = func(string) uint64 { return 42 }
			return m
		}},
		{"redis", func(t *testing.T, clock clockwork.Clock) Store {
			// Each store gets its own prefix, so cases share the server only.
			return newRedisStore(t, srv, t.Name()+":", WithClock(clock))
		}},
	}
}

func newRedisStore(t *testing.T, srv *redistest.Server, prefix string, opts ...Option) *Redis {
	t.Helper()
	client, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(context.Background(), 5*time.Second)
	require.NoError(t, err)
	s := NewRedis(client, prefix, 5*time.Second, opts...)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// result is what one op should give back.
type result struct {
	value   int64
	ok      bool
	entries []Entry
}

// step applies one batch after moving the clock, and checks every op's result.
type step struct {
	advance time.Duration
	ops     func(b *Batch)
	want    []result
	wantErr string
}

var (
	sec      = time.Second
	window1m = Window{Length: time.Minute, Buckets: 6} // 10s buckets
	day      = 24 * time.Hour
)

func ms(t time.Time) int64 { return t.UnixMilli() }

var conformance = []struct {
	name  string
	steps []step
}{
	{"Incr counts and can go down", []step{
		{ops: func(b *Batch) { b.Incr("c", 1, day); b.Incr("c", 2, day); b.Incr("other", 1, day) },
			want: []result{{value: 1}, {value: 3}, {value: 1}}},
		{ops: func(b *Batch) { b.Incr("c", -5, day) }, want: []result{{value: -2}}},
	}},
	{"Max keeps the highest and says who raised it", []step{
		{ops: func(b *Batch) { b.Max("m", 3, day); b.Max("m", 2, day); b.Max("m", 3, day) },
			want: []result{{value: 3, ok: true}, {value: 3}, {value: 3}}},
		{ops: func(b *Batch) { b.Max("m", 7, day); b.Max("m", 7, day); b.Max("m", 5, day) },
			want: []result{{value: 7, ok: true}, {value: 7}, {value: 7}}},
		{ops: func(b *Batch) { b.Max("neg", -4, day) }, want: []result{{value: -4, ok: true}}},
	}},
	{"MarkOnce is true once", []step{
		{ops: func(b *Batch) { b.MarkOnce("k", day); b.MarkOnce("k", day); b.MarkOnce("j", day) },
			want: []result{{ok: true}, {}, {ok: true}}},
		{ops: func(b *Batch) { b.MarkOnce("k", day) }, want: []result{{}}},
	}},
	{"Delete claims once, whatever the kind", []step{
		{ops: func(b *Batch) {
			b.Delete("k")
			b.MarkOnce("k", day)
			b.Delete("k")
			b.Delete("k")
			b.MarkOnce("k", day)
			b.Max("m", 1, day)
			b.Delete("m")
			b.TopAdd("s", "a", 1, 5, day)
			b.Delete("s")
			b.WindowAdd("w", window1m, time.Time{}, 1)
			b.Delete("w")
			b.WindowAdd("w", window1m, time.Time{}, 0)
		}, want: []result{{}, {ok: true}, {ok: true}, {}, {ok: true}, {value: 1, ok: true}, {ok: true},
			{value: 1, ok: true}, {ok: true}, {value: 1}, {ok: true}, {value: 0}}},
	}},
	{"WindowAdd sums fixed buckets of the event's window", []step{
		{ops: func(b *Batch) {
			b.WindowAdd("w", window1m, start, 1)
			b.WindowAdd("w", window1m, time.Time{}, 2) // zero time is now
		}, want: []result{{value: 1}, {value: 3}}},
		{advance: 10 * sec, ops: func(b *Batch) {
			b.WindowAdd("w", window1m, start.Add(10*sec), 1)
			// An event 15s before start lands two buckets back; its window
			// ends there, so it sees only its own bucket.
			b.WindowAdd("w", window1m, start.Add(-15*sec), 5)
			b.WindowAdd("w", window1m, start.Add(10*sec), 0)
			b.WindowAdd("w", window1m, start.Add(time.Hour), 1) // the future counts as now
		}, want: []result{{value: 4}, {value: 5}, {value: 9}, {value: 10}}},
		{advance: 50 * sec, ops: func(b *Batch) {
			// Now start+60s: only the start+10s bucket is still in the window.
			b.WindowAdd("w", window1m, time.Time{}, 0)
			b.WindowAdd("w", window1m, start.Add(-30*sec), 1) // older than the window: dropped
			b.WindowAdd("w", window1m, time.Time{}, 0)
		}, want: []result{{value: 2}, {value: 0}, {value: 2}}},
		{advance: 2 * time.Minute, ops: func(b *Batch) {
			b.WindowAdd("w", window1m, time.Time{}, 0)
			b.WindowAdd("w", window1m, time.Time{}, 4)
		}, want: []result{{value: 0}, {value: 4}}},
	}},
	{"WindowAdd reads do not create", []step{
		{ops: func(b *Batch) { b.WindowAdd("w", window1m, time.Time{}, 0); b.Delete("w") },
			want: []result{{}, {}}},
	}},
	{"TopAdd keeps the highest counts", []step{
		{ops: func(b *Batch) {
			b.TopAdd("t", "a", 1, 2, day)
			b.TopAdd("t", "b", 3, 2, day)
			b.TopAdd("t", "c", 1, 2, day) // ties with a; a is smaller, so a goes
			b.TopAdd("t", "a", 1, 2, day) // a comes back with 1 and goes again
			b.TopAdd("t", "c", 5, 2, day)
			b.Members("t", 10)
			b.Members("t", 1)
		}, want: []result{{value: 1, ok: true}, {value: 3, ok: true}, {value: 1, ok: true}, {}, {value: 6, ok: true},
			{entries: []Entry{{"c", 6}, {"b", 3}}}, {entries: []Entry{{"c", 6}}}}},
	}},
	{"Members orders ties by member, greatest first", []step{
		{ops: func(b *Batch) {
			b.TopAdd("t", "x", 2, 5, day)
			b.TopAdd("t", "z", 2, 5, day)
			b.TopAdd("t", "y", 2, 5, day)
			b.TopAdd("t", "w", 9, 5, day)
			b.Members("t", 5)
			b.Members("absent", 5)
		}, want: []result{{value: 2, ok: true}, {value: 2, ok: true}, {value: 2, ok: true}, {value: 9, ok: true},
			{entries: []Entry{{"w", 9}, {"z", 2}, {"y", 2}, {"x", 2}}}, {}}},
	}},
	{"DistinctAdd counts members seen within the window", []step{
		{ops: func(b *Batch) {
			b.DistinctAdd("d", "a", start, 5*time.Minute, 3)
			b.DistinctAdd("d", "b", start, 5*time.Minute, 3)
			b.DistinctAdd("d", "a", start.Add(-time.Minute), 5*time.Minute, 3) // older sighting: no change
			b.DistinctAdd("fresh", "x", start.Add(-5*time.Minute), 5*time.Minute, 3)
			b.Delete("fresh")
		}, want: []result{{value: 1}, {value: 2}, {value: 2}, {value: 0}, {}}},
		{advance: 3 * time.Minute, ops: func(b *Batch) {
			b.DistinctAdd("d", "c", time.Time{}, 5*time.Minute, 3)
			b.DistinctAdd("d", "d", start.Add(time.Hour), 5*time.Minute, 3) // future: now; a (oldest, smallest) goes
			b.Members("d", 5)
		}, want: []result{{value: 3}, {value: 3}, {entries: []Entry{
			{"d", ms(start.Add(3 * time.Minute))}, {"c", ms(start.Add(3 * time.Minute))}, {"b", ms(start)},
		}}}},
		{advance: 2*time.Minute + time.Millisecond, ops: func(b *Batch) {
			b.DistinctAdd("d", "e", time.Time{}, 5*time.Minute, 3) // b was seen 5m1ms ago: forgotten
			b.Members("d", 5)
		}, want: []result{{value: 3}, {entries: []Entry{
			{"e", ms(start.Add(5*time.Minute + time.Millisecond))},
			{"d", ms(start.Add(3 * time.Minute))}, {"c", ms(start.Add(3 * time.Minute))},
		}}}},
	}},
	{"MemberMax registers, escalates and is claimed once", []step{
		{ops: func(b *Batch) {
			b.MemberMax("active", "a", 1, 2, day)
			b.MemberMax("active", "a", 1, 2, day)
			b.MemberMax("active", "a", 2, 2, day)
			b.MemberMax("active", "b", 5, 2, day)
			b.MemberMax("active", "c", 1, 2, day) // lowest: not kept, so not raised
			b.MemberMax("active", "c", 3, 2, day) // a goes
			b.Members("active", 10)
		}, want: []result{{value: 1, ok: true}, {value: 1}, {value: 2, ok: true}, {value: 5, ok: true}, {}, {value: 3, ok: true},
			{entries: []Entry{{"b", 5}, {"c", 3}}}}},
		{ops: func(b *Batch) {
			b.RemoveMember("active", "b")
			b.RemoveMember("active", "b")
			b.RemoveMember("active", "a")
			b.Members("active", 10)
			b.RemoveMember("active", "c")
			b.Delete("active") // the emptied set is gone
			b.RemoveMember("absent", "x")
		}, want: []result{{ok: true}, {}, {}, {entries: []Entry{{"c", 3}}}, {ok: true}, {}, {}}},
	}},
	{"CountOnce counts an event once while its mark lives, in every op it gates", []step{
		{ops: func(b *Batch) {
			ma, mb, mc, md := b.Dedupe("m:a", time.Minute), b.Dedupe("m:b", time.Minute), b.Dedupe("m:c", time.Minute), b.Dedupe("m:d", time.Minute)
			n := b.Incr("n", 1, day) // 1 event without a mark
			b.CountOnce(n, ma, 1)
			b.CountOnce(n, mb, 1)
			x := b.WindowAdd("x", window1m, start, 0)
			f := b.WindowAdd("f", window1m, start, 0)
			top := b.TopAdd("types", "E", 0, 5, day)
			b.CountOnce(x, mc, 1) // one execution, counted in both windows
			b.CountOnce(f, mc, 1)
			b.CountOnce(top, mc, 2)
			b.CountOnce(x, md, 1)
			b.Incr("plain", 1, day) // runs before the ops with gates
		}, want: []result{{value: 3}, {value: 2}, {value: 1}, {value: 2, ok: true}, {value: 1}}},
		{advance: sec, ops: func(b *Batch) {
			ma, mc := b.Dedupe("m:a", time.Minute), b.Dedupe("m:c", time.Minute)
			n := b.Incr("n", 0, day)
			b.CountOnce(n, ma, 1) // seen: the log record of a counted span
			b.CountOnce(n, b.Dedupe("m:e", time.Minute), 1)
			x := b.WindowAdd("x", window1m, start, 0)
			b.CountOnce(x, mc, 1)
			top := b.TopAdd("types", "E", 0, 5, day)
			b.CountOnce(top, mc, 2)
			runs := b.Incr("runs", 4, day)
			b.CountOnce(runs, b.Dedupe("m:f", time.Minute), 1)
			retryClaim(b, runs, false) // decides on the gated count
		}, want: []result{{value: 4}, {value: 2}, {value: 2, ok: true}, {value: 5}, {value: 1, ok: true}}},
	}},
	{"CountOnce on more events than a script call holds", []step{
		{ops: func(b *Batch) { gatedRuns(b, 0, 2500) }, want: []result{{value: 2501}, {value: 10, ok: true}}}, // 2500 > 3·2^9
		{ops: func(b *Batch) { gatedRuns(b, 2490, 2510) }, want: []result{{value: 2512}, {value: 10}}},
	}},
	{"CountOnce on a mark of another kind fails its op", []step{
		{ops: func(b *Batch) {
			b.TopAdd("set", "a", 1, 5, day)
			b.CountOnce(b.Incr("n", 1, day), b.Dedupe("set", time.Minute), 1)
			b.Incr("n", 1, day)
		}, want: []result{{value: 1, ok: true}, {}, {value: 1}}, wantErr: `Incr "n"`},
	}},
	{"Claim raises once per level its count calls for, and Final resolves", []step{
		{ops: func(b *Batch) {
			for range 5 {
				retryClaim(b, b.Incr("runs", 1, day), false)
			}
		}, want: []result{{value: 1}, {}, {value: 2}, {}, {value: 3}, {}, {value: 4}, {},
			{value: 5}, {value: 1, ok: true}}}, // 4 retries > 3
		{ops: func(b *Batch) {
			for range 3 {
				retryClaim(b, b.Incr("runs", 1, day), false)
			}
		}, want: []result{{value: 6}, {value: 1}, {value: 7}, {value: 1}, {value: 8}, {value: 2, ok: true}}}, // 7 > 6
		{ops: func(b *Batch) {
			retryClaim(b, b.Incr("runs", 1, day), true) // the job succeeded
			retryClaim(b, b.Incr("runs", 1, day), true) // the counter went with it
			b.Members("alerts", 5)                      // runs before the claims
			retryClaim(b, b.Incr("other", 1, day), true)
		}, want: []result{{value: 9}, {ok: true}, {value: 1}, {}, {entries: []Entry{{"job", 2}}}, {value: 1}, {}}},
		{ops: func(b *Batch) { b.Members("alerts", 5); b.Delete("runs"); b.Delete("other") },
			want: []result{{}, {}, {}}},
	}},
	{"Claim raises above the known level and resolves a known alert when calm", []step{
		{ops: func(b *Batch) {
			countClaim(b, b.Incr("n", 12, day), 0)
			countClaim(b, b.Incr("n", 0, day), 1)  // known: nothing to do
			countClaim(b, b.Incr("n", -8, day), 0) // calm, but not known to fire
			countClaim(b, b.Incr("n", 0, day), 1)
			countClaim(b, b.Incr("n", 0, day), 1) // resolved already
			countClaim(b, b.Incr("n", 30, day), 0)
			countClaim(b, b.Incr("n", 7, day), 3) // 41 calls for 3, known
		}, want: []result{{value: 12}, {value: 1, ok: true}, {value: 12}, {value: 1}, {value: 4}, {}, {value: 4}, {ok: true},
			{value: 4}, {}, {value: 34}, {value: 2, ok: true}, {value: 41}, {value: 3}}},
	}},
	{"Claim on a window weighs the ratio over its Of window", []step{
		{ops: func(b *Batch) {
			ratioClaim(b, b.WindowAdd("f", window1m, start, 3), 0) // 3 of 3, but fewer than 4 executions
			b.WindowAdd("x", window1m, start, 3)                   // runs before the claim
		}, want: []result{{value: 3}, {}, {value: 3}}},
		{ops: func(b *Batch) {
			b.WindowAdd("x", window1m, start, 1)
			ratioClaim(b, b.WindowAdd("f", window1m, start, 0), 0) // 3 of 4
		}, want: []result{{value: 4}, {value: 3}, {value: 1, ok: true}}},
		{ops: func(b *Batch) {
			b.WindowAdd("x", window1m, start, 2)
			ratioClaim(b, b.WindowAdd("f", window1m, start, 0), 1) // 3 of 6: not above 0.5, not calm
		}, want: []result{{value: 6}, {value: 3}, {value: 1}}},
		{ops: func(b *Batch) {
			b.WindowAdd("x", window1m, start, 6)
			ratioClaim(b, b.WindowAdd("f", window1m, start, 0), 1) // 3 of 12: not below 0.25
		}, want: []result{{value: 12}, {value: 3}, {value: 1}}},
		{ops: func(b *Batch) {
			b.WindowAdd("x", window1m, start, 1)
			ratioClaim(b, b.WindowAdd("f", window1m, start, 0), 1) // 3 of 13: calm
		}, want: []result{{value: 13}, {value: 3}, {ok: true}}},
		{advance: 2 * time.Minute, ops: func(b *Batch) {
			ratioClaim(b, b.WindowAdd("f", window1m, start, 5), 0) // older than the window: count 0
			ratioClaim(b, b.WindowAdd("f", window1m, time.Time{}, 5), 0)
		}, want: []result{{}, {}, {value: 5}, {}}},
	}},
	{"Claim on a distinct set lists its sets when it raises", []step{
		{ops: func(b *Batch) {
			b.TopAdd("types", "E", 3, 5, day)
			b.TopAdd("types", "F", 1, 5, day)
			distinctClaim(b, "a", 0)
			distinctClaim(b, "b", 0)
			distinctClaim(b, "c", 0)
			distinctClaim(b, "d", 1)
		}, want: []result{{value: 3, ok: true}, {value: 1, ok: true}, {value: 1}, {}, {value: 2},
			{value: 1, ok: true, entries: []Entry{{"b", ms(start)}, {"a", ms(start)}, {"E", 3}, {"F", 1}}},
			{value: 3}, {value: 1}, {value: 4}, {value: 2, ok: true, entries: []Entry{
				{"d", ms(start)}, {"c", ms(start)}, {"b", ms(start)}, {"a", ms(start)}, {"E", 3}, {"F", 1},
			}}}},
	}},
	{"Claim keeps Capacity alerts in its registry", []step{
		{ops: func(b *Batch) {
			b.Claim(b.Incr("a", 2, day), Claim{Set: "reg", Member: "a", Capacity: 1, TTL: day, Rule: Rule{Threshold: 1}})
			b.Claim(b.Incr("b", 5, day), Claim{Set: "reg", Member: "b", Capacity: 1, TTL: day, Rule: Rule{Threshold: 1, Factor: 2}})
			b.Claim(b.Incr("c", 2, day), Claim{Set: "reg", Member: "c", Capacity: 1, TTL: day, Rule: Rule{Threshold: 1}})
		}, want: []result{{value: 2}, {value: 1, ok: true}, {value: 5}, {value: 3, ok: true}, {value: 2}, {}}}, // trimmed
		{ops: func(b *Batch) { b.Members("reg", 5) }, want: []result{{entries: []Entry{{"b", 3}}}}},
	}},
	{"a Claim on a key of another kind fails and changes nothing", []step{
		{ops: func(b *Batch) {
			b.Incr("counter", 1, day)
			b.TopAdd("set", "a", 1, 5, day)
			b.Claim(b.Incr("n", 5, day), Claim{Set: "counter", Member: "m", Capacity: 5, TTL: day, Rule: Rule{Threshold: 1}})
			b.Claim(b.Incr("set", 5, day), Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day, Rule: Rule{Threshold: 1}})
			b.Claim(b.Incr("n", 0, day), Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day, Rule: Rule{Threshold: 1},
				List: []string{"set", "counter"}, ListLimit: 5})
			b.Claim(b.WindowAdd("w", window1m, start, 1), Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day,
				Rule: Rule{MinRatio: 0.5}, Of: "counter"})
			b.Members("reg", 5)
			b.Claim(b.Incr("n", 0, day), Claim{Set: "counter", Member: "m", Capacity: 5, TTL: day, Rule: Rule{Threshold: 10}})
		}, want: []result{{value: 1}, {value: 1, ok: true}, {value: 5}, {}, {}, {}, {value: 5}, {}, {value: 1}, {}, {},
			{value: 5}, {}}, // nothing to raise: the registry is not read
			wantErr: `5 ops failed, first: Claim "counter"`},
		{ops: func(b *Batch) { b.Members("reg", 5) }, want: []result{{}}},
	}},
	{"an invalid Claim runs nothing", []step{
		{ops: func(b *Batch) {
			r := b.Incr("n", 1, day)
			b.Incr("m", 1, day)
			b.Claim(r, Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day})
		}, want: []result{{}, {}, {}}, wantErr: "a claim must follow the op it claims on"},
		{ops: func(b *Batch) {
			b.Claim(b.Max("n", 1, day), Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day})
		}, want: []result{{}, {}}, wantErr: "cannot claim on Max"},
		{ops: func(b *Batch) {
			b.Claim(b.Incr("n", 1, day), Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day, Of: "x"})
		}, want: []result{{}, {}}, wantErr: "of needs a WindowAdd"},
		{ops: func(b *Batch) {
			b.Claim(b.Incr("n", 1, day), Claim{Set: "reg", Member: "m", Capacity: 5, TTL: day, Rule: Rule{Factor: math.NaN()}})
		}, want: []result{{}, {}}, wantErr: "rule values must be finite"},
		{ops: func(b *Batch) {
			b.Claim(b.Incr("n", 1, day), Claim{Set: "reg", Member: "m", TTL: day})
		}, want: []result{{}, {}}, wantErr: "capacity must be >= 1"},
		{ops: func(b *Batch) {
			b.Claim(b.Incr("n", 1, day), Claim{Set: "reg", Member: "m", Capacity: 1, TTL: day, List: []string{"s"}})
		}, want: []result{{}, {}}, wantErr: "list limit must be >= 1"},
	}},
	{"an op on a key of another kind fails alone", []step{
		{ops: func(b *Batch) {
			b.TopAdd("set", "a", 1, 5, day)
			b.Incr("set", 1, day)
			b.Incr("counter", 1, day)
		}, want: []result{{value: 1, ok: true}, {}, {value: 1}}, wantErr: `Incr "set"`},
	}},
	{"an invalid batch runs nothing", []step{
		{ops: func(b *Batch) {
			b.Incr("c", 1, day)
			b.Incr("c", 1, 0)
		}, want: []result{{}, {}}, wantErr: `op 1 (Incr "c"): ttl must be between 1ms`},
		{ops: func(b *Batch) {
			b.Incr("c", 1, day)
			b.WindowAdd("w", Window{Length: time.Minute}, time.Time{}, 1)
			b.Members("s", 0)
			b.TopAdd("", "a", 1, 1, day)
		}, want: []result{{}, {}, {}, {}}, wantErr: "window buckets must be between 1 and 1000"},
		{ops: func(b *Batch) { b.Incr("c", 1, day) }, want: []result{{value: 1}}},
	}},
}

// retryClaim is the claim of a retry detector on a run counter: 3 retries
// allowed, one level more per doubling; final when the job succeeded.
// gatedRuns counts 1 run and the runs marked from to to-1, with a claim on
// the count.
func gatedRuns(b *Batch, from, to int) {
	runs := b.Incr("runs", 1, day)
	for i := from; i < to; i++ {
		b.CountOnce(runs, b.Dedupe(fmt.Sprint("run:", i), time.Minute), 1)
	}
	retryClaim(b, runs, false)
}

func retryClaim(b *Batch, runs Ref, final bool) Ref {
	return b.Claim(runs, Claim{Set: "alerts", Member: "job", Capacity: 1, TTL: day,
		Rule: Rule{Threshold: 3, Factor: 2, Base: 1}, Final: final})
}

// countClaim fires past 10, escalates at 20 and 40, resolves below 5.
func countClaim(b *Batch, count Ref, known int64) Ref {
	return b.Claim(count, Claim{Set: "active", Member: "n", Capacity: 10, TTL: day, Known: known,
		Rule: Rule{Threshold: 10, Factor: 2, Calm: 5}})
}

// ratioClaim fires past 2 failures that are more than half of at least 4
// executions (the window x), resolves below a quarter.
func ratioClaim(b *Batch, failures Ref, known int64) Ref {
	return b.Claim(failures, Claim{Set: "active", Member: "f", Capacity: 10, TTL: day, Known: known, Of: "x",
		Rule: Rule{Threshold: 2, Factor: 2, Calm: 1, MinRatio: 0.5, CalmRatio: 0.25, MinOf: 4}})
}

// distinctClaim adds member to the distinct set d and fires from 2 members
// (escalating at 4), listing d and the top-K types.
func distinctClaim(b *Batch, member string, known int64) Ref {
	return b.Claim(b.DistinctAdd("d", member, start, 5*time.Minute, 10), Claim{Set: "active", Member: "d", Capacity: 10, TTL: day,
		Known: known, Rule: Rule{Threshold: 1, Factor: 3, Calm: 1}, List: []string{"d", "types"}, ListLimit: 5})
}

// TestConformance runs the same sequences on both backends: their semantics
// must be identical, op for op.
func TestConformance(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			for _, tc := range conformance {
				t.Run(tc.name, func(t *testing.T) {
					clock := clockwork.NewFakeClockAt(start)
					s := be.open(t, clock)
					var b Batch
					for i, st := range tc.steps {
						clock.Advance(st.advance)
						b.Reset()
						st.ops(&b)
						err := s.Apply(context.Background(), &b)
						if st.wantErr != "" {
							require.ErrorContains(t, err, st.wantErr, "step %d", i)
						} else {
							require.NoError(t, err, "step %d", i)
						}
						require.Equal(t, len(st.want), b.Len(), "step %d: one result per op", i)
						for r, want := range st.want {
							got := result{value: b.Value(Ref(r)), ok: b.OK(Ref(r)), entries: b.Entries(Ref(r))}
							if len(got.entries) == 0 {
								got.entries = nil
							}
							assert.Equal(t, want, got, "step %d, op %d", i, r)
						}
					}
				})
			}
		})
	}
}
