// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/filter"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/queuealert"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	full := NewDefaultConfig()
	full.System = SystemSidekiq
	full.Endpoint = "redis.internal:6380"
	full.Username = "jobq"
	full.Password = "s3cret"
	full.DB = 2
	full.TLS = configoptional.Some(func() configtls.ClientConfig {
		c := configtls.NewDefaultClientConfig()
		c.CAFile = "/etc/ssl/redis-ca.pem"
		return c
	}())
	full.Namespace = "myapp"
	full.CollectionInterval = 15 * time.Second
	full.Timeout = 5 * time.Second
	full.Queues = QueuesConfig{Include: []QueueMatch{{Regex: "^critical$"}, {Regex: "^mail"}, {Strict: "reports.daily"}},
		Exclude: []QueueMatch{{Regex: "_tmp$"}}, Max: 50}
	full.StalledAfter = 10 * time.Minute
	full.ByClass.MaxEntries = 200
	full.Alerts.CoolDown = 30 * time.Minute
	lat := &full.Alerts.QueueLatencyHigh
	lat.Threshold = 10 * time.Minute
	lat.Escalate = []queuealert.Step[time.Duration]{{Threshold: 30 * time.Minute, Severity: alert.SeverityError}}
	thirtySeconds, anHour, off := 30*time.Second, time.Hour, false
	lat.Overrides = []queuealert.Override[time.Duration]{
		{Queues: []filter.Config{{Strict: "critical"}}, Threshold: &thirtySeconds, Severity: alert.SeverityFatal},
		{Queues: []filter.Config{{Regex: "^low"}}, Threshold: &anHour, Severity: alert.SeverityInfo},
		{Queues: []filter.Config{{Regex: "_tmp$"}}, Enabled: &off},
	}
	full.Alerts.QueueSizeLarge.Enabled = false
	full.Alerts.ProcessMemoryHigh.Threshold = queuealert.GiB
	full.Alerts.DeadJobsGrowing.Threshold = 5
	full.Alerts.DeadJobsGrowing.Window = 15 * time.Minute
	// Unmarshalled, so that the builder config records what the user set.
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"metrics":             map[string]any{"jobqueue.jobs.by_class": map[string]any{"enabled": true}},
		"resource_attributes": map[string]any{"server.address": map[string]any{"enabled": false}},
	}).Unmarshal(&full.MetricsBuilderConfig))

	minimal := NewDefaultConfig()
	minimal.System = SystemSidekiq

	sentinel := NewDefaultConfig()
	sentinel.System = SystemSidekiq
	sentinel.Sentinel.MasterName = "jobs"
	sentinel.Sentinel.Addresses = []string{"sentinel-1:26379", "sentinel-2:26379"}
	sentinel.Sentinel.Password = "sentinel-secret"
	sentinel.Password = "master-secret"

	bullmq := NewDefaultConfig()
	bullmq.System = SystemBullMQ
	bullmq.Namespace = "myapp"
	bullmq.DiscoveryInterval = time.Minute
	bullmq.ClientList = true
	bullmq.Queues.Names = []string{"emails", "reports"}

	asynq := NewDefaultConfig()
	asynq.System = SystemAsynq

	rq := NewDefaultConfig()
	rq.System = SystemRQ

	celery := NewDefaultConfig()
	celery.System = SystemCelery
	celery.Namespace = "myapp:"
	celery.Celery.PrioritySteps = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	celery.Celery.Sep = ":"
	celery.Celery.Results = CeleryResultsConfig{Enabled: true, MaxKeys: 5000}

	river := NewDefaultConfig()
	river.System = SystemRiver
	river.Endpoint = "localhost:5432" // PostgreSQL's port when endpoint is unset
	river.Database = "jobs"
	river.Username = "otelcol_jobs" // a role may log in without a password (trust, certificate)

	solidQueue := NewDefaultConfig()
	solidQueue.System = SystemSolidQueue
	solidQueue.Endpoint = "pg.internal:6432"
	solidQueue.Username = "otelcol_jobs"
	solidQueue.Password = "s3cret"
	solidQueue.Database = "app_queue"
	solidQueue.Schema = "queue"
	solidQueue.Postgres.EstimateAbove = 0

	shortInterval := NewDefaultConfig()
	shortInterval.System = SystemSidekiq
	shortInterval.CollectionInterval = 2 * time.Second
	shortInterval.Timeout = 2 * time.Second

	tests := []struct {
		id       string
		expected *Config
		errs     []string // every message must appear
	}{
		{id: "", expected: minimal},
		{id: "full", expected: full},
		{id: "no_system", errs: []string{"system: must be set (one of: sidekiq, "}},
		{id: "rq", expected: rq},
		{id: "rq_namespace", errs: []string{`namespace: rq's keys have no prefix option (always "rq:"): leave it empty`}},
		{id: "bullmq", expected: bullmq},
		{id: "asynq", expected: asynq},
		{id: "celery", expected: celery},
		{id: "celery_empty_steps", errs: []string{"celery: priority_steps: must not be empty"}},
		{id: "celery_bad_steps", errs: []string{"celery: priority_steps: must be non-negative and ascending, as kombu bisects them, got [0 6 3 -1]",
			"celery: results: max_keys: must be positive, got 0",
		}},
		{id: "asynq_namespace", errs: []string{`namespace: asynq's keys have no prefix option (always "asynq:"): leave it empty`}},
		{id: "bad_discovery_interval", errs: []string{
			"discovery_interval: must be positive, got 0s",
			"queues: names: must not contain an empty name",
		}},
		{id: "unknown_system", errs: []string{`system: unknown job system "delayed_job"`}},
		{id: "url_endpoint", errs: []string{`endpoint: "redis://***@redis.internal:6379" is a URL: write host:port`}},
		{id: "sentinel", expected: sentinel},
		{id: "sentinel_without_addresses", errs: []string{"sentinel.addresses: must list at least one sentinel"}},
		{id: "bad_endpoint", errs: []string{`endpoint: "redis-without-port" is not host:port`}},
		{id: "bad_regex", errs: []string{
			`queues: include[0]: invalid regular expression "("`,
			`queues: exclude[1]: invalid regular expression "[z-a]"`,
		}},
		{id: "negative_max", errs: []string{"queues: max: must be >= 0 (0 = no limit), got -1"}},
		{id: "timeout_over_interval", errs: []string{"timeout: 10s must not exceed collection_interval 5s"}},
		{id: "short_interval", expected: shortInterval},
		{id: "short_interval_long_timeout", errs: []string{"timeout: 3s must not exceed collection_interval 2s"}},
		{id: "zero_timeout", errs: []string{"timeout: must be positive, got 0s"}},
		{id: "bad_stalled_after", errs: []string{"stalled_after: must be positive, got 0s"}},
		{id: "bad_by_class", errs: []string{"by_class: max_entries: must be positive, got 0"}},
		{id: "zero_interval", errs: []string{`"collection_interval": requires positive value`}},
		{id: "user_without_password", errs: []string{`password: must be set when username "jobq" is set`}},
		{id: "river", expected: river},
		{id: "solid_queue_full", expected: solidQueue},
		{id: "river_without_database", errs: []string{"database: must be set for river"}},
		{id: "river_redis_keys", errs: []string{
			"sentinel: is Redis Sentinel; river keeps its jobs in PostgreSQL (set endpoint)",
			"db: is a Redis database number; river keeps its jobs in PostgreSQL (set database)",
			"namespace: is a Redis key prefix; for river set schema",
			"client_list: is for BullMQ only, not river",
			"queues: names: river's queues are read from its tables; use queues.include",
			"postgres: estimate_above: must be >= 0 (0 = always exact), got -1",
		}},
		{id: "sidekiq_database", errs: []string{"database, schema: only for the PostgreSQL-backed systems (river, solid_queue, good_job, oban), not sidekiq"}},
		{id: "unknown_key", errs: []string{"has invalid keys: queue"}},
		{id: "bad_alerts", errs: []string{
			"alerts: cool_down: must not be negative, got -1m0s",
			"alerts::queue_latency_high::overrides::0::queues::0: error parsing regexp",
			"dead_jobs_growing: window: must be positive, got 0s", // confmap prefixes only the first line
		}},
		{id: "bad_alert_severity", errs: []string{`unknown severity "page": use info, warn, error or fatal`}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.id).String())
			require.NoError(t, err)
			cfg := NewFactory().CreateDefaultConfig()
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
			if tt.expected == nil {
				require.Error(t, err)
				for _, msg := range tt.errs {
					assert.ErrorContains(t, err, msg)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, 30*time.Second, cfg.CollectionInterval)
	assert.Equal(t, 10*time.Second, cfg.Timeout)
	assert.Equal(t, "localhost:6379", cfg.Endpoint)
	assert.Equal(t, 500, cfg.Queues.Max)
	assert.Equal(t, 5*time.Minute, cfg.StalledAfter)
	assert.Equal(t, 1000, cfg.ByClass.MaxEntries)
	assert.False(t, cfg.TLS.HasValue(), "plain TCP unless tls is configured")
	assert.False(t, cfg.Metrics.JobqueueJobsByClass.Enabled, "the breakdown is opt-in")
	assertDocumentedAlertDefaults(t, cfg.Alerts)
	assert.ErrorContains(t, confmap.Validate(cfg), "system: must be set", "the job system is never guessed")
}

// assertDocumentedAlertDefaults checks the alert rules against the defaults
// the README's Alerts table documents: every rule on, with no escalation,
// resolve level or override of its own.
func assertDocumentedAlertDefaults(t *testing.T, a queuealert.Config) {
	t.Helper()
	assert.Equal(t, time.Hour, a.CoolDown, "cool_down")
	queueRule := func(threshold int64) queuealert.QueueRule[int64] {
		return queuealert.QueueRule[int64]{Rule: queuealert.Rule[int64]{Enabled: true,
			Levels: queuealert.Levels[int64]{Threshold: threshold, Severity: alert.SeverityWarn}}}
	}
	assert.Equal(t, queuealert.QueueRule[time.Duration]{Rule: queuealert.Rule[time.Duration]{Enabled: true,
		Levels: queuealert.Levels[time.Duration]{Threshold: 5 * time.Minute, Severity: alert.SeverityWarn}}},
		a.QueueLatencyHigh, "queue_latency_high: 5m, warn")
	assert.Equal(t, queueRule(1000), a.QueueSizeLarge, "queue_size_large: 1000, warn")
	assert.Equal(t, queueRule(0), a.StalledJobs, "stalled_jobs: 0 (any), warn")
	assert.Equal(t, queuealert.DeadJobsRule{QueueRule: queueRule(10), Window: time.Hour}, a.DeadJobsGrowing,
		"dead_jobs_growing: 10 in 1h, warn")
	assert.Equal(t, queuealert.Rule[queuealert.Bytes]{Enabled: true,
		Levels: queuealert.Levels[queuealert.Bytes]{Threshold: 500 << 20, Severity: alert.SeverityWarn}},
		a.ProcessMemoryHigh, "process_memory_high: 500MiB, warn")
	assert.Equal(t, queuealert.HeartbeatRule{Rule: queuealert.Rule[time.Duration]{Enabled: true,
		Levels: queuealert.Levels[time.Duration]{Threshold: 30 * time.Second, Severity: alert.SeverityError}}, Stale: true},
		a.ProcessHeartbeatMissing, "process_heartbeat_missing: 30s, error; stale: true")
}

// Queue matchers speak the collector's filter dialect: a strict name matches
// itself whole (its dots are no wildcards), a plain string or regexp is a
// regular expression, as include and exclude always were.
func TestQueueMatchers(t *testing.T) {
	q := QueuesConfig{Include: []QueueMatch{{Strict: "reports.daily"}, {Regex: "^mail"}}}
	sel, err := q.selection()
	require.NoError(t, err)
	kept, _ := sel.Apply([]string{"reports.daily", "reportsXdaily", "reports.daily2", "mailers", "low"})
	assert.Equal(t, []string{"mailers", "reports.daily"}, kept)

	q = QueuesConfig{Exclude: []QueueMatch{{Strict: "a", Regex: "b"}, {}}}
	_, err = q.selection()
	assert.ErrorContains(t, err, "queues: exclude[0]: strict and regex cannot be used together")
	assert.ErrorContains(t, err, "queues: exclude[1]: must specify either strict or regex")
}
