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

// riverDatabase starts a PostgreSQL with River v0.51.2's schema, migrated
// by River's own migrator, in database "jobs".
func riverDatabase(t *testing.T) *pgtest.Server {
	t.Helper()
	srv := pgtest.Start(t)
	srv.CreateRiverDatabase("jobs")
	return srv
}

func riverConfig(srv *pgtest.Server, role string) *Config {
	return postgresConfig(srv, SystemRiver, "jobs", role)
}

// TestRiverScrape runs the receiver with system: river on rows as River
// writes them: size and latency of available jobs, pausing from
// river_queue, River's states per queue, running age and stalled; no
// process metric (River keeps no process table), no totals. With
// postgres.estimate_above below the completed jobs, completed becomes one
// estimated figure for the table.
func TestRiverScrape(t *testing.T) {
	srv := riverDatabase(t)
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(ago time.Duration) string { return "'" + now.Add(-ago).Format(time.RFC3339) + "'" }
	srv.Exec("jobs",
		"INSERT INTO river_queue (name, paused_at) VALUES ('default', NULL), ('mail', "+ts(time.Hour)+")",
		`INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, scheduled_at, attempted_at, finalized_at) VALUES
			('available', 'default', 'send', '{}', 25, 0, `+ts(2*time.Minute)+`, NULL, NULL),
			('available', 'default', 'send', '{}', 25, 0, `+ts(time.Second)+`, NULL, NULL),
			('running', 'default', 'send', '{}', 25, 1, `+ts(11*time.Minute)+`, `+ts(10*time.Minute)+`, NULL),
			('scheduled', 'mail', 'digest', '{}', 25, 0, now() + interval '1 hour', NULL, NULL),
			('available', 'mail', 'digest', '{}', 25, 0, `+ts(30*time.Second)+`, NULL, NULL),
			('completed', 'default', 'send', '{}', 25, 1, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`),
			('completed', 'mail', 'digest', '{}', 25, 1, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`),
			('completed', 'mail', 'digest', '{}', 25, 1, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`),
			('discarded', 'mail', 'digest', '{}', 1, 1, `+ts(time.Hour)+`, `+ts(time.Hour)+`, `+ts(time.Hour)+`)`,
		"ANALYZE river_job")

	cfg := riverConfig(srv, "postgres")
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
		"available/default": 2, "running/default": 1, "available/mail": 1, "scheduled/mail": 1, "discarded/mail": 1,
		"completed": 3,
	}, jobs, "3 completed jobs > estimate_above 2: one estimated figure for the table")
	assert.Equal(t, map[string]float64{"completed": 1}, points(t, md, "jobqueue.jobs.estimated", "jobqueue.job.state"))
	for _, m := range []string{"jobqueue.processes", "jobqueue.workers.busy", "jobqueue.process.heartbeat.age", "jobqueue.jobs.processed"} {
		assert.False(t, hasMetric(md, m), "%s: River keeps no process table nor totals", m)
	}
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	system, _ := res.Get("messaging.system")
	assert.Equal(t, "river", system.Str())
	namespace, _ := res.Get("db.namespace")
	assert.Equal(t, "jobs|public", namespace.Str())
	assert.Empty(t, r.logs.FilterMessage(scrapeErrorLog).All())
}

// TestRiverReadOnlyRoleAndMissingTables: the receiver reads under a role
// with only the README's GRANTs; pointed at a schema without River's
// tables, each scrape fails with an error saying what to check, and the
// receiver keeps scraping.
func TestRiverReadOnlyRoleAndMissingTables(t *testing.T) {
	srv := riverDatabase(t)
	srv.Exec("jobs",
		"INSERT INTO river_job (queue, kind, args, max_attempts) VALUES ('default', 'send', '{}', 25)")
	createReadOnlyRole(srv, "jobs", "river_job, river_queue")

	r := startReceiver(t, riverConfig(srv, readOnlyRole))
	md, err := r.last(t)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"default": 1}, points(t, md, "jobqueue.queue.size", "messaging.destination.name"))

	assertMissingTables(t, riverConfig(srv, readOnlyRole), "empty", `relation "empty.river_queue" does not exist`)
}
