// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// benchKeys are the job ids of a steady workload: 100,000 jobs in flight.
func benchKeys() []string {
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = jobKey(i)
	}
	return keys
}

// BenchmarkApply applies batches of 1,000 adds the shape of job_retry's (an
// Incr and its Claim per job execution) and of failure_cluster's (a top-K add
// per failure, a window add per class with its Claim every tenth).
// One b.N iteration is one batch; ns/key-op is the cost per add.
func BenchmarkApply(b *testing.B) {
	keys := benchKeys()
	fired := make([]string, len(keys))
	for i, k := range keys {
		fired[i] = "fired:" + k
	}
	errorKeys := make([]string, 500)
	for i := range errorKeys {
		errorKeys[i] = keys[i] + ":errors"
	}
	shapes := []struct {
		name string
		add  func(batch *Batch, i int)
	}{
		{"retry", func(batch *Batch, i int) {
			k := i % len(keys)
			batch.Claim(batch.Incr(keys[k], 1, day), Claim{Set: fired[k], Member: "level", Capacity: 1, TTL: day,
				Rule: Rule{Threshold: 3, Factor: 2, Base: 1}})
		}},
		{"cluster", func(batch *Batch, i int) {
			if i%2 == 0 {
				batch.TopAdd(errorKeys[i%500], keys[i%7], 1, 20, day)
				return
			}
			failures := batch.WindowAdd(keys[i%500], Window{Length: time.Hour, Buckets: 12}, time.Time{}, 1)
			if i%10 == 1 {
				batch.Claim(failures, Claim{Set: "active", Member: keys[i%500], Capacity: 1000, TTL: day,
					Rule: Rule{Threshold: 10, Factor: 2, Calm: 5}, List: []string{errorKeys[i%500]}, ListLimit: 20})
			}
		}},
	}
	stores := []struct {
		name string
		open func(b *testing.B) Store
	}{
		{"memory", func(*testing.B) Store { return NewMemory(200_000) }},
		{"redis", func(b *testing.B) Store {
			return newRedisStoreB(b, redistest.Start(b))
		}},
	}
	for _, st := range stores {
		for _, shape := range shapes {
			b.Run(st.name+"/"+shape.name, func(b *testing.B) {
				s := st.open(b)
				var batch Batch
				next := 0
				b.ReportAllocs()
				for b.Loop() {
					batch.Reset()
					for range 1000 {
						shape.add(&batch, next)
						next++
					}
					if err := s.Apply(context.Background(), &batch); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/key-op")
			})
		}
	}
}

func newRedisStoreB(b *testing.B, srv *redistest.Server) *Redis {
	s := NewRedis(srv.Client(b), "bench:", 10*time.Second)
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkMemoryBytesPerEntry reports the heap one tracked job id costs,
// measured over a million distinct ids (target: <= 150 B).
func BenchmarkMemoryBytesPerEntry(b *testing.B) {
	const ids = 1_000_000
	for b.Loop() {
		s := NewMemory(ids)
		before := heapAlloc()
		fill(b, s, ids)
		after := heapAlloc()
		require.Equal(b, int64(ids), s.Stats().Entries)
		b.ReportMetric(float64(int64(after)-int64(before))/ids, "B/entry")
		b.ReportMetric(float64(s.Stats().Bytes)/ids, "estimated-B/entry")
	}
}
