// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package solidqueue reads a Solid Queue (Rails, rails/solid_queue 1.x)
// installation's state from its PostgreSQL tables: queues, jobs per
// execution table, claimed (running) jobs and processes. It follows Solid
// Queue 1.5.0 (tag v1.5.0, commit 61a9f08): the tables and indexes of
// queue_schema.rb and what its models write (Job, ReadyExecution,
// ScheduledExecution, ClaimedExecution, FailedExecution, BlockedExecution,
// Pause, Process). It never writes. No real Solid Queue ran for its tests
// (the gem needs Ruby >= 3.2): they apply the schema as SQL
// (testdata/schema.sql), write rows as the models do, and compare every
// figure with the SQL of Mission Control Jobs 1.1 and of Solid Queue's
// Queue API run on the same database.
//
// # States
//
// A job's state is the execution table that holds it, as Job#status and
// Mission Control see it: ready, scheduled, claimed (running), blocked
// (waiting for a concurrency semaphore), failed; and finished (finished_at
// set, kept while preserve_finished_jobs, the default, until
// clear_finished_jobs_after). Solid Queue has no retry state: ActiveJob's
// retry_on enqueues the job again (a scheduled execution). Failed jobs stay
// until someone retries or discards them: the dead state.
//
// # Statements
//
// A snapshot is one pgx.Batch, one round trip whatever the number of
// queues, of these read-only statements (N is Options.EstimateAbove):
//
//  1. Queues, sizes, latencies, pauses. Solid Queue keeps no queue
//     registry: SolidQueue::Queue.all is the distinct queue_name of
//     solid_queue_jobs, read as Solid Queue reads it on PostgreSQL, a
//     recursive CTE walking index_solid_queue_jobs_for_filtering
//     (queue_name, finished_at) with one index probe per queue, plus
//     solid_queue_pauses. For each queue one lateral pass over
//     index_solid_queue_poll_by_queue (queue_name, priority, job_id) of its
//     ready executions gives count(*) (the size) and min(created_at) (the
//     latency, as Queue#latency). No index covers created_at, so each ready
//     row is visited once in the table; with an index (queue_name,
//     created_at), which Solid Queue's maintainers suggest in
//     rails/solid_queue#501, the planner can read both from that index
//     alone, without any change here. Cost: one index probe per queue plus
//     the ready rows.
//  2. Claimed executions: per queue count, min(created_at) (a claim is
//     created when a worker starts the job) and those older than
//     StalledAfter. A claimed execution has no queue_name: each row's job
//     is looked up by primary key. Cost: one row per busy thread.
//  3. Scheduled, blocked, failed and finished, one statement each: a count
//     capped at N+1 rows, then, only when it is within N, the count per
//     queue (scheduled and blocked carry queue_name but no index leads on
//     it; a failed execution's queue is its job's, one primary-key probe
//     per failed row; finished jobs are the solid_queue_jobs rows with
//     finished_at set); and EXPLAIN (FORMAT JSON) of the state's rows,
//     whose "Plan Rows" is reported, for all queues and Estimated, when the
//     count exceeds N. While a state stays past N (its last count did, the
//     planner still says so) only the EXPLAIN is sent: no table read at
//     all. N = 0 counts every state exactly, per queue, every time. Cost:
//     at most N+1 rows of each table.
//  4. Processes (at most 10,001 rows): kind, name, hostname, pid,
//     last_heartbeat_at, the first 8 KiB of metadata (workers write
//     queues and thread_pool_size there, as JSON) and the process's claimed
//     executions, counted on
//     index_solid_queue_claimed_executions_on_process_id_and_job_id.
//  5. Only with Options.ByClassMaxEntries: the newest failed executions
//     (primary key descending), their job's class_name and the first 2 KiB
//     of error, JSON {exception_class, message, backtrace} whose
//     exception_class Rails writes first.
//
// # How the figures map
//
// Processes are every registered kind (Worker, Dispatcher, Scheduler,
// Supervisor(fork|async)), identified by their name; a worker's capacity is
// its thread_pool_size, its busy count its claimed executions. A process
// whose heartbeat (every 60 s) is older than 5 minutes
// (SolidQueue.process_alive_threshold's default, after which the supervisor
// prunes it and fails its claimed jobs) is counted in ProcessesStale, not
// reported. Solid Queue records no memory, no quiet state and no execution
// totals: none is reported.
//
// Datetime columns are read as UTC, which is how Rails writes them, in
// whatever time zone the session has.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one
// of invalid_json (a process's metadata, a failed execution's error),
// invalid_value (a worker's metadata without thread_pool_size, an
// EXPLAIN without "Plan Rows"),
// rows_truncated (more than 10,000 queue names or processes),
// name_too_long, invalid_utf8, too_many_problems. Every name reported
// (queues, process names, hostnames, classes, exception classes) goes
// through snapshot.Name.
package solidqueue // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/solidqueue"
