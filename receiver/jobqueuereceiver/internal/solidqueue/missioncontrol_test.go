// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package solidqueue

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// internalQueryCountLimit is MissionControl::Jobs.internal_query_count_limit:
// Mission Control counts at most this many rows, and shows more as
// infinity.
const internalQueryCountLimit = 500_000

// missionControl sends, one statement per round trip as ActiveRecord does,
// the SQL that Mission Control Jobs 1.1 (rails/mission_control-jobs
// aae86ee, lib/active_job/queue_adapters/solid_queue_ext.rb and
// solid_queue_ext/workers.rb) and the Solid Queue 1.5.0 API it calls
// (SolidQueue::Queue, Record::DistinctValues) run for the figures a
// snapshot reports: the reference the reader is compared with.
type missionControl struct {
	q      pgclient.Querier
	schema string
}

func (m missionControl) t(name string) string { return pgclient.Table(m.schema, name) }

func (m missionControl) query(tb testing.TB, sql string, args []any, scan func(pgx.Rows) error) {
	tb.Helper()
	rows, err := m.q.Query(context.Background(), sql, args...)
	require.NoError(tb, err, sql)
	defer rows.Close()
	for rows.Next() {
		require.NoError(tb, scan(rows), sql)
	}
	require.NoError(tb, rows.Err(), sql)
}

func (m missionControl) int(tb testing.TB, sql string, args ...any) int64 {
	tb.Helper()
	var n int64
	m.query(tb, sql, args, func(r pgx.Rows) error { return r.Scan(&n) })
	return n
}

// queueNames is SolidQueue::Queue.all: Job.distinct_values_of(:queue_name),
// the recursive CTE of loose_distinct_via_recursive_cte.
func (m missionControl) queueNames(tb testing.TB) []string {
	jobs := m.t(tJobs)
	sql := `WITH RECURSIVE t AS ((SELECT ` + jobs + `."queue_name" FROM ` + jobs + ` WHERE ("queue_name" IS NOT NULL) ORDER BY "queue_name" LIMIT 1) ` +
		`UNION ALL SELECT (SELECT ` + jobs + `."queue_name" FROM ` + jobs + ` WHERE ("queue_name" > t."queue_name") ORDER BY "queue_name" LIMIT 1) FROM t WHERE t."queue_name" IS NOT NULL) ` +
		`SELECT "queue_name" FROM t WHERE "queue_name" IS NOT NULL`
	var names []string
	m.query(tb, sql, nil, func(r pgx.Rows) error {
		var n string
		err := r.Scan(&n)
		names = append(names, n)
		return err
	})
	return names
}

// paused is the adapter's queues: Pause.where(queue_name: names).
func (m missionControl) paused(tb testing.TB, names []string) map[string]bool {
	out := map[string]bool{}
	if len(names) == 0 {
		return out
	}
	ph := make([]string, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		ph[i], args[i] = "$"+strconv.Itoa(i+1), n
	}
	p := m.t(tPauses)
	m.query(tb, `SELECT `+p+`.* FROM `+p+` WHERE `+p+`."queue_name" IN (`+strings.Join(ph, ", ")+`)`, args, func(r pgx.Rows) error {
		var (
			id      int64
			name    string
			created time.Time
		)
		err := r.Scan(&id, &name, &created)
		out[name] = true
		return err
	})
	return out
}

// size is Queue#size: ReadyExecution.queued_as(name).count.
func (m missionControl) size(tb testing.TB, queue string) int64 {
	r := m.t(tReady)
	return m.int(tb, `SELECT COUNT(*) FROM `+r+` WHERE `+r+`."queue_name" = $1`, queue)
}

// latency is Queue#latency: (now - (ReadyExecution.queued_as(name).minimum(:created_at) || now)).to_i.
func (m missionControl) latency(tb testing.TB, queue string, now time.Time) time.Duration {
	r := m.t(tReady)
	var oldest *time.Time
	m.query(tb, `SELECT MIN(`+r+`."created_at") FROM `+r+` WHERE `+r+`."queue_name" = $1`, []any{queue},
		func(rows pgx.Rows) error { return rows.Scan(&oldest) })
	if oldest == nil {
		return 0
	}
	return now.Sub(*oldest).Truncate(time.Second)
}

// count is SolidQueueJobs#count for a status (Mission Control's pending,
// scheduled, in_progress, blocked, failed, finished: ready, scheduled,
// claimed, blocked, failed, finished), filtered by queue unless queue is
// "": internally_limited_count, -1 meaning Mission Control's infinity.
// Ready executions are filtered on their own queue_name, the others
// through their job (includes + where(job: {queue_name:})).
func (m missionControl) count(tb testing.TB, state, queue string) int64 {
	var from, where string
	var args []any
	switch state {
	case StateFinished:
		from, where = m.t(tJobs), m.t(tJobs)+`."finished_at" IS NOT NULL`
		if queue != "" {
			where += ` AND ` + m.t(tJobs) + `."queue_name" = $1`
		}
	case StateReady:
		from, where = m.t(tReady), "TRUE"
		if queue != "" {
			where = m.t(tReady) + `."queue_name" = $1`
		}
	default:
		exec := m.t(map[string]string{StateScheduled: tScheduled, StateClaimed: tClaimed, StateBlocked: tBlocked, StateFailed: tFailed}[state])
		from, where = exec, "TRUE"
		if queue != "" {
			from = exec + ` LEFT OUTER JOIN ` + m.t(tJobs) + ` ON ` + m.t(tJobs) + `."id" = ` + exec + `."job_id"`
			where = m.t(tJobs) + `."queue_name" = $1`
		}
	}
	if queue != "" {
		args = append(args, queue)
	}
	n := m.int(tb, `SELECT COUNT(*) FROM (SELECT 1 AS one FROM `+from+` WHERE `+where+` LIMIT `+strconv.Itoa(internalQueryCountLimit+1)+`) subquery_for_count`, args...)
	if n == internalQueryCountLimit+1 {
		return -1
	}
	return n
}

// mcWorker is a worker as the Workers extension shows it.
type mcWorker struct {
	id                       int64
	name, hostname, metadata string
	pid                      int64
	lastHeartbeat            time.Time
}

// workers is fetch_workers: Process.where(kind: "Worker").
func (m missionControl) workers(tb testing.TB) []mcWorker {
	var out []mcWorker
	p := m.t(tProcesses)
	m.query(tb, `SELECT `+p+`.* FROM `+p+` WHERE `+p+`."kind" = $1`, []any{"Worker"}, func(r pgx.Rows) error {
		var (
			w          mcWorker
			kind       string
			supervisor *int64
			hostname   *string
			metadata   *string
			created    time.Time
		)
		err := r.Scan(&w.id, &kind, &w.lastHeartbeat, &supervisor, &w.pid, &hostname, &metadata, &created, &w.name)
		if hostname != nil {
			w.hostname = *hostname
		}
		if metadata != nil {
			w.metadata = *metadata
		}
		out = append(out, w)
		return err
	})
	return out
}

// workerJobs is the in-progress jobs of a worker (filtered by worker_id:
// ClaimedExecution.where(process_id:)), counted.
func (m missionControl) workerJobs(tb testing.TB, id int64) int64 {
	c := m.t(tClaimed)
	return m.int(tb, `SELECT COUNT(*) FROM (SELECT 1 AS one FROM `+c+` WHERE `+c+`."process_id" = $1 LIMIT `+strconv.Itoa(internalQueryCountLimit+1)+`) subquery_for_count`, id)
}

// assertMatchesMissionControl compares every figure of s with Mission
// Control's (and Solid Queue's Queue API) on the same database.
func assertMatchesMissionControl(t *testing.T, f *fixture, s *snapshot.Snapshot) {
	t.Helper()
	mc := missionControl{q: f.client("postgres"), schema: f.schema}
	names := mc.queueNames(t)
	paused := mc.paused(t, snapshottest.QueueNames(s))
	for _, q := range s.Queues {
		if !slices.Contains(names, q.Name) {
			// A paused queue without any job: Mission Control lists
			// queues from solid_queue_jobs only.
			assert.True(t, q.Paused, "%s is reported without jobs only when paused", q.Name)
			assert.Zero(t, q.Size)
			continue
		}
		assert.Equal(t, mc.size(t, q.Name), q.Size, "size of %s", q.Name)
		assert.Equal(t, mc.latency(t, q.Name, f.now), q.Latency.Truncate(time.Second), "latency of %s", q.Name)
		assert.Equal(t, paused[q.Name], q.Paused, "paused %s", q.Name)
		jobs := snapshottest.Jobs(s, q.Name)
		for _, state := range []string{StateReady, StateScheduled, StateClaimed, StateBlocked, StateFailed, StateFinished} {
			if n, ok := jobs[state]; ok {
				assert.Equal(t, mc.count(t, state, q.Name), n, "%s jobs of %s", state, q.Name)
			}
		}
	}
	if len(s.Queues) == s.QueuesDiscovered { // no queue left out by the selection
		for _, n := range names {
			assert.Contains(t, snapshottest.QueueNames(s), n, "every queue Mission Control lists")
		}
	}
	for state, n := range snapshottest.Jobs(s, "") { // estimated figures
		if mcCount := mc.count(t, state, ""); mcCount >= 0 {
			assert.InEpsilon(t, float64(mcCount), float64(n), 0.2, "estimate of %s", state)
		}
	}

	for _, w := range mc.workers(t) {
		if f.now.Sub(w.lastHeartbeat) > processAliveThreshold {
			continue // prunable: reported as stale
		}
		var p *snapshot.Process
		for i := range s.Processes {
			if s.Processes[i].ID == w.name {
				p = &s.Processes[i]
			}
		}
		require.NotNil(t, p, "worker %s", w.name)
		assert.Equal(t, w.hostname, p.Hostname)
		assert.Equal(t, w.pid, p.PID)
		assert.Equal(t, f.now.Sub(w.lastHeartbeat), p.HeartbeatAge)
		assert.Equal(t, mc.workerJobs(t, w.id), p.Busy, "busy of %s", w.name)
		var meta struct {
			ThreadPoolSize int64 `json:"thread_pool_size"`
		}
		require.NoError(t, json.Unmarshal([]byte(w.metadata), &meta))
		assert.Equal(t, meta.ThreadPoolSize, p.Concurrency)
	}
}
