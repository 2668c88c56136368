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

// BenchmarkApply applies 1,000-op batches the shape of job_retry's (one Incr
// per job execution, a Max for the few past the threshold) and of
// failure_cluster's (a window add and a top-K add per failure).
// One b.N iteration is one batch; ns/op divided by 1,000 is the cost per op.
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
			if i%10 == 0 {
				batch.Max(fired[i%len(keys)], 1, day)
				return
			}
			batch.Incr(keys[i%len(keys)], 1, day)
		}},
		{"cluster", func(batch *Batch, i int) {
			if i%2 == 0 {
				batch.WindowAdd(keys[i%500], Window{Length: time.Hour, Buckets: 12}, time.Time{}, 1)
				return
			}
			batch.TopAdd(errorKeys[i%500], keys[i%7], 1, 20, day)
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
