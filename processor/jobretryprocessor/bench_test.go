// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"context"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/metadatatest"
)

// BenchmarkJobRetry runs the job_retry processor and its yardsticks on the
// same 10,000-span batches built from the real captures (docs/benchmarks.md):
//
//	mixed       1 span in 10 a job execution, the rest HTTP client spans
//	jobs        every span a job execution, with its attempt number
//	jobs_by_id  the same without attempt numbers: counted by job id
//
// Before each run (untimed) the batch gets new job ids and span ids, as a
// collector sees new jobs in every batch, and is decoded afresh from its protobuf form, as
// a receiver hands it over: the annotation then grows each job span's
// attributes as it does in a pipeline. The captures are retry-heavy: 3 of
// the 165 jobs of each copy loop past 3 retries, so every run also raises
// alerts (jobs: 217 a batch).
//
// Yardsticks: floor (a loop that only reads the job attributes), extract
// (the shared jobevent extractor alone, the processor's first step),
// map_counter (floor + a run counter per job in a Go map) and contrib's
// span_metrics connector.
func BenchmarkJobRetry(b *testing.B) {
	byID := jobbenchtest.JobBatch(b, jobbenchtest.BatchSize)
	jobbenchtest.WithoutAttempts(byID)
	batches := []struct {
		name string
		td   ptrace.Traces
	}{
		{"mixed", jobbenchtest.MixedBatch(b, jobbenchtest.BatchSize, 10)},
		{"jobs", jobbenchtest.JobBatch(b, jobbenchtest.BatchSize)},
		{"jobs_by_id", byID},
	}
	for _, bt := range batches {
		renumber := jobbenchtest.NewRenumberer(bt.td)
		var td ptrace.Traces // this run's batch
		var spans uint64
		next := func() {
			renumber.Next()
			// New executions have new span ids, which a shared store
			// marks to count each once.
			jobbenchtest.ForEachSpan(bt.td, func(span ptrace.Span) {
				spans++
				span.SetSpanID(pcommon.SpanID(binary.BigEndian.AppendUint64(nil, spans)))
			})
			body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(bt.td)
			require.NoError(b, err)
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
			require.NoError(b, err)
		}
		run := func(b *testing.B, op func()) {
			jobbenchtest.PerSpanWithSetup(b, jobbenchtest.BatchSize, next, op)
		}
		b.Run(bt.name+"/floor", func(b *testing.B) {
			run(b, func() { jobbenchtest.Floor(td) })
		})
		b.Run(bt.name+"/extract", func(b *testing.B) {
			x, err := jobevent.NewExtractor(jobevent.Config{})
			require.NoError(b, err)
			run(b, func() { jobbenchtest.Extract(x, td) })
		})
		b.Run(bt.name+"/map_counter", func(b *testing.B) {
			c := jobbenchtest.NewMapCounter(statestore.NewDefaultConfig().MaxEntries)
			run(b, func() { c.Count(td) })
		})
		b.Run(bt.name+"/span_metrics", func(b *testing.B) {
			sm := jobbenchtest.NewSpanMetrics(b)
			run(b, func() { _ = sm.ConsumeTraces(context.Background(), td) })
		})
		b.Run(bt.name+"/job_retry_memory", func(b *testing.B) {
			tel := benchTelemetry(b)
			p := newNopTraces(b, NewDefaultConfig(), metadatatest.NewSettings(tel))
			run(b, func() {
				if err := p.ConsumeTraces(context.Background(), td); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(len(spanAlerts([]ptrace.Traces{td}))), "alerts/batch")
			requireAlerted(b, tel, true)
		})
		b.Run(bt.name+"/job_retry_memory_no_alerts", func(b *testing.B) {
			cfg := NewDefaultConfig()
			cfg.MaxRetries = 1000
			tel := benchTelemetry(b)
			p := newNopTraces(b, cfg, metadatatest.NewSettings(tel))
			run(b, func() {
				if err := p.ConsumeTraces(context.Background(), td); err != nil {
					b.Fatal(err)
				}
			})
			requireAlerted(b, tel, false)
		})
		b.Run(bt.name+"/job_retry_redis", func(b *testing.B) {
			tel := benchTelemetry(b)
			p, counter := newRedisBench(b, metadatatest.NewSettings(tel))
			run(b, func() { _, _ = p.processTraces(context.Background(), td) })
			b.ReportMetric(float64(counter.RoundTrips())/float64(b.N), "roundtrips/batch")
			requireAlerted(b, tel, true)
		})
	}
}

// newNopTraces is the processor made by the factory, feeding a consumer
// that keeps nothing.
func newNopTraces(b *testing.B, cfg *Config, set processor.Settings) processor.Traces {
	p, err := NewFactory().CreateTraces(context.Background(), set, cfg, consumertest.NewNop())
	require.NoError(b, err)
	start(b, p)
	return p
}

func benchTelemetry(b *testing.B) *componenttest.Telemetry {
	tel := componenttest.NewTelemetry()
	b.Cleanup(func() { require.NoError(b, tel.Shutdown(context.Background())) })
	return tel
}

// requireAlerted fails a benchmark that timed a no-op: a run whose state
// operations failed (the processor passes the data on regardless), or,
// with want, a run of batches that raised no alert although each must
// (the captures' retry loops; new job ids every run), or without want, one
// that raised some.
func requireAlerted(b *testing.B, tel *componenttest.Telemetry, want bool) {
	b.Helper()
	if n := sumOf(b, tel, "otelcol_processor_job_retry_state_errors"); n > 0 {
		b.Fatalf("%d batches failed in the state store", n)
	}
	switch n := sumOf(b, tel, "otelcol_processor_job_retry_alerts"); {
	case want && n < int64(b.N):
		b.Fatalf("%d alerts in %d batches that each raise some", n, b.N)
	case !want && n > 0:
		b.Fatalf("%d alerts where none may fire", n)
	}
}

// sumOf adds up the data points of a counter; 0 when it never counted.
func sumOf(b *testing.B, tel *componenttest.Telemetry, name string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0 // not recorded
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// newRedisBench is the processor over a real Redis store whose client counts
// round trips.
func newRedisBench(b *testing.B, set processor.Settings) (*retryProcessor, *redisclient.Counter) {
	srv := redistest.Start(b)
	cfg := redisConfig(srv)
	client, err := cfg.State.Redis.NewClient(context.Background(), cfg.State.Redis.Timeout)
	require.NoError(b, err)
	counter := new(redisclient.Counter)
	client.AddHook(counter)
	p, err := newRetryProcessorWithStore(set, cfg, clockwork.NewRealClock(),
		statestore.NewRedis(client, cfg.State.Redis.KeyPrefix, cfg.State.Redis.Timeout), nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, p.shutdown(context.Background())) })
	return p, counter
}

// BenchmarkBytesPerTrackedJob fills the memory store through the processor
// with a million failing jobs counted by id (a job that succeeds is not
// held) and reports the heap the processor's state holds per tracked job,
// measured (the heap freed when the processor goes), next to the store's
// own estimate.
func BenchmarkBytesPerTrackedJob(b *testing.B) {
	const jobs = 1_000_000
	td := jobbenchtest.FailedBatch(b, jobbenchtest.BatchSize)
	jobbenchtest.WithoutAttempts(td)
	renumber := jobbenchtest.NewRenumberer(td)
	for range b.N {
		cfg := NewDefaultConfig()
		cfg.State.MaxEntries = jobs
		clock := clockwork.NewFakeClockAt(time.Now())
		store := statestore.NewMemory(cfg.State.MaxEntries, statestore.WithClock(clock))
		p, err := newRetryProcessorWithStore(processortest.NewNopSettings(metadata.Type), cfg, clock, store, nil)
		require.NoError(b, err)
		for store.Stats().Entries < jobs {
			renumber.Next()
			_, _ = p.processTraces(context.Background(), td)
		}
		st := store.Stats()
		withState := heapInUse()
		require.NoError(b, p.shutdown(context.Background()))
		p, store = nil, nil //nolint:ineffassign,wastedassign // drop the state before measuring the heap without it
		b.ReportMetric(float64(withState-heapInUse())/float64(st.Entries), "B/job")
		b.ReportMetric(float64(st.Bytes)/float64(st.Entries), "est_B/job")
	}
	runtime.KeepAlive(td)
}
