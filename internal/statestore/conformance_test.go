// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
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
