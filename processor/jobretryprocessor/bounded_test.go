// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadatatest"
)

// gauge reads the last value of an int64 gauge or sum of the processor's
// own telemetry.
func gauge(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	switch data := m.Data.(type) {
	case metricdata.Gauge[int64]:
		return data.DataPoints[0].Value
	case metricdata.Sum[int64]:
		return data.DataPoints[0].Value
	}
	t.Fatalf("%s: unexpected data %T", name, m.Data)
	return 0
}

// heapInUse is the live heap; the second GC also frees what sync.Pools
// held (their victim caches).
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A million distinct jobs counted by id, each failing once (a job that
// succeeds is forgotten at once), through the memory store: the processor's own telemetry shows the entries held at the bound,
// the rest evicted, and the memory within 150 bytes per tracked job; the
// heap does not grow with the number of jobs.
func TestBoundedMemory(t *testing.T) {
	const (
		jobs       = 1_000_000
		batchSize  = 10_000
		maxEntries = 10_000
	)
	clock := clockwork.NewFakeClockAt(testStart)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := NewDefaultConfig()
	cfg.State.MaxEntries = maxEntries
	p, sink := newTraces(t, cfg, clock, metadatatest.NewSettings(tel))

	// One batch reused, its job ids rewritten for each round, like a
	// receiver's buffers; the sink keeps nothing.
	runs := make([]sidekiqRun, batchSize)
	for i := range runs {
		runs[i] = sidekiqRun{jid: "x", class: "SendEmailJob", failed: true, end: testStart}
	}
	td := sidekiqBatch(runs...)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()

	var heapAfterFirst uint64
	for round := range jobs / batchSize {
		for i := range spans.Len() {
			spans.At(i).Attributes().PutStr("messaging.message_id", "0a1b2c3d4e5f6071"+strconv.Itoa(round*batchSize+i))
		}
		require.NoError(t, p.ConsumeTraces(context.Background(), td))
		sink.Reset()
		if round == 0 {
			heapAfterFirst = heapInUse()
		}
	}
	heapAfterAll := heapInUse()

	tracked := gauge(t, tel, "otelcol_processor_job_retry_tracked_jobs")
	memory := gauge(t, tel, "otelcol_processor_job_retry_state_memory")
	evictions := gauge(t, tel, "otelcol_processor_job_retry_state_evictions")
	assert.Equal(t, int64(maxEntries), tracked)
	assert.Equal(t, int64(jobs-maxEntries), evictions)
	assert.LessOrEqual(t, memory, int64(150*maxEntries), "<= 150 B per tracked job (%d B)", memory/tracked)
	t.Logf("tracked %d jobs in %d B (%d B/job); heap after the first batch %d KiB, after 1M jobs %d KiB",
		tracked, memory, memory/tracked, heapAfterFirst>>10, heapAfterAll>>10)
	// The first batch already filled the store; 990,000 more jobs must not
	// grow the heap by more than noise.
	assert.Less(t, int64(heapAfterAll)-int64(heapAfterFirst), int64(2<<20))
}
