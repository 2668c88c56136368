// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
)

// scrapeErrorLog is what scraperhelper logs when a scrape fails.
const scrapeErrorLog = "Error scraping metrics"

func configFor(endpoint string) *Config {
	cfg := NewDefaultConfig()
	cfg.System = SystemSidekiq
	cfg.Endpoint = endpoint
	cfg.InitialDelay = 0
	return cfg
}

// testReceiver is a receiver in a metrics and a logs pipeline whose scrapes
// the test triggers one at a time.
type testReceiver struct {
	sink   *consumertest.MetricsSink
	alerts *consumertest.LogsSink
	logs   *observer.ObservedLogs
	tick   chan time.Time
}

// startReceiver starts the receiver and waits for its first scrape, which
// the controller runs at start.
func startReceiver(t *testing.T, cfg *Config) *testReceiver {
	t.Helper()
	return startReceiverAt(t, cfg, nil)
}

// startReceiverAt is startReceiver with the reader's clock (nil: time.Now).
func startReceiverAt(t *testing.T, cfg *Config, now func() time.Time) *testReceiver {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	r := &testReceiver{sink: new(consumertest.MetricsSink), alerts: new(consumertest.LogsSink), logs: logs, tick: make(chan time.Time)}
	rcv := newReceiver(set, cfg, func(ctx context.Context) (*Snapshotter, error) {
		return newSnapshotterWithClock(ctx, cfg, now)
	}, scraperhelper.WithTickerChannel(r.tick))
	rcv.metrics, rcv.logs = r.sink, r.alerts
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()), "Start never needs Redis")
	t.Cleanup(func() { require.NoError(t, rcv.Shutdown(context.Background())) })
	r.waitScrape(t, 0)
	return r
}

// waitScrape waits until scrape number n+1 has been consumed: the controller
// hands every scrape to the sink, an empty one when it failed.
func (r *testReceiver) waitScrape(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.sink.AllMetrics()) > n }, 30*time.Second, 5*time.Millisecond)
}

// last returns the latest scrape's metrics and the error it logged, if any.
func (r *testReceiver) last(t *testing.T) (pmetric.Metrics, error) {
	t.Helper()
	all := r.sink.AllMetrics()
	md := all[len(all)-1]
	errs := r.logs.FilterMessage(scrapeErrorLog).All()
	if md.DataPointCount() == 0 && len(errs) > 0 {
		return md, errors.New(errs[len(errs)-1].ContextMap()["error"].(string))
	}
	return md, nil
}

// scrape runs one more scrape.
func (r *testReceiver) scrape(t *testing.T) (pmetric.Metrics, error) {
	t.Helper()
	n := len(r.sink.AllMetrics())
	r.tick <- time.Now()
	r.waitScrape(t, n)
	return r.last(t)
}

// points returns a metric's values keyed by the values of the given
// attributes joined with "/" ("" when the point has none of them).
func points(t *testing.T, md pmetric.Metrics, name string, attrs ...string) map[string]float64 {
	t.Helper()
	m := findMetric(t, md, name)
	dps := dataPoints(m)
	out := make(map[string]float64, dps.Len())
	for i := range dps.Len() {
		dp := dps.At(i)
		var parts []string
		for _, a := range attrs {
			if v, ok := dp.Attributes().Get(a); ok {
				parts = append(parts, v.AsString())
			}
		}
		v := dp.DoubleValue()
		if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
			v = float64(dp.IntValue())
		}
		out[strings.Join(parts, "/")] = v
	}
	return out
}

func hasMetric(md pmetric.Metrics, name string) bool {
	_, ok := lookupMetric(md, name)
	return ok
}

func snapshotTime(t *testing.T, md pmetric.Metrics) time.Time {
	t.Helper()
	return dataPoints(findMetric(t, md, "jobqueue.queue.size")).At(0).Timestamp().AsTime()
}

// writeSmallSidekiq writes one queue with one job and one idle process.
func writeSmallSidekiq(t *testing.T, c *redis.Client, now time.Time) {
	d := newSidekiqData(t, c)
	d.push("default", now.Add(-time.Minute))
	d.stats(10, 1)
	d.process(sidekiqProcess{host: "web-1", pid: 101, concurrency: 5, rssKB: 1024, beat: now})
	d.flush()
}

func TestEndToEndSidekiq(t *testing.T) {
	srv := redistest.Start(t)
	now := time.Now()
	tenMinutes, oneMinute := now.Add(-10*time.Minute).Truncate(time.Second), now.Add(-time.Minute).Truncate(time.Second)
	d := newSidekiqData(t, srv.Client(t))
	d.push("critical", now.Add(-30*time.Second), now.Add(-10*time.Second))
	d.push("default", now.Add(-90*time.Second), now.Add(-60*time.Second), now.Add(-5*time.Second))
	d.push("low") // registered, emptied
	d.sorted("schedule", 2, now.Add(time.Hour))
	d.sorted("retry", 3, now.Add(time.Minute))
	d.sorted("dead", 1, now.Add(-time.Hour))
	d.stats(1000, 25)
	busy := sidekiqProcess{
		host: "web-1", pid: 101, concurrency: 5, busy: 2, rssKB: 102400, beat: now.Add(-3 * time.Second),
		running: map[string][]time.Time{"default": {tenMinutes, oneMinute}},
	}
	quiet := sidekiqProcess{host: "web-2", pid: 202, concurrency: 5, beat: now.Add(-time.Second), quiet: true}
	d.process(busy)
	d.process(quiet)
	d.pipe.SAdd(context.Background(), "processes", "web-3:303:0123456789ab") // expired heartbeat
	d.flush()

	// Created from the factory, as the collector does.
	sink := new(consumertest.MetricsSink)
	cfg := configFor(srv.Addr())
	rcv, err := NewFactory().CreateMetrics(context.Background(), receivertest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) > 0 }, 30*time.Second, 5*time.Millisecond)
	require.NoError(t, rcv.Shutdown(context.Background()))
	md := sink.AllMetrics()[0]
	ts := snapshotTime(t, md)
	since := func(at time.Time) float64 { return ts.Sub(at).Seconds() }

	res := md.ResourceMetrics().At(0).Resource().Attributes().AsRaw()
	assert.Equal(t, map[string]any{
		"messaging.system": "sidekiq", "server.address": "127.0.0.1", "server.port": int64(srv.Port()),
	}, res, "no jobqueue.namespace without a namespace")

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"critical": 2, "default": 3, "low": 0}, points(t, md, "jobqueue.queue.size", q))
	latency := points(t, md, "jobqueue.queue.latency", q)
	assert.InDelta(t, since(now.Add(-30*time.Second)), latency["critical"], 1e-3)
	assert.InDelta(t, since(now.Add(-90*time.Second)), latency["default"], 1e-3)
	assert.Zero(t, latency["low"])
	assert.False(t, hasMetric(md, "jobqueue.queue.paused"), "Sidekiq OSS cannot pause queues")

	assert.Equal(t, map[string]float64{"scheduled": 2, "retry": 3, "dead": 1, "busy": 2},
		points(t, md, "jobqueue.jobs", "jobqueue.job.state", q), "Sidekiq keeps states globally: no queue attribute")
	assert.Equal(t, map[string]float64{"": 1000}, points(t, md, "jobqueue.jobs.processed", q))
	assert.Equal(t, map[string]float64{"": 25}, points(t, md, "jobqueue.jobs.failed", q))

	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.processes"), "the expired heartbeat is not a live process")
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes.stale"), "but a stale registry entry")
	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.workers.busy"))
	assert.Equal(t, map[string]float64{"": 10}, points(t, md, "jobqueue.workers.capacity"))

	pattrs := []string{"jobqueue.process.id", "host.name", "process.pid"}
	busyKey := busy.identity() + "/web-1/101"
	quietKey := quiet.identity() + "/web-2/202"
	assert.Equal(t, map[string]float64{busyKey: 2, quietKey: 0}, points(t, md, "jobqueue.process.busy", pattrs...))
	assert.Equal(t, map[string]float64{busyKey: 5, quietKey: 5}, points(t, md, "jobqueue.process.capacity", pattrs...))
	assert.Equal(t, map[string]float64{busyKey: 102400 * 1024}, points(t, md, "jobqueue.process.memory.usage", pattrs...),
		"rss 0 means not measured: no point")
	assert.Equal(t, map[string]float64{busyKey: 0, quietKey: 1}, points(t, md, "jobqueue.process.quiet", pattrs...))
	heartbeat := points(t, md, "jobqueue.process.heartbeat.age", pattrs...)
	assert.InDelta(t, since(busy.beat), heartbeat[busyKey], 1e-3)
	assert.InDelta(t, since(quiet.beat), heartbeat[quietKey], 1e-3)

	running := points(t, md, "jobqueue.job.running.max_age", q)
	assert.InDelta(t, since(tenMinutes), running["default"], 1e-3)
	assert.Zero(t, running["critical"])
	assert.Equal(t, map[string]float64{"critical": 0, "default": 1, "low": 0}, points(t, md, "jobqueue.jobs.stalled", q),
		"only the job running for 10 minutes is past stalled_after (5m)")
	assert.False(t, hasMetric(md, "jobqueue.jobs.by_class"), "off by default")
}

func TestByClassWhenEnabled(t *testing.T) {
	srv := redistest.Start(t)
	d := newSidekiqData(t, srv.Client(t))
	d.sorted("retry", 3, time.Now())
	d.sorted("dead", 2, time.Now())
	d.flush()
	cfg := configFor(srv.Addr())
	cfg.Metrics.JobqueueJobsByClass.Enabled = true
	cfg.ByClass.MaxEntries = 2
	r := startReceiver(t, cfg)
	md, err := r.last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"retry/HardJob/Net::ReadTimeout": 2, "dead/HardJob/Net::ReadTimeout": 2},
		points(t, md, "jobqueue.jobs.by_class", "jobqueue.job.state", "jobqueue.job.class", "error.type"),
		"at most max_entries entries of each set are read")
}

// readOnlyACLs are the read-only users the README recommends. -@dangerous
// matters: @connection alone would grant CLIENT KILL and CLIENT PAUSE.
var readOnlyACLs = map[string][]any{
	"categories": {"on", ">pw", "%R~*", "-@all", "+@read", "+@connection", "-@dangerous"},
	"commands": {"on", ">pw", "%R~*", "-@all", "+hello", "+auth", "+ping", "+select",
		"+scard", "+srandmember", "+zcard", "+zrevrange", "+get", "+llen", "+lindex", "+hmget", "+hgetall"},
}

func TestReadOnlyUnderACL(t *testing.T) {
	for name, rules := range readOnlyACLs {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t, redistest.WithArgs("--enable-debug-command", "yes"))
			admin := srv.Client(t)
			ctx := context.Background()
			now := time.Now()
			d := newSidekiqData(t, admin)
			d.push("default", now.Add(-time.Minute), now)
			d.sorted("retry", 2, now)
			d.stats(5, 1)
			d.process(sidekiqProcess{host: "web-1", pid: 1, concurrency: 5, busy: 1, beat: now,
				running: map[string][]time.Time{"default": {now.Add(-time.Minute)}}})
			d.pipe.SAdd(ctx, "processes", "gone:2:0123456789ab") // Sidekiq's own API would SREM this
			d.flush()
			require.NoError(t, admin.Do(ctx, append([]any{"ACL", "SETUSER", "jobq"}, rules...)...).Err())
			require.NoError(t, admin.Do(ctx, "ACL", "LOG", "RESET").Err())
			before, err := admin.Do(ctx, "DEBUG", "DIGEST").Text()
			require.NoError(t, err)

			cfg := configFor(srv.Addr())
			cfg.Username, cfg.Password, cfg.DB = "jobq", "pw", 0
			cfg.Metrics.JobqueueJobsByClass.Enabled = true // the widest set of commands
			r := startReceiver(t, cfg)
			for range 3 {
				md, err := r.scrape(t)
				require.NoError(t, err)
				assert.Equal(t, map[string]float64{"default": 2}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))
			}

			after, err := admin.Do(ctx, "DEBUG", "DIGEST").Text()
			require.NoError(t, err)
			assert.Equal(t, before, after, "the dataset is unchanged")
			denied, err := admin.Do(ctx, "ACL", "LOG").Slice()
			require.NoError(t, err)
			assert.Empty(t, denied, "no command was denied to the read-only user")
			assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())

			// The user really is read-only, and cannot disturb other clients.
			for _, cmd := range [][]any{{"SET", "x", "1"}, {"CLIENT", "PAUSE", "10"}, {"CLIENT", "KILL", "ID", "1"}, {"KEYS", "*"}} {
				denied, err := admin.Do(ctx, append([]any{"ACL", "DRYRUN", "jobq"}, cmd...)...).Text()
				require.NoError(t, err)
				assert.Contains(t, denied, "no permissions", "%v", cmd)
			}
		})
	}
}

func TestRoundTripsDoNotGrowWithQueuesAndProcesses(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	snapshotOf := func() *Snapshot {
		s, err := NewSnapshotter(ctx, configFor(srv.Addr()))
		require.NoError(t, err)
		defer s.Close()
		snap, err := s.Snapshot(ctx)
		require.NoError(t, err)
		return snap
	}

	writeSmallSidekiq(t, admin, now)
	small := snapshotOf()
	require.Len(t, small.Queues, 1)

	d := newSidekiqData(t, admin)
	for i := range 1000 {
		d.push("q"+strconv.Itoa(1000+i), now.Add(-time.Second))
	}
	for i := range 200 {
		d.process(sidekiqProcess{host: "w" + strconv.Itoa(i), pid: 1000 + i, concurrency: 10, busy: 1, beat: now,
			running: map[string][]time.Time{"q1000": {now.Add(-time.Minute)}}})
	}
	d.flush()
	cfg := configFor(srv.Addr())
	cfg.Queues.Max = 0
	s, err := NewSnapshotter(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()
	large, err := s.Snapshot(ctx)
	require.NoError(t, err)
	require.Len(t, large.Queues, 1001)
	require.Len(t, large.Processes, 201)

	assert.Positive(t, small.RoundTrips)
	assert.LessOrEqual(t, small.RoundTrips, int64(4))
	assert.Equal(t, small.RoundTrips, large.RoundTrips, "1,001 queues and 201 processes cost the same round trips as 1 and 1")
	assert.Greater(t, large.Commands, int64(2*1001), "the commands are there, only pipelined")

	again, err := s.Snapshot(ctx)
	require.NoError(t, err)
	assert.Equal(t, large.RoundTrips, again.RoundTrips, "counts are per snapshot, not cumulative")
}

func TestRedisAbsentAtStart(t *testing.T) {
	srv := redistest.Start(t)
	srv.Stop()
	r := startReceiver(t, configFor(srv.Addr()))

	_, err := r.last(t)
	require.ErrorContains(t, err, "connection refused", "the first scrape fails clearly")
	_, err = r.scrape(t)
	require.ErrorContains(t, err, srv.Addr())

	srv.Restart()
	writeSmallSidekiq(t, srv.Client(t), time.Now())
	md, err := r.scrape(t)
	require.NoError(t, err, "metrics appear once Redis is there")
	assert.Equal(t, map[string]float64{"default": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))
}

func TestRedisKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t)
	writeSmallSidekiq(t, srv.Client(t), time.Now())
	r := startReceiver(t, configFor(srv.Addr()))
	md, err := r.last(t)
	require.NoError(t, err)
	firstStart := dataPoints(findMetric(t, md, "jobqueue.jobs.processed")).At(0).StartTimestamp()

	srv.Stop()
	_, err = r.scrape(t)
	require.Error(t, err, "a scrape while Redis is down fails")

	srv.Restart() // a new, empty server on the same port
	c := srv.Client(t)
	writeSmallSidekiq(t, c, time.Now())
	require.NoError(t, c.Set(context.Background(), "stat:processed", 3, 0).Err())
	md, err = r.scrape(t)
	require.NoError(t, err, "the pool reconnects by itself")
	assert.Equal(t, map[string]float64{"": 3}, points(t, md, "jobqueue.jobs.processed"))
	assert.Greater(t, dataPoints(findMetric(t, md, "jobqueue.jobs.processed")).At(0).StartTimestamp(), firstStart,
		"counters that went down start a new cumulative series")
}

func TestRedisSlowerThanTimeout(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	writeSmallSidekiq(t, admin, time.Now())
	cfg := configFor(srv.Addr())
	cfg.Timeout = 200 * time.Millisecond
	r := startReceiver(t, cfg)
	_, err := r.last(t)
	require.NoError(t, err)

	// Every client's commands wait for 1.5 s: a stalled Redis.
	require.NoError(t, admin.Do(context.Background(), "CLIENT", "PAUSE", 1500, "ALL").Err())
	_, err = r.scrape(t)
	require.ErrorContains(t, err, "snapshot took longer than the 200ms timeout")

	// The collector keeps running and a later scrape succeeds once Redis serves again.
	require.Eventually(t, func() bool {
		md, err := r.scrape(t)
		return err == nil && md.DataPointCount() > 0
	}, 30*time.Second, 10*time.Millisecond)
}

func TestBadDataDoesNotHideGoodData(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now()
	d := newSidekiqData(t, c)
	d.push("good", now.Add(-time.Minute))
	d.sorted("schedule", 4, now)
	d.stats(10, 0)
	d.pipe.SAdd(ctx, "queues", "hash", "garbage")
	d.pipe.HSet(ctx, "queue:hash", "not", "a list")
	d.pipe.LPush(ctx, "queue:garbage", `{"class":"Broken","enqueued_at":`) // the oldest job
	d.pipe.LPush(ctx, "queue:garbage", d.job("Fine", "garbage", now))
	d.pipe.Set(ctx, "retry", "not a sorted set", 0)
	d.flush()

	r := startReceiver(t, configFor(srv.Addr()))
	for range 2 {
		md, err := r.scrape(t)
		require.NoError(t, err, "bad data is never a scrape error")
		size := points(t, md, "jobqueue.queue.size", "messaging.destination.name")
		assert.Equal(t, float64(1), size["good"])
		assert.Equal(t, float64(2), size["garbage"], "a queue's size is good even when its oldest job is not")
		latency := points(t, md, "jobqueue.queue.latency", "messaging.destination.name")
		assert.Positive(t, latency["good"])
		assert.Zero(t, latency["garbage"])
		jobs := points(t, md, "jobqueue.jobs", "jobqueue.job.state")
		assert.Equal(t, float64(4), jobs["scheduled"])
		assert.NotContains(t, jobs, "retry", "a wrong-type set gives no count rather than a false 0")
	}

	warned := map[string]string{}
	for _, e := range r.logs.FilterMessageSnippet("Skipped bad data").All() {
		fields := e.ContextMap()
		key := fields["key"].(string)
		_, seen := warned[key]
		assert.False(t, seen, "logged once: %s", key)
		warned[key] = fields["kind"].(string)
	}
	assert.Equal(t, "wrong_type", warned["queue:hash"])
	assert.Equal(t, "invalid_json", warned["queue:garbage"])
	assert.Equal(t, "wrong_type", warned["retry"])
}

func TestTLSWithACLUser(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	admin := srv.Client(t)
	writeSmallSidekiq(t, admin, time.Now())
	require.NoError(t, admin.Do(context.Background(),
		"ACL", "SETUSER", "jobq", "on", ">tls-pw", "~*", "&*", "-@all", "+@read", "+@connection").Err())
	tlsAddr, caFile := srv.Addr(), srv.CAFile()

	cfg := configFor(tlsAddr)
	cfg.Username, cfg.Password = "jobq", "tls-pw"
	require.NoError(t, confmapUnmarshal(cfg, map[string]any{"tls": map[string]any{"ca_file": caFile}}))
	r := startReceiver(t, cfg)
	md, err := r.last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"default": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))

	t.Run("the certificate is verified", func(t *testing.T) {
		cfg := configFor(tlsAddr)
		cfg.Username, cfg.Password = "jobq", "tls-pw"
		require.NoError(t, confmapUnmarshal(cfg, map[string]any{"tls": map[string]any{}})) // system roots only
		r := startReceiver(t, cfg)
		_, err := r.last(t)
		require.ErrorContains(t, err, "certificate")
	})
	t.Run("a missing CA file fails at start", func(t *testing.T) {
		cfg := configFor(tlsAddr)
		require.NoError(t, confmapUnmarshal(cfg, map[string]any{"tls": map[string]any{"ca_file": t.TempDir() + "/missing.pem"}}))
		_, err := NewSnapshotter(context.Background(), cfg)
		require.ErrorContains(t, err, "tls:")
	})
}

// confmapUnmarshal applies settings the way the collector's YAML would.
func confmapUnmarshal(cfg *Config, settings map[string]any) error {
	return confmap.NewFromStringMap(settings).Unmarshal(cfg)
}

// TestSentinelFailover: through Redis Sentinel the receiver reads the
// master the sentinel names, reports the master name as server.address, and
// after a failover (the old master then stopped) reads the new master.
func TestSentinelFailover(t *testing.T) {
	ctx := context.Background()
	first := redistest.Start(t)
	second := redistest.Start(t, redistest.WithArgs("--replicaof", "127.0.0.1", strconv.Itoa(first.Port())))
	sentinel := redistest.StartSentinel(t, first, "jobs")
	admin := sentinel.Client(t)
	writeSmallSidekiq(t, first.Client(t), time.Now())

	cfg := configFor("")
	cfg.Sentinel.MasterName = "jobs"
	cfg.Sentinel.Addresses = []string{sentinel.Addr()}
	require.NoError(t, cfg.Validate())
	r := startReceiver(t, cfg)
	md, err := r.last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"messaging.system": "sidekiq", "server.address": "jobs"},
		md.ResourceMetrics().At(0).Resource().Attributes().AsRaw())
	assert.Equal(t, map[string]float64{"default": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))

	// The sentinel learns of the replica from the master's INFO.
	require.Eventually(t, func() bool {
		replicas, err := admin.Do(ctx, "SENTINEL", "REPLICAS", "jobs").Slice()
		return err == nil && len(replicas) == 1
	}, 30*time.Second, 50*time.Millisecond, "the sentinel never saw the replica")
	require.Eventually(t, func() bool {
		return second.Client(t).Get(ctx, "stat:processed").Val() == "10"
	}, 10*time.Second, 10*time.Millisecond, "the replica never caught up")
	require.NoError(t, admin.Do(ctx, "SENTINEL", "FAILOVER", "jobs").Err())
	require.Eventually(t, func() bool {
		addr, err := admin.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "jobs").StringSlice()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(second.Port())
	}, 30*time.Second, 50*time.Millisecond, "the failover did not happen")
	first.Stop()
	require.Eventually(t, func() bool {
		return second.Client(t).Set(ctx, "stat:processed", 11, 0).Err() == nil
	}, 30*time.Second, 50*time.Millisecond, "the new master never took writes")

	require.Eventually(t, func() bool {
		md, err := r.scrape(t)
		return err == nil && md.DataPointCount() > 0 &&
			points(t, md, "jobqueue.jobs.processed")[""] == 11
	}, 30*time.Second, 50*time.Millisecond, "the receiver did not follow the failover")
}
