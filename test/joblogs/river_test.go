// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package joblogs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// TestRiverLogs runs River workers on a real PostgreSQL with River's own
// slog output as JSON lines, and reads those lines with config/logs/river.yaml.
//
// River logs each failed attempt ("jobexecutor.JobExecutor: Job errored;
// retrying", then "... Job errored" on the last one) at INFO with job_id, job_kind and error, and
// nothing for a job that succeeds; it logs no attempt number, so job_retry
// counts a job's runs by job_id.
func TestRiverLogs(t *testing.T) {
	pg := pgtest.Start(t)
	logFile := filepath.Join(t.TempDir(), "river.log")
	runRiverWorkers(t, pg.CreateRiverDatabase("river"), logFile)
	keepCapture(t, logFile, "river", "river.jsonl")

	alerts, parsed := fileLogAlerts(t, "river", logFile)
	assertRiverRecords(t, parsed, retryLoopAttempts+burstJobs)
	retry, burst, ok := chargeCardArgs{}.Kind(), syncInventoryArgs{}.Kind(), sendReceiptArgs{}.Kind()
	assertScenarioAlerts(t, alerts, retry, burst, ok)
	t.Run("over OTLP", func(t *testing.T) {
		assertScenarioAlerts(t, otlpAlerts(t, "river", parsed), retry, burst, ok)
	})
}

// TestRiverSample reads the committed capture (testdata/logs/river) with the
// shipped config: no PostgreSQL needed. Its jobs ran long ago, past the
// detectors' windows, so they raise nothing now: only the records are
// checked.
func TestRiverSample(t *testing.T) {
	_, parsed := fileLogAlerts(t, "river", "../../testdata/logs/river/river.jsonl")
	assertRiverRecords(t, parsed, retryLoopAttempts+burstJobs)
}

// assertRiverRecords checks that the config kept River's time and keys: one
// record per failed attempt with its job_id, job_kind and error.
func assertRiverRecords(t *testing.T, parsed plog.Logs, failedAttempts int) {
	t.Helper()
	attempts := 0
	for _, lr := range records(parsed) {
		attrs := lr.Attributes().AsRaw()
		assert.NotZero(t, lr.Timestamp(), "time parsed: %s", lr.Body().AsString())
		assert.Equal(t, "INFO", lr.SeverityText())
		if _, ok := attrs["job_id"]; !ok {
			continue
		}
		attempts++
		assert.Contains(t, attrs["msg"], "Job errored")
		assert.NotEmpty(t, attrs["job_kind"])
		assert.NotEmpty(t, attrs["error"])
	}
	assert.Equal(t, failedAttempts, attempts, "one line per failed attempt, none per success")
}

// The workload of the River and BullMQ tests (testdata/bullmq/worker.js
// enqueues the same): one job that fails on each of its 6 attempts (past
// max_retries 3, short of the escalation at 7 retries), a burst of 12 jobs of
// one class that fail once each (past min_failures 10), and 5 jobs that
// succeed.
const (
	retryLoopAttempts = 6
	burstJobs         = 12
	successJobs       = 5
)

type chargeCardArgs struct {
	Card string `json:"card"`
}

func (chargeCardArgs) Kind() string { return "charge_card" }

func (chargeCardArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: retryLoopAttempts}
}

type chargeCardWorker struct {
	river.WorkerDefaults[chargeCardArgs]
}

func (chargeCardWorker) Work(_ context.Context, job *river.Job[chargeCardArgs]) error {
	return fmt.Errorf("card %s declined: insufficient funds", job.Args.Card)
}

type syncInventoryArgs struct {
	SKU int `json:"sku"`
}

func (syncInventoryArgs) Kind() string { return "sync_inventory" }

func (syncInventoryArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

type syncInventoryWorker struct {
	river.WorkerDefaults[syncInventoryArgs]
}

func (syncInventoryWorker) Work(context.Context, *river.Job[syncInventoryArgs]) error {
	return errors.New("inventory service: dial tcp 10.0.0.7:8443: connect: connection refused")
}

type sendReceiptArgs struct {
	Order int `json:"order"`
}

func (sendReceiptArgs) Kind() string { return "send_receipt" }

type sendReceiptWorker struct {
	river.WorkerDefaults[sendReceiptArgs]
}

func (sendReceiptWorker) Work(context.Context, *river.Job[sendReceiptArgs]) error { return nil }

// retryAtOnce makes a failed job available again immediately, where River's
// default waits attempt^4 seconds.
type retryAtOnce struct{}

func (retryAtOnce) NextRetry(*rivertype.JobRow) time.Time { return time.Now() }

// runRiverWorkers runs, on a database holding River's schema, a River client whose Logger
// writes JSON lines to logFile (slog's JSON handler: what services that ship
// their logs to a collector run), inserts the workload and returns once every
// job is completed or discarded.
func runRiverWorkers(t *testing.T, databaseURL, logFile string) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	pool, err := pgxpool.New(ctx, databaseURL)
	require.NoError(t, err)
	defer pool.Close()
	driver := riverpgxv5.New(pool)

	out, err := os.Create(logFile)
	require.NoError(t, err)
	defer out.Close()
	workers := river.NewWorkers()
	river.AddWorker(workers, chargeCardWorker{})
	river.AddWorker(workers, syncInventoryWorker{})
	river.AddWorker(workers, sendReceiptWorker{})
	client, err := river.NewClient(driver, &river.Config{
		Logger:      slog.New(slog.NewJSONHandler(out, nil)),
		Queues:      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 4}},
		Workers:     workers,
		RetryPolicy: retryAtOnce{},
		// A retried job is available at once; fetch it without waiting
		// for River's default 1 s poll.
		FetchPollInterval: 50 * time.Millisecond,
		FetchCooldown:     10 * time.Millisecond,
	})
	require.NoError(t, err)

	finished, stop := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobFailed)
	defer stop()
	require.NoError(t, client.Start(ctx))
	defer func() { assert.NoError(t, client.Stop(context.Background())) }()

	jobs := []river.InsertManyParams{{Args: chargeCardArgs{Card: "4242"}}}
	for i := range burstJobs {
		jobs = append(jobs, river.InsertManyParams{Args: syncInventoryArgs{SKU: i}})
	}
	for i := range successJobs {
		jobs = append(jobs, river.InsertManyParams{Args: sendReceiptArgs{Order: i}})
	}
	_, err = client.InsertMany(ctx, jobs)
	require.NoError(t, err)

	for done := 0; done < len(jobs); {
		select {
		case e := <-finished:
			if e.Kind == river.EventKindJobCompleted || e.Job.State == rivertype.JobStateDiscarded {
				done++
			}
		case <-ctx.Done():
			t.Fatalf("River finished %d of %d jobs before giving up", done, len(jobs))
		}
	}
}
