// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// fakeClock is the reader's clock, moved by the test while the controller's
// goroutine reads it.
type fakeClock struct{ nanos atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.set(t)
	return c
}

func (c *fakeClock) set(t time.Time)       { c.nanos.Store(t.UnixNano()) }
func (c *fakeClock) now() time.Time        { return time.Unix(0, c.nanos.Load()) }
func (c *fakeClock) get() func() time.Time { return c.now }

// alertRecord is what the tests compare of an alert log record.
type alertRecord struct {
	name, state, severity, body, queue string
}

// newAlerts returns the alert records consumed since the last call.
func (r *testReceiver) newAlerts(t *testing.T, seen *int) []alertRecord {
	t.Helper()
	all := r.alerts.AllLogs()
	var out []alertRecord
	for _, logs := range all[*seen:] {
		rls := logs.ResourceLogs()
		for i := range rls.Len() {
			sls := rls.At(i).ScopeLogs()
			for j := range sls.Len() {
				lrs := sls.At(j).LogRecords()
				for k := range lrs.Len() {
					lr := lrs.At(k)
					require.Equal(t, "jobqueue.alert", lr.EventName())
					attrs := lr.Attributes()
					get := func(key string) string {
						if v, ok := attrs.Get(key); ok {
							return v.AsString()
						}
						return ""
					}
					out = append(out, alertRecord{get("alert.name"), get("alert.state"), lr.SeverityText(), lr.Body().Str(), get("messaging.destination.name")})
				}
			}
		}
	}
	*seen = len(all)
	return out
}

// TestAlertsOverRealRedis drives the receiver through threshold crossings
// and back on a real redis-server holding Sidekiq-shaped state, with a clock
// the test moves, and checks every record: firing once, repeated after the
// cool-down, escalated, resolved with hysteresis, per-queue overrides, and
// nothing at all while Redis is down.
func TestAlertsOverRealRedis(t *testing.T) {
	srv := redistest.Start(t)
	t0 := time.Now().Truncate(time.Second)
	clock := newFakeClock(t0)

	process := sidekiqProcess{host: "web-1", pid: 101, concurrency: 5, rssKB: 50 * 1024, beat: t0.Add(-2 * time.Second)}
	var deadJobs int
	// write puts the whole state into a (possibly fresh) server: queues
	// whose ages are fixed against t0, the process checking in 2 s before
	// the clock, and the dead set.
	write := func(c *redis.Client, bulk int, stale bool) {
		d := newSidekiqData(t, c)
		d.push("critical", t0.Add(-10*time.Second))
		d.push("default", t0.Add(-time.Minute))
		d.push("low", t0.Add(-40*time.Minute))
		bulkJobs := make([]time.Time, bulk)
		for i := range bulkJobs {
			bulkJobs[i] = t0.Add(-time.Second) // old, but its latency alert is off
		}
		d.push("bulk", bulkJobs...)
		d.stats(100, 3)
		process.beat = clock.now().Add(-2 * time.Second)
		d.process(process)
		if stale {
			d.pipe.SAdd(context.Background(), "processes", "gone:9:000000000000")
		}
		if deadJobs > 0 {
			d.sorted("dead", deadJobs, t0)
		}
		d.flush()
	}
	admin := srv.Client(t)
	write(admin, 2, false)

	cfg := configFor(srv.Addr())
	require.NoError(t, confmapUnmarshal(cfg, map[string]any{"alerts": map[string]any{
		"cool_down": "10m",
		"queue_latency_high": map[string]any{
			"threshold": "5m",
			"escalate":  []any{map[string]any{"threshold": "15m", "severity": "error"}},
			"overrides": []any{
				map[string]any{"queues": []any{map[string]any{"strict": "critical"}}, "threshold": "30s", "severity": "fatal"},
				map[string]any{"queues": []any{map[string]any{"regexp": "^low"}}, "threshold": "1h"},
				map[string]any{"queues": []any{map[string]any{"strict": "bulk"}}, "enabled": false},
			},
		},
		"queue_size_large":    map[string]any{"threshold": 3},
		"process_memory_high": map[string]any{"threshold": "100MiB"},
		"dead_jobs_growing":   map[string]any{"threshold": 2, "window": "10m"},
	}}))
	r := startReceiverAt(t, cfg, clock.get())
	seen := 0
	step := func(at time.Duration, change func()) ([]alertRecord, error) {
		t.Helper()
		clock.set(t0.Add(at))
		if change != nil {
			change()
		}
		_, err := r.scrape(t)
		return r.newAlerts(t, &seen), err
	}
	rebeat := func(rssMiB int64) func() {
		return func() {
			process.rssKB = rssMiB * 1024
			process.beat = clock.now().Add(-2 * time.Second)
			d := newSidekiqData(t, admin)
			d.process(process)
			d.flush()
		}
	}

	md, err := r.last(t)
	require.NoError(t, err)
	require.True(t, hasMetric(md, "jobqueue.queue.latency"))
	assert.Empty(t, r.newAlerts(t, &seen), "nothing is above a threshold at the start")

	got, err := step(5*time.Minute, rebeat(50))
	require.NoError(t, err)
	assert.ElementsMatch(t, []alertRecord{
		{"queue_latency_high", "firing", "FATAL", "queue critical latency 310s > 30s", "critical"}, // its override
		{"queue_latency_high", "firing", "WARN", "queue default latency 360s > 300s", "default"},
	}, got, "low (2700s) is under its own 1h threshold; bulk (301s) is not evaluated")

	got, err = step(6*time.Minute, func() {
		rebeat(200)()
		ctx := context.Background()
		d := newSidekiqData(t, admin)
		d.push("bulk", t0, t0)
		d.sorted("dead", 3, t0)
		d.pipe.SAdd(ctx, "processes", "gone:9:000000000000")
		d.flush()
		deadJobs = 3
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []alertRecord{
		{"queue_size_large", "firing", "WARN", "queue bulk size 4 > 3", "bulk"},
		{"process_memory_high", "firing", "WARN", "process " + process.identity() + " memory 200MiB > 100MiB", ""},
		{"process_heartbeat_missing", "firing", "ERROR",
			"process registry processes that stopped checking in 1 > 0 (heartbeat expired, still registered)", ""},
		{"dead_jobs_growing", "firing", "WARN", "dead jobs growth 3 > 2 within 10m0s", ""},
	}, got, "the latency alerts fired once and stay quiet")

	// Redis goes away long enough for everything to repeat or escalate:
	// failed scrapes decide nothing.
	srv.Stop()
	for _, at := range []time.Duration{20 * time.Minute, 30 * time.Minute} {
		got, err = step(at, nil)
		require.Error(t, err)
		assert.Empty(t, got, "a failed scrape neither fires nor resolves")
	}

	// Back, with the same state, at 15m30s: the default queue escalates,
	// critical repeats after its cool-down (10m since 5m), the rest is
	// still within its cool-down; the dead set has not grown within the
	// last 10 minutes.
	srv.Restart()
	admin = srv.Client(t)
	clock.set(t0.Add(15*time.Minute + 30*time.Second))
	write(admin, 4, true)
	got, err = step(15*time.Minute+30*time.Second, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []alertRecord{
		{"queue_latency_high", "firing", "ERROR", "queue default latency 990s > 900s", "default"},
		{"queue_latency_high", "firing", "FATAL", "queue critical latency 940s > 30s", "critical"},
		{"dead_jobs_growing", "resolved", "WARN", "dead jobs growth 0 <= 1 within 10m0s", ""},
	}, got)

	got, err = step(16*time.Minute, func() {
		rebeat(50)()
		require.NoError(t, admin.Del(context.Background(), "queue:default", "queue:critical").Err())
		require.NoError(t, admin.SRem(context.Background(), "processes", "gone:9:000000000000").Err())
	})
	require.NoError(t, err)
	assert.ElementsMatch(t, []alertRecord{
		{"queue_size_large", "firing", "WARN", "queue bulk size 4 > 3", "bulk"}, // 10m since it fired: repeated
		{"queue_latency_high", "resolved", "ERROR", "queue default latency 0s <= 270s", "default"},
		{"queue_latency_high", "resolved", "FATAL", "queue critical latency 0s <= 27s", "critical"},
		{"process_memory_high", "resolved", "WARN", "process " + process.identity() + " memory 50MiB <= 90MiB", ""},
		{"process_heartbeat_missing", "resolved", "ERROR",
			"process registry processes that stopped checking in 0 <= 0 (heartbeat expired, still registered)", ""},
	}, got)

	got, err = step(17*time.Minute, func() {
		rebeat(50)()
		require.NoError(t, admin.SRem(context.Background(), "queues", "bulk").Err())
	})
	require.NoError(t, err)
	assert.Equal(t, []alertRecord{{"queue_size_large", "resolved", "WARN", "queue bulk is gone (last size 4)", "bulk"}}, got)

	got, err = step(18*time.Minute, rebeat(50))
	require.NoError(t, err)
	assert.Empty(t, got, "resolved once")
}

// TestAlertRecordsShareTheScrape checks what a logs pipeline receives: the
// receiver's resource, the snapshot's time, and the same scrape as the
// metrics.
func TestAlertRecordsShareTheScrape(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now()
	d := newSidekiqData(t, srv.Client(t))
	d.push("default", now.Add(-10*time.Minute))
	d.flush()
	r := startReceiver(t, configFor(srv.Addr()))

	md, err := r.last(t)
	require.NoError(t, err)
	require.Len(t, r.alerts.AllLogs(), 1)
	logs := r.alerts.AllLogs()[0]
	require.Equal(t, 1, logs.LogRecordCount())
	rl := logs.ResourceLogs().At(0)
	assert.Equal(t, md.ResourceMetrics().At(0).Resource().Attributes().AsRaw(), rl.Resource().Attributes().AsRaw(),
		"records describe the same job system as the metrics")
	assert.Equal(t, metadata.ScopeName, rl.ScopeLogs().At(0).Scope().Name())
	lr := rl.ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, snapshotTime(t, md), lr.Timestamp().AsTime(), "the record is of the scrape's snapshot")
	assert.Equal(t, plog.SeverityNumberWarn, lr.SeverityNumber())
	id, _ := lr.Attributes().Get("alert.id")
	assert.Len(t, id.Str(), 16)
}

// countingReader counts snapshots.
type countingReader struct {
	fakeReader
	mu sync.Mutex
	n  int
}

func (c *countingReader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return c.fakeReader.Snapshot(ctx)
}

func (c *countingReader) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestOneScrapeFeedsBothSignals: a job_queue/<name> in a metrics and a logs
// pipeline is one receiver; each tick takes one snapshot, which becomes both
// the metrics and the alert records.
func TestOneScrapeFeedsBothSignals(t *testing.T) {
	cfg := sidekiqConfig()
	set := receivertest.NewNopSettings(metadata.Type)
	f := NewFactory()
	metrics, logs := new(consumertest.MetricsSink), new(consumertest.LogsSink)
	mr, err := f.CreateMetrics(context.Background(), set, cfg, metrics)
	require.NoError(t, err)
	lr, err := f.CreateLogs(context.Background(), set, cfg, logs)
	require.NoError(t, err)
	assert.Same(t, mr, lr, "one receiver per configuration")
	other, err := f.CreateLogs(context.Background(), set, sidekiqConfig(), logs)
	require.NoError(t, err)
	assert.NotSame(t, mr, other, "another configuration is another receiver")
	require.NoError(t, other.Shutdown(context.Background()))

	// The same wiring over a counting reader, with a ticker the test drives.
	reader := &countingReader{fakeReader: fakeReader{snap: sidekiqSnapshot()}}
	tick := make(chan time.Time)
	r := newReceiver(set, cfg, func(context.Context) (*Snapshotter, error) {
		return newSnapshotterWithReader(reader, cfg.Timeout), nil
	}, scraperhelper.WithTickerChannel(tick))
	r.metrics, r.logs = metrics, logs
	host := componenttest.NewNopHost()
	require.NoError(t, r.Start(context.Background(), host))
	require.NoError(t, r.Start(context.Background(), host), "each pipeline starts it; it starts once")
	for n := 1; n <= 3; n++ {
		require.Eventually(t, func() bool { return len(metrics.AllMetrics()) == n }, 10*time.Second, time.Millisecond)
		if n < 3 {
			tick <- time.Now()
		}
	}
	require.NoError(t, r.Shutdown(context.Background()))
	require.NoError(t, r.Shutdown(context.Background()), "and stops once")
	assert.Equal(t, 3, reader.count(), "three ticks, three snapshots for two signals")
	require.Len(t, logs.AllLogs(), 1, "the default snapshot's alerts fire once")

	// The factory's shared instance is released on shutdown.
	require.NoError(t, mr.Shutdown(context.Background()))
	receivers.mu.Lock()
	defer receivers.mu.Unlock()
	assert.Empty(t, receivers.byConfig)
}

// TestLogsOnlyPipeline: without a metrics pipeline the receiver still
// scrapes and alerts, and builds no metrics.
func TestLogsOnlyPipeline(t *testing.T) {
	cfg := sidekiqConfig()
	tick := make(chan time.Time)
	snap := sidekiqSnapshot()
	snap.Queues[1].Latency = time.Hour
	r := newReceiver(receivertest.NewNopSettings(metadata.Type), cfg, func(context.Context) (*Snapshotter, error) {
		return newSnapshotterWithReader(&fakeReader{snap: snap}, cfg.Timeout), nil
	}, scraperhelper.WithTickerChannel(tick))
	logs := new(consumertest.LogsSink)
	r.logs = logs
	require.NoError(t, r.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return logs.LogRecordCount() > 0 }, 10*time.Second, time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))
	var bodies []string
	for _, l := range logs.AllLogs() {
		lrs := l.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
		for i := range lrs.Len() {
			bodies = append(bodies, lrs.At(i).Body().Str())
		}
	}
	assert.Contains(t, bodies, "queue default latency 3600s > 300s")
}

// TestRefusedAlertRecordsDoNotFailTheScrape: a logs pipeline that refuses
// the records is logged; the metrics of the scrape still go out.
func TestRefusedAlertRecordsDoNotFailTheScrape(t *testing.T) {
	cfg := sidekiqConfig()
	snap := sidekiqSnapshot()
	core, observed := observer.New(zapcore.ErrorLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	s, err := newScraper(cfg, set, func(context.Context) (*Snapshotter, error) {
		return newSnapshotterWithReader(&fakeReader{snap: snap}, cfg.Timeout), nil
	}, consumertest.NewErr(assert.AnError))
	require.NoError(t, err)
	require.NoError(t, s.start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, s.shutdown(context.Background())) }()
	md, err := s.scrape(context.Background())
	require.NoError(t, err)
	assert.Positive(t, md.DataPointCount())
	refused := observed.FilterMessage("The logs pipeline refused alert records").All()
	require.Len(t, refused, 1)
	assert.Equal(t, int64(3), refused[0].ContextMap()["records"], "latency, stalled jobs and the stale process")
}

// TestDeadJobsGrowingPerSystem: on a real redis-server, the receiver's
// dead_jobs_growing watches each system's own state of jobs it gave up on
// (BullMQ's failed set, RQ's FailedJobRegistry), per queue.
func TestDeadJobsGrowingPerSystem(t *testing.T) {
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Second)
	tests := []struct {
		system string
		// fail adds n failed jobs numbered from first to queue emails.
		fail func(p redis.Pipeliner, first, n int)
		want string
	}{
		{SystemBullMQ, func(p redis.Pipeliner, first, n int) {
			p.HSet(ctx, "bull:emails:meta", "version", "bullmq:5.12.0")
			for i := first; i < first+n; i++ {
				p.ZAdd(ctx, "bull:emails:failed", redis.Z{Score: float64(t0.UnixMilli()), Member: i})
			}
		}, "queue emails failed jobs growth 3 > 2 within 10m0s"},
		{SystemRQ, func(p redis.Pipeliner, first, n int) {
			p.SAdd(ctx, "rq:queues", "rq:queue:emails")
			for i := first; i < first+n; i++ { // kept a year, as RQ's failure_ttl
				p.ZAdd(ctx, "rq:failed:emails", redis.Z{Score: float64(t0.AddDate(1, 0, 0).Unix()), Member: i})
			}
		}, "queue emails failed jobs growth 3 > 2 within 10m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.system, func(t *testing.T) {
			srv := redistest.Start(t)
			admin := srv.Client(t)
			fail := func(first, n int) {
				p := admin.Pipeline()
				tt.fail(p, first, n)
				_, err := p.Exec(ctx)
				require.NoError(t, err)
			}
			fail(0, 1)
			clock := newFakeClock(t0)
			cfg := configFor(srv.Addr())
			cfg.System = tt.system
			require.NoError(t, confmapUnmarshal(cfg, map[string]any{"alerts": map[string]any{
				"dead_jobs_growing": map[string]any{"threshold": 2, "window": "10m"},
			}}))
			r := startReceiverAt(t, cfg, clock.get())
			seen := 0
			md, err := r.last(t)
			require.NoError(t, err)
			require.Equal(t, 1.0, points(t, md, "jobqueue.jobs", "messaging.destination.name", "jobqueue.job.state")["emails/failed"])
			assert.Empty(t, r.newAlerts(t, &seen))

			clock.set(t0.Add(time.Minute))
			fail(1, 3)
			_, err = r.scrape(t)
			require.NoError(t, err)
			assert.Equal(t, []alertRecord{{"dead_jobs_growing", "firing", "WARN", tt.want, "emails"}}, r.newAlerts(t, &seen))
		})
	}
}
