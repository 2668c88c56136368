// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package snapshot holds what one read of a job system's store (Redis or
// PostgreSQL) saw, as plain
// Go values. Readers (one package per job system) fill it; the receiver turns
// it into metrics and alerts; jobqctl prints it. Nothing here knows pdata.
//
// Every name in a Snapshot (queue, process identity, hostname, tag, class,
// error type, problem key) is bounded by Name, so each consumer can use it
// as a metric attribute or alert label as is.
package snapshot // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"

import (
	"context"
	"time"
)

// Reader takes snapshots of one job system's store. Implementations are
// read-only and cost a fixed number of round trips per call.
type Reader interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
}

// Snapshot is the state of one job system at one moment.
type Snapshot struct {
	// System is the job system, e.g. "sidekiq"; it becomes messaging.system.
	System string `json:"system"`
	// Time is when the snapshot was taken (the reader's clock). Ages are
	// measured against it.
	Time time.Time `json:"time"`

	// Queues are the queues kept after include/exclude and the max guard,
	// sorted by name.
	Queues []Queue `json:"queues"`
	// QueuesDiscovered counts queue names in the system's registry.
	QueuesDiscovered int `json:"queues_discovered"`
	// QueuesDropped counts queues that passed the filters but were cut by
	// the max-queues guard.
	QueuesDropped int `json:"queues_dropped"`

	// Jobs are job counts per state, e.g. scheduled, retry, dead, busy.
	// Queue is empty where the system keeps the count globally.
	Jobs []StateCount `json:"jobs"`
	// DeadState is the state of Jobs that holds the jobs the system gave up
	// on (out of retries, kept until a person acts): Sidekiq's dead,
	// BullMQ's, RQ's and Resque's failed, asynq's archived. Empty for
	// systems that keep none (Celery's broker).
	DeadState string `json:"dead_state,omitempty"`
	// Totals are cumulative executions; Queue is empty for global counters.
	Totals []Totals `json:"totals"`

	// Processes are the live worker processes, sorted by ID.
	Processes []Process `json:"processes"`
	// ProcessesStale counts registry entries whose process is gone.
	ProcessesStale int `json:"processes_stale"`
	// ProcessesUnknown is true for systems that keep no worker registry in
	// Redis (Celery): no process or worker figure can be told, and none is
	// reported (not a count of 0).
	ProcessesUnknown bool `json:"processes_unknown,omitempty"`

	// ByClass is the optional retry/dead breakdown by job class and error
	// type; nil when not requested.
	ByClass []ClassCount `json:"by_class,omitempty"`

	// Problems lists bad data that was skipped (never fatal).
	Problems []Problem `json:"problems,omitempty"`

	// RoundTrips and Commands count the round trips and commands (Redis
	// commands, SQL statements) this snapshot cost (connection set-up
	// excluded).
	RoundTrips int64 `json:"round_trips"`
	Commands   int64 `json:"commands"`
}

// Queue is one queue's waiting and in-flight jobs.
type Queue struct {
	Name string `json:"name"`
	// Size is the number of jobs waiting to be picked up.
	Size int64 `json:"size"`
	// Latency is the age of the oldest waiting job; 0 when the queue is
	// empty or the oldest job carries no usable timestamp.
	Latency time.Duration `json:"latency"`
	// LatencyUnknown is true for systems whose jobs carry no enqueue time
	// (Celery, Resque): no latency can be told, and none is reported.
	LatencyUnknown bool `json:"latency_unknown,omitempty"`
	// Paused is true when the system reports the queue as paused.
	Paused bool `json:"paused"`
	// PausedKnown is false for systems (or editions) that cannot pause.
	PausedKnown bool `json:"paused_known"`
	// Running is the number of jobs of this queue being executed now.
	Running int64 `json:"running"`
	// RunningMaxAge is how long the longest-running in-flight job of this
	// queue has been running; 0 when none runs.
	RunningMaxAge time.Duration `json:"running_max_age"`
	// Stalled counts in-flight jobs running longer than stalled_after.
	Stalled int64 `json:"stalled"`
}

// Job states shared across systems (jobqueue.job.state values).
const (
	StateScheduled   = "scheduled"
	StateRetry       = "retry"
	StateDead        = "dead"
	StateBusy        = "busy"
	StateActive      = "active"
	StateFailed      = "failed"
	StateCompleted   = "completed"
	StateDelayed     = "delayed"
	StatePrioritized = "prioritized"
)

// StateCount is the number of jobs in one state.
type StateCount struct {
	State string `json:"state"`
	Queue string `json:"queue,omitempty"`
	Count int64  `json:"count"`
	// Estimated is true when Count is the PostgreSQL planner's estimate
	// rather than an exact count (a state beyond postgres.estimate_above).
	Estimated bool `json:"estimated,omitempty"`
}

// Totals are cumulative execution counters as the job system keeps them.
type Totals struct {
	Queue     string `json:"queue,omitempty"`
	Processed int64  `json:"processed"`
	Failed    int64  `json:"failed"`
}

// Process is one live worker process.
type Process struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname"`
	PID      int64  `json:"pid"`
	Tag      string `json:"tag,omitempty"`
	// Busy is the number of busy worker slots as the process reports it.
	Busy int64 `json:"busy"`
	// Concurrency is the number of worker slots.
	Concurrency int64 `json:"concurrency"`
	// MemoryBytes is resident memory; MemoryKnown is false when the system
	// does not report it (or reports 0, meaning "not measured").
	MemoryBytes int64 `json:"memory_bytes"`
	MemoryKnown bool  `json:"memory_known"`
	// HeartbeatAge is the time since the process last checked in.
	HeartbeatAge time.Duration `json:"heartbeat_age"`
	// Quiet is true when the process stopped taking new jobs.
	Quiet bool `json:"quiet"`
	// Queues are the queues the process works on.
	Queues []string `json:"queues,omitempty"`
}

// ClassCount is one cell of the retry/dead breakdown.
type ClassCount struct {
	State     string `json:"state"`
	Class     string `json:"class"`
	ErrorType string `json:"error_type"`
	Count     int64  `json:"count"`
}

// Problem is one piece of bad data a reader skipped.
type Problem struct {
	// Kind names the problem, e.g. "invalid_json", "missing_timestamp",
	// "wrong_type", "stale_process"; stable, for counting and log dedup.
	Kind string `json:"kind"`
	// Key is the Redis key (and field) where it was found.
	Key string `json:"key"`
	// Detail is a short human explanation; never the raw payload.
	Detail string `json:"detail"`
}

// WorkersBusy is the number of busy worker slots over all live processes.
func (s *Snapshot) WorkersBusy() int64 {
	var n int64
	for i := range s.Processes {
		n += s.Processes[i].Busy
	}
	return n
}

// WorkersCapacity is the number of worker slots over all live processes.
func (s *Snapshot) WorkersCapacity() int64 {
	var n int64
	for i := range s.Processes {
		n += s.Processes[i].Concurrency
	}
	return n
}
