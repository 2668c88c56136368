// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadatatest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden from the current output")

// fakeReader returns a copy of snap (or err) on every call.
type fakeReader struct {
	snap *snapshot.Snapshot
	err  error
}

func (f *fakeReader) Snapshot(context.Context) (*snapshot.Snapshot, error) {
	if f.err != nil {
		return nil, f.err
	}
	c := *f.snap
	return &c, nil
}

var snapTime = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// sidekiqSnapshot is what a Sidekiq reader reports: every count global.
func sidekiqSnapshot() *snapshot.Snapshot {
	return &snapshot.Snapshot{
		System: "sidekiq",
		Time:   snapTime,
		Queues: []snapshot.Queue{
			{Name: "critical", Size: 3, Latency: 1500 * time.Millisecond, Running: 1, RunningMaxAge: 20 * time.Second},
			{Name: "default", Size: 120, Latency: 412 * time.Second, Running: 4, RunningMaxAge: 7 * time.Minute, Stalled: 2},
			{Name: "low"},
		},
		QueuesDiscovered: 4,
		QueuesDropped:    1,
		Jobs: []snapshot.StateCount{
			{State: snapshot.StateScheduled, Count: 7},
			{State: snapshot.StateRetry, Count: 12},
			{State: snapshot.StateDead, Count: 3},
			{State: snapshot.StateBusy, Count: 5},
		},
		Totals:         []snapshot.Totals{{Processed: 10432, Failed: 211}},
		ProcessesStale: 1,
		Processes: []snapshot.Process{
			{
				ID: "web-1:101:0a1b2c3d4e5f", Hostname: "web-1", PID: 101, Busy: 3, Concurrency: 10,
				MemoryBytes: 157286400, MemoryKnown: true, HeartbeatAge: 2 * time.Second,
			},
			{
				ID: "web-2:202:ffeeddccbbaa", Hostname: "web-2", PID: 202, Busy: 2, Concurrency: 5,
				HeartbeatAge: 7500 * time.Millisecond, Quiet: true,
			},
		},
		ByClass: []snapshot.ClassCount{
			{State: snapshot.StateRetry, Class: "HardJob", ErrorType: "Net::ReadTimeout", Count: 9},
			{State: snapshot.StateDead, Class: "HardJob", ErrorType: "RuntimeError", Count: 3},
		},
	}
}

// perQueueSnapshot stands for a system that keeps counts per queue and can
// pause queues, so the optional queue attribute and paused are exercised.
func perQueueSnapshot() *snapshot.Snapshot {
	s := sidekiqSnapshot()
	s.System = "bullmq"
	s.Queues[0].PausedKnown, s.Queues[0].Paused = true, true
	s.Queues[1].PausedKnown = true
	s.Jobs = []snapshot.StateCount{
		{State: snapshot.StateDelayed, Queue: "critical", Count: 4},
		{State: snapshot.StateFailed, Queue: "default", Count: 9},
		{State: snapshot.StateActive, Count: 6},
	}
	s.Totals = []snapshot.Totals{{Queue: "critical", Processed: 50, Failed: 1}, {Queue: "default", Processed: 900, Failed: 30}}
	return s
}

func newTestScraper(t *testing.T, cfg *Config, set receiver.Settings, r snapshot.Reader) *jobQueueScraper {
	t.Helper()
	s, err := newScraper(cfg, set, func(context.Context) (*Snapshotter, error) {
		return newSnapshotterWithReader(r, cfg.Timeout), nil
	}, nil)
	require.NoError(t, err)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	return s
}

func sidekiqConfig() *Config {
	cfg := NewDefaultConfig()
	cfg.System = SystemSidekiq
	cfg.Endpoint = "redis.internal:6380"
	return cfg
}

func TestScrapeGolden(t *testing.T) {
	all := sidekiqConfig()
	all.Namespace = "myapp"
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"metrics": map[string]any{"jobqueue.jobs.by_class": map[string]any{"enabled": true}},
	}).Unmarshal(&all.MetricsBuilderConfig))

	tests := []struct {
		name   string
		cfg    *Config
		snap   *snapshot.Snapshot
		golden string
	}{
		{"sidekiq defaults", sidekiqConfig(), sidekiqSnapshot(), "sidekiq_default.yaml"},
		{"sidekiq every metric and a namespace", all, sidekiqSnapshot(), "sidekiq_all.yaml"},
		{"per-queue counts and pausing", sidekiqConfig(), perQueueSnapshot(), "per_queue.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestScraper(t, tt.cfg, receivertest.NewNopSettings(metadata.Type), &fakeReader{snap: tt.snap})
			actual, err := s.scrape(context.Background())
			require.NoError(t, err)

			m := actual.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
			assert.Equal(t, pcommon.NewTimestampFromTime(snapTime), dataPoints(m).At(0).Timestamp(),
				"points carry the snapshot's time, not the time of conversion")

			path := filepath.Join("testdata", "golden", tt.golden)
			if *update {
				require.NoError(t, golden.WriteMetricsToFile(path, actual))
			}
			expected, err := golden.ReadMetrics(path)
			require.NoError(t, err)
			require.NoError(t, pmetrictest.CompareMetrics(expected, actual,
				pmetrictest.IgnoreTimestamp(), pmetrictest.IgnoreStartTimestamp(),
				pmetrictest.IgnoreMetricDataPointsOrder()))
		})
	}
}

func dataPoints(m pmetric.Metric) pmetric.NumberDataPointSlice {
	if m.Type() == pmetric.MetricTypeSum {
		return m.Sum().DataPoints()
	}
	return m.Gauge().DataPoints()
}

// lookupMetric finds a metric by name anywhere in md.
func lookupMetric(md pmetric.Metrics, name string) (pmetric.Metric, bool) {
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				if ms.At(k).Name() == name {
					return ms.At(k), true
				}
			}
		}
	}
	return pmetric.Metric{}, false
}

func findMetric(t *testing.T, md pmetric.Metrics, name string) pmetric.Metric {
	t.Helper()
	m, ok := lookupMetric(md, name)
	require.True(t, ok, "metric %s not found", name)
	return m
}

// TestScrapeLatencyUnknown: a queue of a system whose jobs carry no enqueue
// time (Celery, Resque) has no latency point, not a latency of 0.
func TestScrapeLatencyUnknown(t *testing.T) {
	snap := sidekiqSnapshot()
	snap.System = "resque"
	snap.Queues[1].Latency, snap.Queues[1].LatencyUnknown = 0, true
	s := newTestScraper(t, sidekiqConfig(), receivertest.NewNopSettings(metadata.Type), &fakeReader{snap: snap})
	md, err := s.scrape(context.Background())
	require.NoError(t, err)

	points := dataPoints(findMetric(t, md, "jobqueue.queue.latency"))
	var queues []string
	for i := range points.Len() {
		q, _ := points.At(i).Attributes().Get("messaging.destination.name")
		queues = append(queues, q.Str())
	}
	assert.ElementsMatch(t, []string{"critical", "low"}, queues)
	assert.Equal(t, 3, dataPoints(findMetric(t, md, "jobqueue.queue.size")).Len(), "the queue's other figures stay")
}

// TestScrapeProcessesUnknown: a system that registers no workers in Redis
// (Celery) reports no process or worker metric, not 0 processes.
func TestScrapeProcessesUnknown(t *testing.T) {
	snap := sidekiqSnapshot()
	snap.System, snap.Processes, snap.ProcessesUnknown = "celery", nil, true
	s := newTestScraper(t, sidekiqConfig(), receivertest.NewNopSettings(metadata.Type), &fakeReader{snap: snap})
	md, err := s.scrape(context.Background())
	require.NoError(t, err)

	metrics := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := range metrics.Len() {
		name := metrics.At(i).Name()
		assert.False(t, strings.HasPrefix(name, "jobqueue.process") || strings.HasPrefix(name, "jobqueue.workers."), "%s reported", name)
	}
	assert.Equal(t, 3, dataPoints(findMetric(t, md, "jobqueue.queue.size")).Len(), "the other figures stay")
}

func TestCumulativeStartTime(t *testing.T) {
	r := &fakeReader{snap: sidekiqSnapshot()}
	s := newTestScraper(t, sidekiqConfig(), receivertest.NewNopSettings(metadata.Type), r)
	startOf := func() pcommon.Timestamp {
		md, err := s.scrape(context.Background())
		require.NoError(t, err)
		return dataPoints(findMetric(t, md, "jobqueue.jobs.processed")).At(0).StartTimestamp()
	}

	first := startOf()
	assert.Equal(t, pcommon.NewTimestampFromTime(snapTime), first, "the sums start at the first snapshot")

	r.snap.Time = snapTime.Add(time.Minute)
	r.snap.Totals = []snapshot.Totals{{Processed: 10500, Failed: 215}}
	assert.Equal(t, first, startOf(), "growing totals keep their start")

	r.snap.Time = snapTime.Add(2 * time.Minute)
	r.snap.Totals = []snapshot.Totals{{Processed: 3, Failed: 0}}
	assert.Equal(t, pcommon.NewTimestampFromTime(r.snap.Time), startOf(), "totals that went down were reset: a new start")
}

func TestScrapeError(t *testing.T) {
	s := newTestScraper(t, sidekiqConfig(), receivertest.NewNopSettings(metadata.Type),
		&fakeReader{err: errors.New("sidekiq: read registries from 127.0.0.1:6379: connection refused")})
	md, err := s.scrape(context.Background())
	require.ErrorContains(t, err, "connection refused")
	assert.Equal(t, 0, md.DataPointCount())
}

func TestScrapeBeforeStart(t *testing.T) {
	s, err := newScraper(sidekiqConfig(), receivertest.NewNopSettings(metadata.Type), nil, nil)
	require.NoError(t, err)
	_, err = s.scrape(context.Background())
	require.ErrorContains(t, err, "before start")
	require.NoError(t, s.shutdown(context.Background()), "shutdown without start is fine")
	require.NoError(t, s.shutdown(context.Background()), "and idempotent")
}

func TestProblemsLoggedOnceAndCounted(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(tel)
	set.Logger = zap.New(core)

	snap := sidekiqSnapshot()
	snap.Problems = []snapshot.Problem{
		{Kind: "invalid_json", Key: "queue:default", Detail: "oldest job is not JSON"},
		{Kind: "invalid_json", Key: "queue:low", Detail: "oldest job is not JSON"},
		{Kind: "wrong_type", Key: "queue:broken", Detail: "WRONGTYPE: hash, want list"},
	}
	s := newTestScraper(t, sidekiqConfig(), set, &fakeReader{snap: snap})
	for range 3 {
		md, err := s.scrape(context.Background())
		require.NoError(t, err, "bad data is never a scrape error")
		assert.Positive(t, md.DataPointCount(), "good data of the same scrape is reported")
	}

	warned := logs.FilterMessageSnippet("Skipped bad data").All()
	require.Len(t, warned, 3, "one line per (kind, key), however many scrapes see it")
	assert.Equal(t, map[string]any{"kind": "wrong_type", "key": "queue:broken", "detail": "WRONGTYPE: hash, want list"},
		warned[2].ContextMap())

	metadatatest.AssertEqualReceiverJobQueueBadDataSkipped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 6, Attributes: attribute.NewSet(attribute.String("kind", "invalid_json"))},
		{Value: 3, Attributes: attribute.NewSet(attribute.String("kind", "wrong_type"))},
	}, metricdatatest.IgnoreTimestamp())
}

func TestProblemLogMemoryIsBounded(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	snap := sidekiqSnapshot()
	snap.Problems = make([]snapshot.Problem, maxLoggedProblems+10)
	for i := range snap.Problems {
		snap.Problems[i] = snapshot.Problem{Kind: "invalid_json", Key: "queue:q" + strconv.Itoa(i)}
	}
	s := newTestScraper(t, sidekiqConfig(), set, &fakeReader{snap: snap})
	_, err := s.scrape(context.Background())
	require.NoError(t, err)
	assert.Equal(t, maxLoggedProblems, s.loggedProblems.Len(), "the memory of logged problems stops growing at its bound")
	assert.Equal(t, maxLoggedProblems+10, logs.Len(), "each new problem was still logged once")
}

// BenchmarkMetrics measures the snapshot-to-metrics conversion of one scrape
// of a large installation: 500 queues and 200 processes.
func BenchmarkMetrics(b *testing.B) {
	snap := sidekiqSnapshot()
	snap.Queues = make([]snapshot.Queue, 500)
	for i := range snap.Queues {
		snap.Queues[i] = snapshot.Queue{Name: "queue_" + strconv.Itoa(i), Size: int64(i), Latency: time.Duration(i) * time.Second}
	}
	snap.Processes = make([]snapshot.Process, 200)
	for i := range snap.Processes {
		host := "worker-" + strconv.Itoa(i)
		snap.Processes[i] = snapshot.Process{ID: host + ":1:0123456789ab", Hostname: host, PID: int64(1000 + i),
			Busy: 3, Concurrency: 10, MemoryBytes: 1 << 28, MemoryKnown: true, HeartbeatAge: time.Second}
	}
	s, err := newScraper(sidekiqConfig(), receivertest.NewNopSettings(metadata.Type), nil, nil)
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, s.shutdown(context.Background())) })
	b.ReportAllocs()
	for b.Loop() {
		md := s.metrics(snap)
		if md.DataPointCount() == 0 {
			b.Fatal("no data points")
		}
	}
	b.ReportMetric(float64(s.metrics(snap).DataPointCount()), "points/op")
}
