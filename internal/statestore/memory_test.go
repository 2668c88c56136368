// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func apply(t *testing.T, s Store, build func(b *Batch)) *Batch {
	t.Helper()
	b := &Batch{}
	build(b)
	require.NoError(t, s.Apply(context.Background(), b))
	return b
}

func TestMemoryTTL(t *testing.T) {
	clock := clockwork.NewFakeClockAt(start)
	s := NewMemory(100, WithClock(clock))
	step := func(advance time.Duration, build func(b *Batch)) *Batch {
		clock.Advance(advance)
		return apply(t, s, build)
	}
	ops := func(b *Batch) {
		b.Incr("incr", 1, time.Minute)
		b.Max("max", 1, time.Minute)
		b.MarkOnce("mark", time.Minute)
		b.TopAdd("top", "a", 1, 5, time.Minute)
		b.MemberMax("active", "a", 1, 5, time.Minute)
		b.DistinctAdd("distinct", "a", time.Time{}, time.Minute, 5)
	}

	b := step(0, ops)
	assert.Equal(t, []int64{1, 1, 0, 1, 1, 1}, values(b))
	assert.Equal(t, int64(6), s.Stats().Entries)

	// 40s later everything is alive; Max, TopAdd, MemberMax and DistinctAdd
	// extend their TTL, Incr and MarkOnce do not.
	b = step(40*time.Second, ops)
	assert.Equal(t, []int64{2, 1, 0, 2, 1, 1}, values(b))
	assert.False(t, b.OK(2), "the mark is still set")

	// 61s after creation: Incr and MarkOnce start afresh, the others live on.
	b = step(21*time.Second, ops)
	assert.Equal(t, []int64{1, 1, 0, 3, 1, 1}, values(b))
	assert.True(t, b.OK(2), "the mark expired")
	assert.False(t, b.OK(1), "Max was extended, so 1 is not a new high")

	// Nothing touched for over a minute: all gone, and swept from the LRU
	// end by the next Apply without being asked for.
	clock.Advance(61 * time.Second)
	apply(t, s, func(b *Batch) { b.Incr("new", 1, time.Minute) })
	assert.Equal(t, int64(1), s.Stats().Entries)
}

func TestMemoryWindowTTL(t *testing.T) {
	clock := clockwork.NewFakeClockAt(start)
	s := NewMemory(100, WithClock(clock))
	apply(t, s, func(b *Batch) { b.WindowAdd("w", window1m, time.Time{}, 1) })
	// A window counter lives one bucket longer than its window after its last add.
	clock.Advance(window1m.Length + 10*time.Second)
	assert.Equal(t, int64(1), s.Stats().Entries)
	clock.Advance(time.Millisecond)
	apply(t, s, func(*Batch) {})
	assert.Equal(t, int64(0), s.Stats().Entries)
}

func values(b *Batch) []int64 {
	out := make([]int64, b.Len())
	for i := range out {
		out[i] = b.Value(Ref(i))
	}
	return out
}

func TestMemoryLRU(t *testing.T) {
	t.Run("distinct hashes", func(t *testing.T) { testLRU(t, NewMemory(3)) })
	t.Run("one hash chain", func(t *testing.T) {
		m := NewMemory(3)
		m.hash = func(string) uint64 { return 7 }
		testLRU(t, m)
	})
}

func testLRU(t *testing.T, s *Memory) {
	for _, k := range []string{"a", "b", "c"} {
		apply(t, s, func(b *Batch) { b.Incr(k, 1, day) })
	}
	apply(t, s, func(b *Batch) { b.Incr("a", 1, day) }) // a is now the most recent
	apply(t, s, func(b *Batch) { b.Incr("d", 1, day) }) // b, the least recent, goes
	b := apply(t, s, func(b *Batch) {
		for _, k := range []string{"a", "c", "d", "b"} {
			b.Incr(k, 0, day)
		}
	})
	assert.Equal(t, []int64{2, 1, 1, 0}, values(b), "b was evicted and starts again")
	st := s.Stats()
	assert.Equal(t, int64(3), st.Entries)
	assert.Equal(t, int64(2), st.Evictions, "d evicted b, then b evicted a")
}

// jobKey is what job_retry keys a job by: system, class and a 24-hex-digit id.
func jobKey(i int) string { return fmt.Sprintf("sidekiq\x00HardJob\x00%024x", i) }

// fill pushes n distinct job ids through s, one 1,000-op batch at a time.
func fill(t testing.TB, s Store, n int) {
	var b Batch
	for i := 0; i < n; i += 1000 {
		b.Reset()
		for j := i; j < min(i+1000, n); j++ {
			b.Incr(jobKey(j), 1, day)
		}
		require.NoError(t, s.Apply(context.Background(), &b))
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// bytesPerEntryTarget is issue 3's bound for one tracked job.
const bytesPerEntryTarget = 150

// TestMemoryBoundedByMaxEntries pushes a million distinct job ids through a
// store of 10,000 entries: entries, evictions and measured heap growth stay
// within the configured bound.
func TestMemoryBoundedByMaxEntries(t *testing.T) {
	const maxEntries, ids = 10_000, 1_000_000
	s := NewMemory(maxEntries)
	before := heapAlloc()
	fill(t, s, ids)
	grown := int64(heapAlloc()) - int64(before)

	st := s.Stats()
	assert.Equal(t, int64(maxEntries), st.Entries)
	assert.Equal(t, int64(ids-maxEntries), st.Evictions)
	assert.LessOrEqual(t, grown, int64(maxEntries*bytesPerEntryTarget), "heap growth")
	// The estimate is what the processors report: it must be near the truth.
	assert.InDelta(t, 1, float64(st.Bytes)/float64(grown), 0.5, "estimated %d bytes, measured %d", st.Bytes, grown)
	runtime.KeepAlive(s)
}

// TestMemoryBytesPerEntry measures the heap a million tracked job ids take.
func TestMemoryBytesPerEntry(t *testing.T) {
	const ids = 1_000_000
	s := NewMemory(ids)
	before := heapAlloc()
	fill(t, s, ids)
	perEntry := float64(int64(heapAlloc())-int64(before)) / ids
	assert.Equal(t, int64(ids), s.Stats().Entries)
	assert.LessOrEqual(t, perEntry, float64(bytesPerEntryTarget))
	t.Logf("%.1f bytes per tracked job id", perEntry)
	runtime.KeepAlive(s)
}

// TestMemoryUpdatesDoNotAllocate: once a key exists, applying ops to it
// allocates nothing (the hot path of a steady workload).
func TestMemoryUpdatesDoNotAllocate(t *testing.T) {
	s := NewMemory(1000)
	keys := make([]string, 300)
	for i := range keys {
		keys[i] = jobKey(i)
	}
	var b Batch
	build := func() {
		b.Reset()
		for i := range 100 {
			b.Incr(keys[i], 1, day)
			b.Max(keys[i+100], int64(i), day)
			b.WindowAdd(keys[i+200], window1m, time.Time{}, 1)
			b.TopAdd("errors", "Timeout", 1, 10, day)
			b.MemberMax("active", "PaymentJob", 1, 10, day)
		}
	}
	build()
	require.NoError(t, s.Apply(context.Background(), &b))
	allocs := testing.AllocsPerRun(20, func() {
		build()
		_ = s.Apply(context.Background(), &b)
	})
	assert.Zero(t, allocs)
}

func TestMemoryStatsBytes(t *testing.T) {
	clock := clockwork.NewFakeClockAt(start)
	s := NewMemory(100, WithClock(clock))
	assert.Zero(t, s.Stats().Bytes)
	apply(t, s, func(b *Batch) {
		b.Incr("k", 1, day)
		b.WindowAdd("w", window1m, time.Time{}, 1)
		b.TopAdd("t", "member", 1, 5, day)
		b.DistinctAdd("d", "member", time.Time{}, time.Minute, 5)
	})
	assert.Equal(t, int64(4*entryBytes+4+windowBytes+6*bucketBytes+2*(memberBytes+6)), s.Stats().Bytes)
	// Everything removed brings the estimate back to zero, whatever the path
	// (Delete, last member removed, trimmed to nothing, expiry, eviction).
	apply(t, s, func(b *Batch) {
		b.Delete("k")
		b.Delete("w")
		b.RemoveMember("t", "member")
	})
	clock.Advance(2 * time.Minute)
	apply(t, s, func(b *Batch) { b.DistinctAdd("d", "other", start, time.Minute, 5) })
	assert.Zero(t, s.Stats().Bytes)
	assert.Zero(t, s.Stats().Entries)
}

// TestMemoryCopiesKeys: a key that aliases a buffer the caller reuses (as a
// zero-copy string would) is copied when stored.
func TestMemoryCopiesKeys(t *testing.T) {
	s := NewMemory(10)
	buf := []byte("job-1")
	apply(t, s, func(b *Batch) {
		b.Incr(unsafe.String(&buf[0], len(buf)), 1, day)
		b.TopAdd("set", unsafe.String(&buf[0], len(buf)), 1, 5, day)
	})
	copy(buf, "XXXXX")
	b := apply(t, s, func(b *Batch) {
		b.Incr("job-1", 1, day)
		b.Members("set", 5)
	})
	assert.Equal(t, int64(2), b.Value(0))
	assert.Equal(t, []Entry{{"job-1", 1}}, b.Entries(1))
}
