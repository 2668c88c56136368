// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
)

// letters writes n in base 26 with letters, so that each n gives a word the
// fingerprint keeps (digits would be normalized away).
func letters(n int) string {
	var b [16]byte
	i := len(b)
	for {
		i--
		b[i] = byte('a' + n%26)
		n /= 26
		if n == 0 {
			return string(b[i:])
		}
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// Budgets the bounds test holds the detector to: BenchmarkMemoryPerClass
// measures about 1.9 KiB per class (0.6 KiB of tracked state, 1.2 KiB for
// its 5 entries in the memory store), BenchmarkMemoryPerFingerprint about
// 0.8 KiB per fingerprint (0.35 KiB of state, a class set in the store).
const (
	budgetPerClass      = 1 << 10 // tracked state only
	budgetPerPrint      = 1 << 10
	budgetPerStoreEntry = 512
	maxStoreEntries     = 100_000
)

func TestBoundedClassesAndMessages(t *testing.T) {
	const (
		classes  = 100_000
		messages = 1_000_000
		batch    = 2_000
	)
	cfg := testConfig()
	cfg.MaxClasses, cfg.MaxFingerprints = 5_000, 5_000
	h := newHarness(t, cfg)
	ctx := context.Background()
	b := h.d.NewBatch()
	run := func(n int, event func(i int) jobevent.Event) {
		for i := 0; i < n; {
			b.Reset()
			b.Begin(h.clock.Now())
			for end := min(i+batch, n); i < end; i++ {
				ev := event(i)
				b.Add(&ev)
			}
			require.NoError(t, b.Observe(ctx))
		}
	}
	before := heapInUse()

	// 100,000 classes, each failing once with the same error.
	run(classes, func(i int) jobevent.Event {
		return execution(fmt.Sprintf("Job%d", i), jobevent.OutcomeFailure, "E", "boom", t0)
	})
	st := h.d.Stats()
	assert.Equal(t, cfg.MaxClasses, st.Classes)
	assert.Equal(t, int64(classes-cfg.MaxClasses), st.EvictedClasses)

	// 1,000,000 different errors over 50 classes; the second half of them
	// must not grow the heap.
	message := func(i int) jobevent.Event {
		return execution(fmt.Sprintf("Job%d", i%50), jobevent.OutcomeFailure, "E", "failed on "+letters(i), t0)
	}
	run(messages/2, message)
	half := heapInUse()
	run(messages/2, func(i int) jobevent.Event { return message(messages/2 + i) })
	st = h.d.Stats()
	assert.Equal(t, cfg.MaxFingerprints, st.Fingerprints)
	assert.Equal(t, int64(messages+1-cfg.MaxFingerprints), st.EvictedFingerprints)
	assert.LessOrEqual(t, st.Classes, cfg.MaxClasses)

	stats := h.store.Stats()
	assert.LessOrEqual(t, stats.Entries, int64(maxStoreEntries))
	after := heapInUse()
	grown := int64(after) - int64(before)
	limit := int64(cfg.MaxClasses*budgetPerClass+cfg.MaxFingerprints*budgetPerPrint+maxStoreEntries*budgetPerStoreEntry) + 8<<20 // + the batch's scratch
	t.Logf("heap grew %d KiB (limit %d KiB), %d KiB in the second 500,000 messages; store %d entries",
		grown>>10, limit>>10, (int64(after)-int64(half))>>10, stats.Entries)
	assert.Less(t, grown, limit)
	assert.Less(t, int64(after)-int64(half), int64(4<<20), "memory stays flat once the bounds are reached")
	runtime.KeepAlive(b)
}

func TestHostileEvents(t *testing.T) {
	h := newHarness(t, testConfig())
	huge := strings.Repeat("x", 10<<20)
	control := "\x00\x01\x1b[31mred\x1b[0m\r\n\t\x7f"
	events := []jobevent.Event{
		{System: control, Class: control, Queue: control, Outcome: jobevent.OutcomeFailure, ErrorType: control, ErrorMessage: control, Time: t0},
		{System: huge, Class: huge, Queue: huge, Outcome: jobevent.OutcomeFailure, ErrorType: huge, ErrorMessage: huge, Time: t0},
		{Class: "", Queue: "", Outcome: jobevent.OutcomeFailure, Time: t0},
		{Class: "Job", ID: huge, Attempt: 1 << 40, Outcome: jobevent.OutcomeFailure, Time: time.Time{}},
		{Class: "Job", Outcome: jobevent.Outcome(200), Time: t0.Add(1000 * time.Hour)},
	}
	var batch []jobevent.Event
	for range 11 {
		batch = append(batch, events...)
	}
	recs, b := h.observe(t, batch...)
	require.Len(t, recs, 3, "three failing classes past 10 (the job with one id is one execution)")
	for _, r := range recs {
		assert.LessOrEqual(t, len(r.Alert.Class), maxClipped)
		assert.NotContains(t, r.Alert.Class, "\x00")
		assert.NotEmpty(t, r.Alert.Summary)
		_ = b.ClusterID(r.Event)
	}
	// Nothing of the 10 MB values is kept beyond its bounded copies.
	h.d.mu.Lock()
	for _, k := range h.d.classes.Keys() {
		st, _ := h.d.classes.Peek(k)
		assert.LessOrEqual(t, len(st.member), 3*maxClipped+2)
	}
	for _, k := range h.d.prints.Keys() {
		st, _ := h.d.prints.Peek(k)
		assert.LessOrEqual(t, len(st.sample), maxClipped)
	}
	h.d.mu.Unlock()
}

func TestConcurrentBatchesAndSweeps(t *testing.T) {
	h := newHarness(t, testConfig())
	var wg sync.WaitGroup
	records := make([][]alert.Alert, 4)
	for g := range 4 {
		wg.Go(func() {
			b := h.d.NewBatch()
			for i := range 50 {
				b.Reset()
				b.Begin(h.clock.Now())
				for k := range 10 {
					ev := execution(fmt.Sprintf("Job%d", (i+k)%7), jobevent.OutcomeFailure, "E", fmt.Sprintf("timeout after %dms", k), t0)
					b.Add(&ev)
				}
				assert.NoError(t, b.Observe(context.Background()))
				for _, r := range b.Records() {
					records[g] = append(records[g], r.Alert)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			_, err := h.d.Sweep(context.Background())
			assert.NoError(t, err)
		}
	})
	wg.Wait()
	ids := map[string]bool{}
	levels := map[string]int{}
	for _, rs := range records {
		for _, a := range rs {
			if a.State == alert.StateFiring {
				ids[a.ID] = true
				levels[fmt.Sprint(a.ID, " level ", attr(a, AttrLevel))]++
			}
		}
	}
	assert.Len(t, ids, 8, "7 classes and one dependency")
	for level, n := range levels {
		assert.Equal(t, 1, n, "%s fired %d times", level, n)
	}
}

// BenchmarkMemoryPerClass reports the heap one tracked class costs: its
// state in the detector and its entries in the memory store (two windows,
// an error top-K, two failure times), each class failing once.
func BenchmarkMemoryPerClass(b *testing.B) {
	benchmarkMemory(b, "B/class", func(i int) jobevent.Event {
		return execution(fmt.Sprintf("Job%d", i), jobevent.OutcomeFailure, "E", "boom", t0)
	})
}

// BenchmarkMemoryPerFingerprint reports the heap one tracked error
// fingerprint costs: its state and its class set in the store.
func BenchmarkMemoryPerFingerprint(b *testing.B) {
	benchmarkMemory(b, "B/fingerprint", func(i int) jobevent.Event {
		return execution("Job", jobevent.OutcomeFailure, "E", "failed on "+letters(i), t0)
	})
}

func benchmarkMemory(b *testing.B, unit string, event func(i int) jobevent.Event) {
	const n = 20_000
	cfg := testConfig()
	cfg.MaxClasses, cfg.MaxFingerprints = n, n
	for b.Loop() {
		h := newHarness(b, cfg)
		batch := h.d.NewBatch()
		before := heapInUse()
		for i := 0; i < n; {
			batch.Reset()
			batch.Begin(h.clock.Now())
			for end := min(i+1000, n); i < end; i++ {
				ev := event(i)
				batch.Add(&ev)
			}
			require.NoError(b, batch.Observe(context.Background()))
		}
		batch.Reset()
		after := heapInUse()
		b.ReportMetric(float64(after-before)/n, unit)
		b.ReportMetric(float64(h.store.Stats().Entries)/n, "entries/"+unit[2:])
		runtime.KeepAlive(h)
	}
}
