// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import "time"

// Demo is the scenario behind `make demo`: four queues served by four
// processes, with incidents timed to show within a couple of minutes and to
// end within five, so that the job_queue receiver's alerts (config/demo.yaml
// puts them on the console) fire and resolve while you watch:
//
//   - default and mailers fill during load peaks and drain after them:
//     11 jobs/s keep about 15 of the 24 worker slots busy on average (a job
//     holds its slot for at least one 1 s tick) and peaks need more,
//     especially once batch-1 is gone; critical, fetched first, stays short;
//   - a few percent of executions fail and retry with Sidekiq's back-off;
//     webhooks (retry: 2) fail often and reach the dead set in about a minute;
//   - reports starts with a backlog whose oldest job is 4m45s old; its only
//     process (reports-1, 640 MiB: process_memory_high from the start)
//     works it slowly and goes quiet at 20 s, so the queue latency passes 5
//     minutes about half a minute in and keeps growing (queue_latency_high)
//     until reports-2 starts at 3m10s with 50 threads and drains it within
//     a minute (resolved);
//   - web-2 is running a data migration that started 4m45s before the start,
//     so it is stalled (> 5 min) after about 15 s (stalled_jobs) until it
//     finishes at 3m (resolved);
//   - batch-1 crashes at 60 s: its heartbeat ages (process_heartbeat_missing
//     past 30 s), its process entry expires 60 s later while its name stays
//     in the `processes` set (the stale form of the same alert), and the
//     poller's registry clean-up at 4m removes it (resolved).
func Demo() Scenario {
	minute := time.Minute
	return Scenario{
		Heartbeat:    5 * time.Second,
		PollInterval: 5 * time.Second,
		// Sidekiq 6.4 cleans up every tenth poll, and polls about every
		// 5 s per process: with five processes, every few minutes.
		CleanupInterval: 4 * minute,
		Classes: []Class{
			{
				Name: "PaymentCaptureJob", Queue: "critical", Rate: 2, Wave: 2 * minute, Phase: 0,
				MinRun: 200 * time.Millisecond, MaxRun: time.Second,
				FailRate: 0.02, Retry: RetryDefault,
				Errors: []Error{{"Stripe::APIConnectionError", "Could not connect to Stripe (api.stripe.com)"}},
			},
			{
				Name: "OrderSyncJob", Queue: "default", Rate: 4, Wave: 3 * minute, Phase: 0.25,
				MinRun: 500 * time.Millisecond, MaxRun: 2500 * time.Millisecond,
				FailRate: 0.05, Retry: RetryDefault,
				Errors: []Error{
					{"ActiveRecord::Deadlocked", "Mysql2::Error: Deadlock found when trying to get lock; try restarting transaction"},
					{"Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket:(closed)>"},
				},
			},
			{
				Name: "WebhookDeliveryJob", Queue: "default", Rate: 2, Wave: 3 * minute, Phase: 0.5,
				MinRun: 200 * time.Millisecond, MaxRun: time.Second,
				FailRate: 0.4, Retry: 2,
				Errors: []Error{
					{"Faraday::ConnectionFailed", "Failed to open TCP connection to hooks.example.com:443 (Connection refused)"},
					{"Faraday::ServerError", "the server responded with status 503"},
				},
			},
			{
				Name: "ActionMailer::MailDeliveryJob", Queue: "mailers", Rate: 3, Wave: 2 * minute, Phase: 0.75,
				MinRun: 200 * time.Millisecond, MaxRun: time.Second,
				FailRate: 0.01, Retry: RetryDefault,
				Errors:         []Error{{"Net::SMTPServerBusy", "451 4.7.0 Temporary server error. Please try again later"}},
				ScheduledShare: 0.3, ScheduleMin: 30 * time.Second, ScheduleMax: 10 * minute,
			},
			{
				Name: "ReportExportJob", Queue: "reports", Rate: 0.2,
				MinRun: 4 * time.Second, MaxRun: 8 * time.Second,
				FailRate: 0.05, Retry: RetryNever,
				Errors: []Error{{"Timeout::Error", "execution expired"}},
			},
			{
				// Only ever runs as web-2's long job, for 7m45s.
				Name: "DataMigrationJob", Queue: "default",
				MinRun: time.Hour, MaxRun: time.Hour, Retry: RetryNever,
			},
		},
		Processes: []Process{
			{Hostname: "web-1", Concurrency: 10, Queues: []string{"critical", "default", "mailers"}, RSS: 412_000},
			{
				Hostname: "web-2", Concurrency: 10, Queues: []string{"critical", "default", "mailers"}, RSS: 398_000,
				LongJob: &LongJob{Class: "DataMigrationJob", RunningFor: 4*minute + 45*time.Second, FinishAfter: 3 * minute},
			},
			{Hostname: "reports-1", Concurrency: 2, Queues: []string{"reports"}, RSS: 655_000, QuietAfter: 20 * time.Second},
			{Hostname: "batch-1", Concurrency: 5, Queues: []string{"default", "mailers"}, RSS: 301_000, CrashAfter: minute},
			{Hostname: "reports-2", Concurrency: 50, Queues: []string{"reports"}, RSS: 280_000, StartAfter: 3*minute + 10*time.Second},
		},
		Backlogs: []Backlog{{Class: "ReportExportJob", Jobs: 300, Oldest: 4*minute + 45*time.Second}},
	}
}
