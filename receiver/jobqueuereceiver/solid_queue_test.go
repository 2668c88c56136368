// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// solidQueueDatabase starts a PostgreSQL with Solid Queue 1.5.0's schema
// (the solidqueue reader's testdata) in database "app".
func solidQueueDatabase(t *testing.T) *pgtest.Server {
	t.Helper()
	return schemaDatabase(t, "app", "internal/solidqueue/testdata/schema.sql")
}

func solidQueueConfig(srv *pgtest.Server, role string) *Config {
	return postgresConfig(srv, SystemSolidQueue, "app", role)
}

// TestSolidQueueScrape runs the receiver with system: solid_queue on rows
// as Solid Queue 1.5.0 writes them (jobs and the execution table holding
// each, pauses, processes with their JSON metadata): size and latency of
// ready executions, pausing, Solid Queue's states per queue, the claimed
// job's age and stalled count, processes with busy/capacity and heartbeat
// age (no memory, no totals: Solid Queue keeps neither), the failed
// breakdown by class and exception class. With postgres.estimate_above
// below the finished jobs, finished becomes one estimated figure.
func TestSolidQueueScrape(t *testing.T) {
	srv := solidQueueDatabase(t)
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(ago time.Duration) string { return "'" + now.Add(-ago).Format("2006-01-02 15:04:05") + "'" }
	args := `'{"job_class":"ReportJob","job_id":"x","arguments":[],"executions":0,"exception_executions":{},"locale":"en","timezone":"UTC"}'`
	srv.Exec("app",
		`INSERT INTO solid_queue_processes (id, kind, last_heartbeat_at, supervisor_id, pid, hostname, metadata, created_at, name) VALUES
			(1, 'Supervisor(fork)', `+ts(3*time.Second)+`, NULL, 10, 'web-1', '{}', `+ts(time.Hour)+`, 'supervisor-00000000000000000001'),
			(2, 'Worker', `+ts(10*time.Second)+`, 1, 11, 'web-1', '{"polling_interval":0.1,"queues":"*","thread_pool_size":3}', `+ts(time.Hour)+`, 'worker-00000000000000000002'),
			(3, 'Dispatcher', `+ts(4*time.Second)+`, 1, 12, 'web-1', '{"polling_interval":1,"batch_size":500}', `+ts(time.Hour)+`, 'dispatcher-00000000000000000003'),
			(4, 'Worker', `+ts(10*time.Minute)+`, NULL, 13, 'web-2', '{"polling_interval":0.1,"queues":"*","thread_pool_size":5}', `+ts(time.Hour)+`, 'worker-00000000000000000004')`,
		`INSERT INTO solid_queue_jobs (id, queue_name, class_name, arguments, priority, active_job_id, scheduled_at, finished_at, created_at, updated_at) VALUES
			(1, 'default', 'ReportJob', `+args+`, 0, 'a1', `+ts(2*time.Minute)+`, NULL, `+ts(2*time.Minute)+`, `+ts(2*time.Minute)+`),
			(2, 'default', 'ReportJob', `+args+`, 0, 'a2', `+ts(time.Second)+`, NULL, `+ts(time.Second)+`, `+ts(time.Second)+`),
			(3, 'critical', 'ChargeJob', `+args+`, 0, 'a3', `+ts(11*time.Minute)+`, NULL, `+ts(11*time.Minute)+`, `+ts(11*time.Minute)+`),
			(4, 'critical', 'ChargeJob', `+args+`, 0, 'a4', `+ts(time.Hour)+`, NULL, `+ts(time.Hour)+`, `+ts(time.Hour)+`),
			(5, 'mailers', 'ActionMailer::MailDeliveryJob', `+args+`, 0, 'a5', `+ts(-time.Hour)+`, NULL, `+ts(time.Minute)+`, `+ts(time.Minute)+`),
			(6, 'default', 'ReportJob', `+args+`, 0, 'a6', `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`),
			(7, 'default', 'ReportJob', `+args+`, 0, 'a7', `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`),
			(8, 'critical', 'ChargeJob', `+args+`, 0, 'a8', `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`)`,
		`INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at) VALUES
			(1, 'default', 0, `+ts(2*time.Minute)+`), (2, 'default', 0, `+ts(time.Second)+`)`,
		`INSERT INTO solid_queue_claimed_executions (job_id, process_id, created_at) VALUES (3, 2, `+ts(10*time.Minute)+`)`,
		`INSERT INTO solid_queue_failed_executions (job_id, error, created_at) VALUES
			(4, '{"exception_class":"Net::ReadTimeout","message":"Net::ReadTimeout with #<TCPSocket:(closed)>","backtrace":["app/jobs/charge_job.rb:3"]}', `+ts(50*time.Minute)+`)`,
		`INSERT INTO solid_queue_scheduled_executions (job_id, queue_name, priority, scheduled_at, created_at) VALUES
			(5, 'mailers', 0, `+ts(-time.Hour)+`, `+ts(time.Minute)+`)`,
		`INSERT INTO solid_queue_pauses (queue_name, created_at) VALUES ('mailers', `+ts(time.Minute)+`)`,
		"ANALYZE")

	cfg := solidQueueConfig(srv, "postgres")
	cfg.Postgres.EstimateAbove = 2
	cfg.Metrics.JobqueueJobsByClass.Enabled = true
	r := startReceiverAt(t, cfg, func() time.Time { return now })
	md, err := r.last(t)
	require.NoError(t, err)

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"critical": 0, "default": 2, "mailers": 0}, points(t, md, "jobqueue.queue.size", q))
	assert.Equal(t, map[string]float64{"critical": 0, "default": 120, "mailers": 0}, points(t, md, "jobqueue.queue.latency", q))
	assert.Equal(t, map[string]float64{"critical": 0, "default": 0, "mailers": 1}, points(t, md, "jobqueue.queue.paused", q))
	assert.Equal(t, map[string]float64{"critical": 600, "default": 0, "mailers": 0}, points(t, md, "jobqueue.job.running.max_age", q))
	assert.Equal(t, map[string]float64{"critical": 1, "default": 0, "mailers": 0}, points(t, md, "jobqueue.jobs.stalled", q), "claimed 10m ago > 5m")
	jobs := points(t, md, "jobqueue.jobs", "jobqueue.job.state", q)
	for k, v := range jobs {
		if v == 0 {
			delete(jobs, k)
		}
	}
	assert.Equal(t, map[string]float64{
		"ready/default": 2, "claimed/critical": 1, "failed/critical": 1, "scheduled/mailers": 1, "finished": 3,
	}, jobs, "3 finished jobs > estimate_above 2: one estimated figure for the table")
	assert.Equal(t, map[string]float64{"finished": 1}, points(t, md, "jobqueue.jobs.estimated", "jobqueue.job.state"))
	assert.Equal(t, map[string]float64{"": 3}, points(t, md, "jobqueue.processes"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes.stale"), "worker 4's last heartbeat is 10 min old")
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.workers.busy"))
	assert.Equal(t, map[string]float64{"": 3}, points(t, md, "jobqueue.workers.capacity"))
	assert.Equal(t, map[string]float64{
		"supervisor-00000000000000000001": 3, "worker-00000000000000000002": 10, "dispatcher-00000000000000000003": 4,
	}, points(t, md, "jobqueue.process.heartbeat.age", "jobqueue.process.id"))
	assert.False(t, hasMetric(md, "jobqueue.process.memory.usage"), "Solid Queue records no memory")
	assert.False(t, hasMetric(md, "jobqueue.jobs.processed"), "nor execution totals")
	assert.Equal(t, map[string]float64{"failed/ChargeJob/Net::ReadTimeout": 1},
		points(t, md, "jobqueue.jobs.by_class", "jobqueue.job.state", "jobqueue.job.class", "error.type"))
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	system, _ := res.Get("messaging.system")
	assert.Equal(t, "solid_queue", system.Str())
	namespace, _ := res.Get("db.namespace")
	assert.Equal(t, "app|public", namespace.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}

// TestSolidQueueReadOnlyRoleAndMissingTables: the receiver reads under a
// role with only the README's GRANTs (and a session time zone other than
// UTC: Solid Queue's datetimes are UTC whatever it is); pointed at a schema
// without Solid Queue's tables, each scrape fails with an error saying what
// to check, and the receiver keeps scraping.
func TestSolidQueueReadOnlyRoleAndMissingTables(t *testing.T) {
	srv := solidQueueDatabase(t)
	srv.Exec("app",
		`INSERT INTO solid_queue_jobs (id, queue_name, class_name, scheduled_at, created_at, updated_at)
			VALUES (1, 'default', 'ReportJob', now() AT TIME ZONE 'UTC' - interval '1 minute', now() AT TIME ZONE 'UTC' - interval '1 minute', now() AT TIME ZONE 'UTC')`,
		`INSERT INTO solid_queue_ready_executions (job_id, queue_name, priority, created_at)
			VALUES (1, 'default', 0, now() AT TIME ZONE 'UTC' - interval '1 minute')`)
	createReadOnlyRole(srv, "app", `solid_queue_jobs, solid_queue_ready_executions, solid_queue_scheduled_executions,
			solid_queue_claimed_executions, solid_queue_blocked_executions, solid_queue_failed_executions,
			solid_queue_pauses, solid_queue_processes`, "timezone = 'America/New_York'")

	cfg := solidQueueConfig(srv, readOnlyRole)
	cfg.Metrics.JobqueueJobsByClass.Enabled = true
	r := startReceiver(t, cfg)
	md, err := r.last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"default": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))
	latency := points(t, md, "jobqueue.queue.latency", "messaging.destination.name")["default"]
	assert.InDelta(t, 60, latency, 30, "a minute, not hours off")

	assertMissingTables(t, solidQueueConfig(srv, readOnlyRole), "empty", `relation "empty.solid_queue_jobs" does not exist`)
}
