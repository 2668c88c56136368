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

// obanDatabase starts a PostgreSQL with Oban's schema at migration v14
// (internal/oban/testdata/schema.sql, from oban v2.23.0) in database
// "jobs", plus the README's read-only role.
func obanDatabase(t *testing.T) *pgtest.Server {
	t.Helper()
	srv := schemaDatabase(t, "jobs", "internal/oban/testdata/schema.sql")
	createReadOnlyRole(srv, "jobs", "public.oban_jobs")
	return srv
}

func obanConfig(srv *pgtest.Server) *Config {
	return postgresConfig(srv, SystemOban, "jobs", readOnlyRole)
}

// TestObanScrape runs the receiver with system: oban, as the read-only
// role, on rows as Oban 2.23 writes them: size and latency of available
// jobs, Oban's states per queue, executing jobs' age and stalled count,
// the retryable/discarded breakdown; no pausing, process or total metric
// (open-source Oban keeps none in its tables). With
// postgres.estimate_above below the completed jobs, completed becomes one
// estimated figure for the table.
func TestObanScrape(t *testing.T) {
	srv := obanDatabase(t)
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(ago time.Duration) string { return "'" + now.Add(-ago).Format("2006-01-02 15:04:05") + "'" }
	boom := `ARRAY['{"at": "2026-11-27T10:00:00Z", "attempt": 1, "error": "** (RuntimeError) boom\n    lib/app.ex:1"}'::jsonb]`
	srv.Exec("jobs",
		`INSERT INTO oban_jobs (state, queue, worker, args, attempt, max_attempts, scheduled_at, attempted_at, attempted_by,
			completed_at, discarded_at, errors) VALUES
			('available', 'default', 'App.Mailer', '{}', 0, 20, `+ts(2*time.Minute)+`, NULL, NULL, NULL, NULL, '{}'),
			('available', 'default', 'App.Mailer', '{}', 0, 20, `+ts(time.Second)+`, NULL, NULL, NULL, NULL, '{}'),
			('executing', 'default', 'App.Mailer', '{}', 1, 20, `+ts(11*time.Minute)+`, `+ts(10*time.Minute)+`, ARRAY['a@h', 'u'], NULL, NULL, '{}'),
			('scheduled', 'mail', 'App.Digest', '{}', 0, 20, now() + interval '1 hour', NULL, NULL, NULL, NULL, '{}'),
			('available', 'mail', 'App.Digest', '{}', 0, 20, `+ts(30*time.Second)+`, NULL, NULL, NULL, NULL, '{}'),
			('retryable', 'mail', 'App.Digest', '{}', 1, 20, now() + interval '1 hour', `+ts(time.Minute)+`, ARRAY['a@h', 'u'], NULL, NULL, `+boom+`),
			('completed', 'default', 'App.Mailer', '{}', 1, 20, `+ts(time.Hour)+`, `+ts(time.Hour)+`, ARRAY['a@h', 'u'], `+ts(time.Hour)+`, NULL, '{}'),
			('completed', 'mail', 'App.Digest', '{}', 1, 20, `+ts(time.Hour)+`, `+ts(time.Hour)+`, ARRAY['a@h', 'u'], `+ts(time.Hour)+`, NULL, '{}'),
			('completed', 'mail', 'App.Digest', '{}', 1, 20, `+ts(time.Hour)+`, `+ts(time.Hour)+`, ARRAY['a@h', 'u'], `+ts(time.Hour)+`, NULL, '{}'),
			('discarded', 'mail', 'App.Digest', '{}', 1, 1, `+ts(time.Hour)+`, `+ts(time.Hour)+`, ARRAY['a@h', 'u'], NULL, `+ts(time.Hour)+`, `+boom+`)`,
		"ANALYZE oban_jobs")

	cfg := obanConfig(srv)
	cfg.Postgres.EstimateAbove = 2
	cfg.Metrics.JobqueueJobsByClass.Enabled = true
	r := startReceiverAt(t, cfg, func() time.Time { return now })
	md, err := r.last(t)
	require.NoError(t, err)

	q := "messaging.destination.name"
	assert.Equal(t, map[string]float64{"default": 2, "mail": 1}, points(t, md, "jobqueue.queue.size", q))
	assert.Equal(t, map[string]float64{"default": 120, "mail": 30}, points(t, md, "jobqueue.queue.latency", q))
	assert.Equal(t, map[string]float64{"default": 600, "mail": 0}, points(t, md, "jobqueue.job.running.max_age", q))
	assert.Equal(t, map[string]float64{"default": 1, "mail": 0}, points(t, md, "jobqueue.jobs.stalled", q), "executing for 10m > 5m")
	jobs := points(t, md, "jobqueue.jobs", "jobqueue.job.state", q)
	for k, v := range jobs {
		if v == 0 {
			delete(jobs, k)
		}
	}
	assert.Equal(t, map[string]float64{
		"available/default": 2, "executing/default": 1, "available/mail": 1, "scheduled/mail": 1, "retryable/mail": 1,
		"discarded/mail": 1, "completed": 3,
	}, jobs, "3 completed jobs > estimate_above 2: one estimated figure for the table")
	assert.Equal(t, map[string]float64{"completed": 1}, points(t, md, "jobqueue.jobs.estimated", "jobqueue.job.state"))
	assert.Equal(t, map[string]float64{"discarded/App.Digest/RuntimeError": 1, "retryable/App.Digest/RuntimeError": 1},
		points(t, md, "jobqueue.jobs.by_class", "jobqueue.job.state", "jobqueue.job.class", "error.type"))
	for _, m := range []string{"jobqueue.queue.paused", "jobqueue.processes", "jobqueue.workers.busy", "jobqueue.process.heartbeat.age", "jobqueue.jobs.processed"} {
		assert.False(t, hasMetric(md, m), "%s: open-source Oban keeps no pausing, process table nor totals in its tables", m)
	}
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	system, _ := res.Get("messaging.system")
	assert.Equal(t, "oban", system.Str())
	namespace, _ := res.Get("db.namespace")
	assert.Equal(t, "jobs|public", namespace.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}

// TestObanMissingTable: pointed at a schema without Oban's tables (or a
// wrong system's database), each scrape fails with an error saying what
// to check, and the receiver keeps scraping.
func TestObanMissingTable(t *testing.T) {
	srv := obanDatabase(t)
	for schema, want := range map[string]string{
		"empty":   `type "empty.oban_job_state" does not exist`,
		"missing": `schema "missing" does not exist`,
	} {
		assertMissingTables(t, obanConfig(srv), schema, want)
	}
}
