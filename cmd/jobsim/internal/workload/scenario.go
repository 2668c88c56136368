// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"errors"
	"fmt"
	"time"
)

// Scenario describes a Sidekiq deployment (job classes, worker processes)
// and the incidents the simulator plays on it. It is plain data: a new
// scenario is a new function returning one, in its own file.
type Scenario struct {
	Classes   []Class
	Processes []Process
	// Backlogs are jobs already waiting when the simulation starts.
	Backlogs []Backlog

	// Heartbeat is how often processes check in (Sidekiq: 5 s).
	Heartbeat time.Duration
	// PollInterval is how often due retry and scheduled jobs are moved
	// back onto their queues (Sidekiq's poller: about 5 s).
	PollInterval time.Duration
	// CleanupInterval, when set, is how often the poller removes from the
	// process registry the processes whose heartbeat entry expired
	// (Sidekiq::ProcessSet.cleanup, which Sidekiq 6.4's poller runs every
	// tenth poll); 0 never cleans up.
	CleanupInterval time.Duration
}

// Class is one job class and how clients enqueue it and workers run it.
type Class struct {
	Name  string
	Queue string
	// Rate is the mean number of jobs enqueued per second.
	Rate float64
	// Wave, when set, makes the rate swing between 0.2x and 1.8x over this
	// period, so queues fill during peaks and drain after them.
	Wave time.Duration
	// Phase shifts the wave (0..1 of a period) so queues peak at different times.
	Phase float64
	// ScheduledShare is the share of jobs enqueued with perform_in (into
	// the schedule set, due between ScheduleMin and ScheduleMax later).
	ScheduledShare           float64
	ScheduleMin, ScheduleMax time.Duration

	// MinRun and MaxRun bound how long one execution takes.
	MinRun, MaxRun time.Duration
	// FailRate is the probability that an execution raises.
	FailRate float64
	// Errors are the exceptions a failing execution raises, picked at random.
	Errors []Error
	// Retry is the class's Sidekiq `retry` option.
	Retry Retry
}

// Error is an exception a job raises.
type Error struct {
	Class   string
	Message string
}

// Retry is Sidekiq's `retry` job option: true (up to 25 retries, then the
// dead set), false (a failure discards the job) or a number of retries.
type Retry int

const (
	// RetryDefault is `retry: true`: up to 25 retries, then the dead set.
	RetryDefault Retry = -1
	// RetryNever is `retry: false`: a failed job is dropped.
	RetryNever Retry = -2
)

// maxRetries is how many retries a failing job gets before the dead set.
func (r Retry) maxRetries() int {
	if r == RetryDefault {
		return 25 // Sidekiq::JobRetry::DEFAULT_MAX_RETRY_ATTEMPTS
	}
	return int(r)
}

// Process is one Sidekiq worker process.
type Process struct {
	Hostname    string
	Concurrency int
	// Queues are fetched in strict order (Sidekiq without queue weights).
	Queues []string
	// RSS is the resident memory the process reports, in KB.
	RSS int64
	// QuietAfter, when set, quiets the process this long after the start:
	// it finishes its running jobs and takes no new ones (TSTP).
	QuietAfter time.Duration
	// CrashAfter, when set, kills the process this long after the start
	// (kill -9): it stops heartbeating and its running jobs are lost.
	CrashAfter time.Duration
	// StartAfter, when set, starts the process this long after the start
	// (scaling out); before then it does not exist.
	StartAfter time.Duration
	// LongJob, when set, is a job already running at the start that never
	// finishes, so it ends up stalled.
	LongJob *LongJob
}

// LongJob is a job that has been running for RunningFor when the simulation
// starts, and finishes (successfully) FinishAfter the start; never when
// FinishAfter is 0.
type LongJob struct {
	Class       string
	RunningFor  time.Duration
	FinishAfter time.Duration
}

// Backlog is Jobs jobs of Class waiting when the simulation starts,
// enqueued evenly over the Oldest before it (the oldest Oldest ago).
type Backlog struct {
	Class  string
	Jobs   int
	Oldest time.Duration
}

// Validate reports what makes the scenario unplayable.
func (sc *Scenario) Validate() error {
	var errs []error
	if sc.Heartbeat <= 0 || sc.PollInterval <= 0 || sc.CleanupInterval < 0 {
		errs = append(errs, errors.New("heartbeat and poll interval must be positive, the cleanup interval not negative"))
	}
	classes := make(map[string]bool, len(sc.Classes))
	for _, c := range sc.Classes {
		switch {
		case c.Name == "" || c.Queue == "":
			errs = append(errs, fmt.Errorf("class %q: needs a name and a queue", c.Name))
		case classes[c.Name]:
			errs = append(errs, fmt.Errorf("class %q: defined twice", c.Name))
		case c.Rate < 0 || c.MinRun <= 0 || c.MaxRun < c.MinRun:
			errs = append(errs, fmt.Errorf("class %q: needs rate >= 0 and 0 < min run <= max run", c.Name))
		case c.FailRate > 0 && len(c.Errors) == 0:
			errs = append(errs, fmt.Errorf("class %q: fails but has no errors to raise", c.Name))
		case c.ScheduledShare > 0 && (c.ScheduleMin <= 0 || c.ScheduleMax < c.ScheduleMin):
			errs = append(errs, fmt.Errorf("class %q: schedules jobs but has no schedule window", c.Name))
		case c.Retry < RetryNever:
			errs = append(errs, fmt.Errorf("class %q: invalid retry option %d", c.Name, c.Retry))
		}
		classes[c.Name] = true
	}
	for _, p := range sc.Processes {
		if p.Hostname == "" || p.Concurrency <= 0 || len(p.Queues) == 0 {
			errs = append(errs, fmt.Errorf("process %q: needs a hostname, concurrency > 0 and queues", p.Hostname))
		}
		if p.LongJob != nil && !classes[p.LongJob.Class] {
			errs = append(errs, fmt.Errorf("process %q: long job class %q is not defined", p.Hostname, p.LongJob.Class))
		}
		if p.LongJob != nil && p.StartAfter > 0 {
			errs = append(errs, fmt.Errorf("process %q: a process that starts later cannot have a job already running", p.Hostname))
		}
	}
	for _, b := range sc.Backlogs {
		if !classes[b.Class] || b.Jobs <= 0 || b.Oldest <= 0 {
			errs = append(errs, fmt.Errorf("backlog of %q: needs a defined class, jobs > 0 and an age", b.Class))
		}
	}
	return errors.Join(errs...)
}
