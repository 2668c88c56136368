// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// goodJobDatabase starts a PostgreSQL with GoodJob v4.19.2's schema (the
// goodjob reader's testdata) in database "app".
func goodJobDatabase(t *testing.T) *pgtest.Server {
	t.Helper()
	return schemaDatabase(t, "app", "internal/goodjob/testdata/schema.sql")
}

func goodJobConfig(srv *pgtest.Server, role string) *Config {
	return postgresConfig(srv, SystemGoodJob, "app", role)
}

// TestGoodJobScrape runs the receiver with system: good_job on rows as
// GoodJob writes them: size and latency of queued jobs, pausing from
// good_job_settings, GoodJob's states per queue, running age and stalled,
// processes (one holding its advisory lock, one alive by its heartbeat, one
// expired) with memory, busy/capacity and heartbeat age, totals from the
// processes' states. With postgres.estimate_above below the succeeded
// jobs, succeeded becomes one estimated figure for the table.
func TestGoodJobScrape(t *testing.T) {
	srv := goodJobDatabase(t)
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return "'" + now.Add(d).Format("2006-01-02 15:04:05") + "'" }
	params := func(executions string) string {
		return `'{"job_class": "MailJob", "arguments": [], "executions": ` + executions + `, "locale": "en"}'`
	}
	state := func(host, memory string, maxThreads, active int) string {
		return `'{"hostname": "` + host + `", "pid": 7, "memory": ` + memory + `, "proctitle": "/app/bin/good_job",
			"schedulers": [{"queues": "*", "max_threads": ` + strconv.Itoa(maxThreads) + `, "active_threads": ` + strconv.Itoa(active) + `}],
			"total_succeeded_executions_count": 40, "total_errored_executions_count": 2}'`
	}
	srv.Exec("app",
		`INSERT INTO good_job_processes (id, state, lock_type, created_at, updated_at) VALUES
			('00000000-0000-4000-8000-00000000000a', `+state("web-1", "102400", 5, 1)+`, 0, `+ts(-time.Hour)+`, `+ts(-10*time.Second)+`),
			('00000000-0000-4000-8000-00000000000b', `+state("web-2", "0", 3, 0)+`, NULL, `+ts(-time.Hour)+`, `+ts(-time.Minute)+`),
			('00000000-0000-4000-8000-00000000000c', `+state("web-3", "0", 3, 0)+`, NULL, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`)`,
		`INSERT INTO good_jobs (queue_name, job_class, priority, serialized_params, scheduled_at, performed_at, finished_at, error,
			created_at, updated_at) VALUES
			('default', 'MailJob', 0, `+params("0")+`, `+ts(-2*time.Minute)+`, NULL, NULL, NULL, `+ts(-2*time.Minute)+`, `+ts(-2*time.Minute)+`),
			('default', 'MailJob', 0, `+params("0")+`, `+ts(-time.Second)+`, NULL, NULL, NULL, `+ts(-time.Second)+`, `+ts(-time.Second)+`),
			('default', 'MailJob', 0, `+params("0")+`, `+ts(-11*time.Minute)+`, `+ts(-10*time.Minute)+`, NULL, NULL, `+ts(-11*time.Minute)+`, `+ts(-10*time.Minute)+`),
			('mail', 'MailJob', 0, `+params("0")+`, `+ts(time.Hour)+`, NULL, NULL, NULL, `+ts(-time.Minute)+`, `+ts(-time.Minute)+`),
			('mail', 'MailJob', 0, `+params("2")+`, `+ts(time.Hour)+`, NULL, NULL, 'Net::ReadTimeout: slow', `+ts(-time.Hour)+`, `+ts(-time.Minute)+`),
			('mail', 'MailJob', 0, `+params("0")+`, `+ts(-30*time.Second)+`, NULL, NULL, NULL, `+ts(-30*time.Second)+`, `+ts(-30*time.Second)+`),
			('default', 'MailJob', 0, `+params("1")+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, NULL, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`),
			('mail', 'MailJob', 0, `+params("1")+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, NULL, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`),
			('mail', 'MailJob', 0, `+params("1")+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, NULL, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`),
			('mail', 'MailJob', 0, `+params("1")+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, `+ts(-time.Hour)+`, 'RuntimeError: boom', `+ts(-time.Hour)+`, `+ts(-time.Hour)+`)`,
		`INSERT INTO good_job_settings (key, value, created_at, updated_at) VALUES
			('pauses', '{"queues": ["mail"], "job_classes": [], "labels": []}', now(), now())`,
		"ANALYZE good_jobs")
	// Process a holds its advisory lock, as a running GoodJob process does.
	ctx := context.Background()
	lock, err := pgx.Connect(ctx, srv.URL("app"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = lock.Close(ctx) })
	_, err = lock.Exec(ctx, `SELECT pg_advisory_lock(('x' || substr(md5('good_job_processes-00000000-0000-4000-8000-00000000000a'), 1, 16))::bit(64)::bigint)`)
	require.NoError(t, err)

	cfg := goodJobConfig(srv, "postgres")
	cfg.Postgres.EstimateAbove = 2
	r := startReceiverAt(t, cfg, func() time.Time { return now })
	md, err := r.last(t)
	require.NoError(t, err)

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"default": 2, "mail": 1}, points(t, md, "jobqueue.queue.size", q))
	assert.Equal(t, map[string]float64{"default": 120, "mail": 30}, points(t, md, "jobqueue.queue.latency", q))
	assert.Equal(t, map[string]float64{"default": 0, "mail": 1}, points(t, md, "jobqueue.queue.paused", q))
	assert.Equal(t, map[string]float64{"default": 600, "mail": 0}, points(t, md, "jobqueue.job.running.max_age", q))
	assert.Equal(t, map[string]float64{"default": 1, "mail": 0}, points(t, md, "jobqueue.jobs.stalled", q), "running for 10m > 5m")
	jobs := points(t, md, "jobqueue.jobs", "jobqueue.job.state", q)
	for k, v := range jobs {
		if v == 0 {
			delete(jobs, k)
		}
	}
	assert.Equal(t, map[string]float64{
		"queued/default": 2, "running/default": 1, "queued/mail": 1, "scheduled/mail": 1, "retried/mail": 1, "discarded/mail": 1,
		"succeeded": 3,
	}, jobs, "3 succeeded jobs > estimate_above 2: one estimated figure for the table")
	assert.Equal(t, map[string]float64{"succeeded": 1}, points(t, md, "jobqueue.jobs.estimated", "jobqueue.job.state"))
	assert.Equal(t, map[string]float64{"": 2}, points(t, md, "jobqueue.processes"))
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.processes.stale"), "web-3's heartbeat expired")
	assert.Equal(t, map[string]float64{"": 1}, points(t, md, "jobqueue.workers.busy"))
	assert.Equal(t, map[string]float64{"": 8}, points(t, md, "jobqueue.workers.capacity"))
	assert.Equal(t, map[string]float64{"web-1": 10, "web-2": 60}, points(t, md, "jobqueue.process.heartbeat.age", "host.name"))
	assert.Equal(t, map[string]float64{"web-1": 102400 * 1024}, points(t, md, "jobqueue.process.memory.usage", "host.name"),
		"web-2 reports 0: not measured")
	assert.Equal(t, map[string]float64{"": 84}, points(t, md, "jobqueue.jobs.processed"))
	assert.Equal(t, map[string]float64{"": 4}, points(t, md, "jobqueue.jobs.failed"))
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	system, _ := res.Get("messaging.system")
	assert.Equal(t, "good_job", system.Str())
	namespace, _ := res.Get("db.namespace")
	assert.Equal(t, "app|public", namespace.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}

// TestGoodJobReadOnlyRoleAndMissingTables: the receiver reads under a role
// with only the README's GRANTs; pointed at a schema without GoodJob's
// tables, each scrape fails with an error saying what to check, and the
// receiver keeps scraping.
func TestGoodJobReadOnlyRoleAndMissingTables(t *testing.T) {
	srv := goodJobDatabase(t)
	srv.Exec("app",
		`INSERT INTO good_jobs (queue_name, job_class, serialized_params, scheduled_at, created_at, updated_at)
			VALUES ('default', 'MailJob', '{"executions": 0}', now() - interval '1 minute', now(), now())`)
	createReadOnlyRole(srv, "app", "good_jobs, good_job_processes, good_job_settings", "timezone = 'UTC'")

	r := startReceiver(t, goodJobConfig(srv, readOnlyRole))
	md, err := r.last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"default": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))

	assertMissingTables(t, goodJobConfig(srv, readOnlyRole), "empty", `relation "empty.good_jobs" does not exist`)
}
