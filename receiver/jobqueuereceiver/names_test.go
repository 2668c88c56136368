// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadatatest"
)

// maxLabel is the longest name a metric attribute or alert label may carry
// (snapshot.MaxNameLen, spelled out: this is the documented contract).
const maxLabel = 255

// assertLabels checks every string attribute in attrs.
func assertLabels(t *testing.T, where string, attrs pcommon.Map) {
	t.Helper()
	for k, v := range attrs.All() {
		if v.Type() != pcommon.ValueTypeStr {
			continue
		}
		s := v.Str()
		assert.LessOrEqual(t, len(s), maxLabel, "%s %s: %.40q...", where, k, s)
		assert.True(t, utf8.ValidString(s), "%s %s: %.40q...", where, k, s)
	}
}

// TestHostileNamesStayBounded puts a 1 MB queue name, a queue name that is
// not UTF-8, a process with a 1 MB hostname (so a 1 MB identity) running a
// job from the long queue, and a retry entry whose class is 1 MB into a real
// Redis: one scrape stays small, every metric attribute and alert label is at
// most 255 bytes of valid UTF-8, and each shortened or repaired name is
// counted in the bad-data telemetry by kind.
func TestHostileNamesStayBounded(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now()

	huge := strings.Repeat("q", 1<<20)
	latin1 := "caf\xe9"
	d := newSidekiqData(t, c)
	d.push(huge, now.Add(-time.Minute))
	d.push(latin1, now.Add(-time.Minute))
	d.push("default", now.Add(-time.Minute))
	d.process(sidekiqProcess{host: strings.Repeat("h", 1<<20), pid: 1, concurrency: 5, busy: 1, rssKB: 1 << 20, beat: now,
		running: map[string][]time.Time{huge: {now.Add(-10 * time.Minute)}}})
	d.pipe.ZAdd(ctx, "retry", redis.Z{Score: 1, Member: `{"class":"` + strings.Repeat("C", 1<<20) + `","error_class":"E"}`})
	d.flush()

	cfg := configFor(srv.Addr())
	cfg.Metrics.JobqueueJobsByClass.Enabled = true
	require.NoError(t, confmapUnmarshal(cfg, map[string]any{"alerts": map[string]any{
		"queue_latency_high":  map[string]any{"threshold": "1s"},
		"process_memory_high": map[string]any{"threshold": "1MiB"},
	}}))
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	alerts := new(consumertest.LogsSink)
	s, err := newScraper(cfg, metadatatest.NewSettings(tel), func(ctx context.Context) (*Snapshotter, error) {
		return NewSnapshotter(ctx, cfg)
	}, alerts)
	require.NoError(t, err)
	require.NoError(t, s.start(ctx, componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })

	md, err := s.scrape(ctx)
	require.NoError(t, err, "hostile names are bad data, not a failed scrape")

	size := (&pmetric.ProtoMarshaler{}).MetricsSize(md)
	t.Logf("one scrape: %d bytes of metrics", size)
	assert.Less(t, size, 64<<10, "one scrape's metrics in bytes")
	rms := md.ResourceMetrics()
	for i := range rms.Len() {
		sms := rms.At(i).ScopeMetrics()
		for j := range sms.Len() {
			ms := sms.At(j).Metrics()
			for k := range ms.Len() {
				m := ms.At(k)
				dps := dataPoints(m)
				for l := range dps.Len() {
					assertLabels(t, m.Name(), dps.At(l).Attributes())
				}
			}
		}
	}
	queues := points(t, md, "jobqueue.queue.size", "messaging.destination.name")
	assert.Len(t, queues, 3, "every queue is reported: %d", len(queues))
	assert.Contains(t, queues, "caf\uFFFD")
	stalled := points(t, md, "jobqueue.jobs.stalled", "messaging.destination.name")
	var longStalled float64
	for name, n := range stalled {
		if strings.HasPrefix(name, "qqq") {
			longStalled = n
		}
	}
	assert.Equal(t, float64(1), longStalled, "the long queue's in-flight job is still counted")

	var records int
	for _, logs := range alerts.AllLogs() {
		rls := logs.ResourceLogs()
		for i := range rls.Len() {
			sls := rls.At(i).ScopeLogs()
			for j := range sls.Len() {
				lrs := sls.At(j).LogRecords()
				for k := range lrs.Len() {
					records++
					assertLabels(t, "alert", lrs.At(k).Attributes())
					assert.Less(t, plogSize(lrs.At(k)), 2<<10, "one alert record in bytes")
				}
			}
		}
	}
	assert.Equal(t, 3+1+1, records, "latency of each queue, the long queue's stalled job, the process's memory")

	// Shortened: the queue, the identity, the hostname, the class.
	// Repaired: the Latin-1 queue.
	metadatatest.AssertEqualReceiverJobQueueBadDataSkipped(t, tel, []metricdata.DataPoint[int64]{
		{Value: 4, Attributes: attribute.NewSet(attribute.String("kind", "name_too_long"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("kind", "invalid_utf8"))},
	}, metricdatatest.IgnoreTimestamp())
}

// plogSize is the encoded size of one log record.
func plogSize(lr plog.LogRecord) int {
	logs := plog.NewLogs()
	lr.CopyTo(logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty())
	return (&plog.ProtoMarshaler{}).LogsSize(logs)
}
