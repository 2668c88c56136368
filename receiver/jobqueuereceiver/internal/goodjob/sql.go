// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goodjob // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/goodjob"

import (
	"strings"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
)

// Every statement below is written for the simple query protocol: pgx
// writes the arguments into the text client-side, so the whole batch is
// one message and one round trip. Times are passed as the snapshot's time
// written as a UTC timestamp without time zone (sqlTime), the type and
// zone of the datetime columns Rails creates; GoodJob's scopes compare with
// Time.current where the reader compares with its own clock.

// executions is ActiveJob's serialized attempt counter, NULL unless it is
// a plain non-negative integer: GoodJob casts it with ::integer, which
// would fail the whole statement on a hostile value; such rows are counted
// apart (no_executions) and reported as a problem instead.
const executions = `CASE WHEN j.serialized_params->>'executions' ~ '^[0-9]{1,9}$'
	THEN (j.serialized_params->>'executions')::integer END`

// queuesSQL discovers the queues that have jobs by a loose index scan of
// index_good_jobs_on_queue_name (one probe per queue, not a read of every
// job), at most $3 of them, and reads the unfinished jobs (WHERE
// finished_at IS NULL: the partial indexes of GoodJob's dequeue, such as
// index_good_jobs_on_scheduled_at) once, grouped by queue: the non-terminal
// states as GoodJob's scopes define them, the oldest queued job's
// scheduled_at (latency), the running jobs' oldest performed_at and those
// that started before $2 (stalled; NULL counts none).
const queuesSQL = `WITH RECURSIVE names AS (
	(SELECT queue_name FROM {jobs} WHERE queue_name IS NOT NULL ORDER BY queue_name LIMIT 1)
	UNION ALL
	SELECT (SELECT j.queue_name FROM {jobs} j WHERE j.queue_name > names.queue_name ORDER BY j.queue_name LIMIT 1)
	FROM names WHERE names.queue_name IS NOT NULL
), figures AS (
	SELECT j.queue_name,
		count(*) FILTER (WHERE j.performed_at IS NULL AND j.scheduled_at <= $1::timestamp) AS queued,
		min(j.scheduled_at) FILTER (WHERE j.performed_at IS NULL AND j.scheduled_at <= $1::timestamp) AS oldest_queued,
		count(*) FILTER (WHERE j.scheduled_at > $1::timestamp AND e.executions < 2) AS scheduled,
		count(*) FILTER (WHERE j.scheduled_at > $1::timestamp AND e.executions > 1) AS retried,
		count(*) FILTER (WHERE j.performed_at IS NOT NULL) AS running,
		min(j.performed_at) AS oldest_running,
		count(*) FILTER (WHERE j.performed_at < $2::timestamp) AS stalled,
		count(*) FILTER (WHERE j.scheduled_at > $1::timestamp AND e.executions IS NULL) AS no_executions,
		count(*) FILTER (WHERE j.performed_at IS NULL AND j.scheduled_at IS NULL) AS no_scheduled_at
	FROM {jobs} j CROSS JOIN LATERAL (SELECT ` + executions + ` AS executions) e
	WHERE j.finished_at IS NULL
	GROUP BY j.queue_name
)
SELECT n.queue_name, coalesce(f.queued, 0), f.oldest_queued, coalesce(f.scheduled, 0), coalesce(f.retried, 0),
	coalesce(f.running, 0), f.oldest_running, coalesce(f.stalled, 0), coalesce(f.no_executions, 0), coalesce(f.no_scheduled_at, 0)
FROM (SELECT queue_name FROM names WHERE queue_name IS NOT NULL LIMIT $3) n
LEFT JOIN figures f ON f.queue_name = n.queue_name`

// pausesSQL reads GoodJob::Setting.paused: one row, key 'pauses', value
// {"queues": [...], "job_classes": [...], "labels": [...]}.
const pausesSQL = `SELECT value::text FROM {settings} WHERE key = 'pauses'`

// processesSQL reads the process table with GoodJob::Process.active
// spelled out: a process holding its advisory lock (lock_type 0, the key
// GoodJob derives with its default md5 hash of 'good_job_processes-<id>',
// looked up in pg_locks as GoodJob's joins_advisory_locks does), or one
// without lock_type updated in the last 5 minutes (EXPIRED_INTERVAL). At
// most $2 rows are read.
const processesSQL = `SELECT p.id::text, p.updated_at,
	(p.lock_type = 0 AND EXISTS (
		SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.objsubid = 1
		AND l.classid = substring((('x' || substr(md5('good_job_processes' || '-' || p.id::text), 1, 16))::bit(64)::bigint)::bit(64) from 1 for 32)::bit(32)::int
		AND l.objid = substring((('x' || substr(md5('good_job_processes' || '-' || p.id::text), 1, 16))::bit(64)::bigint)::bit(64) from 33 for 32)::bit(32)::int
	)) OR (p.lock_type IS NULL AND p.updated_at > $1::timestamp - interval '5 minutes') AS active,
	(p.state->'hostname')::text, (p.state->'pid')::text, (p.state->'memory')::text, (p.state->'proctitle')::text,
	(p.state->'schedulers')::text,
	(p.state->'total_succeeded_executions_count')::text, (p.state->'total_errored_executions_count')::text
FROM {processes} p ORDER BY p.id LIMIT $2`

// Terminal states, as GoodJob's scopes define them: they grow with the
// history GoodJob keeps (preserve_job_records, cleaned after 14 days by
// default), so they are counted per queue only while small.
const (
	succeededWhere = `finished_at IS NOT NULL AND error IS NULL`
	discardedWhere = `finished_at IS NOT NULL AND error IS NOT NULL`
)

// terminalSQL counts a terminal state per queue. With a cap ($1 =
// estimate_above), it first counts at most $1 + 1 matching rows (the first
// row, total, carries that count); only when that is at most $1 does the
// per-queue GROUP BY run (PostgreSQL evaluates the uncorrelated sub-select
// once, as a one-time filter, before touching the table), so a huge history
// is never grouped on a scrape.
func terminalSQL(where string, capped bool) string {
	if !capped {
		return `SELECT false AS total, queue_name, count(*) FROM {jobs} WHERE ` + where + ` GROUP BY queue_name`
	}
	return `WITH capped AS MATERIALIZED (
	SELECT count(*) AS n FROM (SELECT 1 FROM {jobs} WHERE ` + where + ` LIMIT $1::bigint + 1) s
)
SELECT true AS total, NULL::text AS queue_name, n FROM capped
UNION ALL
SELECT false, queue_name, count(*) FROM {jobs} WHERE ` + where + ` AND (SELECT n FROM capped) <= $1::bigint GROUP BY queue_name`
}

// estimateSQL asks the planner how many rows match, without running the
// query: its "Plan Rows", from the table's statistics (as Oban's dashboard
// does beyond its own threshold).
func estimateSQL(where string) string {
	return `EXPLAIN (FORMAT JSON) SELECT 1 FROM {jobs} WHERE ` + where
}

// byClassSQL reads the class and error type of the newest $1 discarded
// jobs (index_good_jobs_on_discarded, finished_at DESC) and of the $1
// retried jobs due last (index_good_jobs_on_scheduled_at, unfinished).
// The error column is GoodJob's "<class>: <message>"; only the class
// travels.
const byClassSQL = `(SELECT 'discarded' AS state, job_class, split_part(left(error, 1024), ': ', 1) AS error_type
	FROM {jobs} WHERE ` + discardedWhere + ` ORDER BY finished_at DESC LIMIT $1)
UNION ALL
(SELECT 'retried', job_class, split_part(left(error, 1024), ': ', 1)
	FROM {jobs} j WHERE j.finished_at IS NULL AND j.scheduled_at > $2::timestamp AND (` + executions + `) > 1
	ORDER BY j.scheduled_at DESC LIMIT $1)`

// statements writes the schema-qualified table names into the texts.
type statements struct {
	queues, pauses, processes            string
	succeeded, discarded                 string
	succeededEstimate, discardedEstimate string
	byClass                              string
}

func newStatements(schema string, capped bool) statements {
	r := strings.NewReplacer(
		"{jobs}", pgclient.Table(schema, "good_jobs"),
		"{processes}", pgclient.Table(schema, "good_job_processes"),
		"{settings}", pgclient.Table(schema, "good_job_settings"),
	)
	return statements{
		queues:            r.Replace(queuesSQL),
		pauses:            r.Replace(pausesSQL),
		processes:         r.Replace(processesSQL),
		succeeded:         r.Replace(terminalSQL(succeededWhere, capped)),
		discarded:         r.Replace(terminalSQL(discardedWhere, capped)),
		succeededEstimate: r.Replace(estimateSQL(succeededWhere)),
		discardedEstimate: r.Replace(estimateSQL(discardedWhere)),
		byClass:           r.Replace(byClassSQL),
	}
}
