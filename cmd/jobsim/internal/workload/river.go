// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// River runs the demo on a real River deployment: the River library itself
// (its migrations, client, producers, scheduler and workers) on a
// PostgreSQL database, with jobs inserted at the demo's rates and workers
// that sleep, succeed and fail as the demo's classes do. Nothing is
// simulated but the work; River has no process table, so the demo's process
// incidents have no River form. Its incidents, timed like Demo's:
//
//   - reports starts with a backlog of 300 jobs, the oldest scheduled 4m45s
//     before the start, worked by a client with 2 workers: its latency passes
//     5 minutes about 15 s in (queue_latency_high) until a second client with
//     50 reports workers starts at 3m10s and drains it;
//   - a data migration has been running for 4m45s at the start (River's own
//     row, its attempted_at set back: the one write that is not River's),
//     stalled (> 5 min) after 15 s (stalled_jobs) until it finishes at 3m;
//   - webhook_delivery fails 40% of its executions with 3 attempts, so
//     River discards a few a minute (dead_jobs_growing).
type River struct {
	pool *pgxpool.Pool
	seed uint64

	mu        sync.Mutex
	rng       *rand.Rand
	report    Report
	start     time.Time
	last      time.Time
	clients   []*river.Client[pgx.Tx]
	scaledOut bool
}

// riverClass is one River job kind of the demo.
type riverClass struct {
	kind                string
	queue               string
	rate                float64 // jobs/s
	wave                time.Duration
	phase               float64
	minRun, maxRun      time.Duration
	failRate            float64
	maxAttempts         int
	scheduledShare      float64
	scheduleMin, schMax time.Duration
	errors              []string
}

var riverClasses = []riverClass{
	{kind: "payment_capture", queue: "critical", rate: 2, wave: 2 * time.Minute, minRun: 200 * time.Millisecond, maxRun: time.Second,
		failRate: 0.02, maxAttempts: 25, errors: []string{"stripe: could not connect to api.stripe.com"}},
	{kind: "order_sync", queue: river.QueueDefault, rate: 4, wave: 3 * time.Minute, phase: 0.25, minRun: 500 * time.Millisecond, maxRun: 2500 * time.Millisecond,
		failRate: 0.05, maxAttempts: 25, errors: []string{"ERROR: deadlock detected (SQLSTATE 40P01)", "read tcp 10.0.0.7:443: i/o timeout"}},
	{kind: "webhook_delivery", queue: river.QueueDefault, rate: 2, wave: 3 * time.Minute, phase: 0.5, minRun: 200 * time.Millisecond, maxRun: time.Second,
		failRate: 0.4, maxAttempts: 3, errors: []string{"dial tcp hooks.example.com:443: connect: connection refused", "unexpected status 503"}},
	{kind: "mail_delivery", queue: "mailers", rate: 3, wave: 2 * time.Minute, phase: 0.75, minRun: 200 * time.Millisecond, maxRun: time.Second,
		failRate: 0.01, maxAttempts: 25, scheduledShare: 0.3, scheduleMin: 30 * time.Second, schMax: 10 * time.Minute,
		errors: []string{"451 4.7.0 Temporary server error. Please try again later"}},
	{kind: "report_export", queue: "reports", rate: 0.2, minRun: 4 * time.Second, maxRun: 8 * time.Second,
		failRate: 0.05, maxAttempts: 1, errors: []string{"context deadline exceeded"}},
}

const (
	riverBacklogJobs   = 300
	riverBacklogOldest = 4*time.Minute + 45*time.Second
	riverScaleOutAfter = 3*time.Minute + 10*time.Second
	riverMigrationRan  = 4*time.Minute + 45*time.Second
	riverMigrationEnds = 3 * time.Minute
)

// riverArgs are every demo job's arguments; K gives the kind.
type riverArgs[K riverKind] struct {
	RunFor time.Duration `json:"run_for"`
	Fail   string        `json:"fail,omitempty"`
}

// Kind implements river.JobArgs.
func (riverArgs[K]) Kind() string {
	var k K
	return k.kind()
}

// riverKind is a marker type naming one kind, so that each kind is a Go
// type of its own as River's worker registry requires.
type riverKind interface{ kind() string }

type (
	kindPaymentCapture  struct{}
	kindOrderSync       struct{}
	kindWebhookDelivery struct{}
	kindMailDelivery    struct{}
	kindReportExport    struct{}
	kindDataMigration   struct{}
)

func (kindPaymentCapture) kind() string  { return "payment_capture" }
func (kindOrderSync) kind() string       { return "order_sync" }
func (kindWebhookDelivery) kind() string { return "webhook_delivery" }
func (kindMailDelivery) kind() string    { return "mail_delivery" }
func (kindReportExport) kind() string    { return "report_export" }
func (kindDataMigration) kind() string   { return "data_migration" }

// riverWorker sleeps for the job's run time, then returns its error, if any.
type riverWorker[K riverKind] struct {
	river.WorkerDefaults[riverArgs[K]]
	sim *River
}

func (w *riverWorker[K]) Work(ctx context.Context, job *river.Job[riverArgs[K]]) error {
	w.sim.count(func(r *Report) { r.Fetched++ })
	select {
	case <-time.After(job.Args.RunFor):
	case <-ctx.Done():
		return ctx.Err()
	}
	if job.Args.Fail == "" {
		w.sim.count(func(r *Report) { r.Succeeded++ })
		return nil
	}
	w.sim.count(func(r *Report) {
		r.Failed++
		if job.Attempt >= job.MaxAttempts {
			r.Died++
		} else {
			r.Retried++
		}
	})
	return errors.New(job.Args.Fail)
}

// NewRiver prepares the River demo on pool's database; nothing is written
// before the first Step.
func NewRiver(pool *pgxpool.Pool, seed uint64) (*River, error) {
	return &River{pool: pool, seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}, nil
}

func (s *River) count(f func(*Report)) {
	s.mu.Lock()
	f(&s.report)
	s.mu.Unlock()
}

// newClient is a River client working queues with the given workers each.
func (s *River) newClient(queues map[string]int) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverWorker[kindPaymentCapture]{sim: s})
	river.AddWorker(workers, &riverWorker[kindOrderSync]{sim: s})
	river.AddWorker(workers, &riverWorker[kindWebhookDelivery]{sim: s})
	river.AddWorker(workers, &riverWorker[kindMailDelivery]{sim: s})
	river.AddWorker(workers, &riverWorker[kindReportExport]{sim: s})
	river.AddWorker(workers, &riverWorker[kindDataMigration]{sim: s})
	qc := make(map[string]river.QueueConfig, len(queues))
	for q, n := range queues {
		qc[q] = river.QueueConfig{MaxWorkers: n}
	}
	return river.NewClient(riverpgxv5.New(s.pool), &river.Config{
		Queues:  qc,
		Workers: workers,
		// The data migration runs for minutes; River's default job
		// timeout (1 min) would cancel it.
		JobTimeout: -1,
		// River logs each failed job; the demo's console is for alerts.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// Step migrates and starts River on the first call, then inserts the jobs
// due since the last one.
func (s *River) Step(ctx context.Context, now time.Time) (Report, error) {
	if s.start.IsZero() {
		if err := s.begin(ctx, now); err != nil {
			return s.take(), err
		}
	}
	elapsed := now.Sub(s.start)
	if !s.scaledOut && elapsed >= riverScaleOutAfter {
		client, err := s.newClient(map[string]int{"reports": 50})
		if err == nil {
			err = client.Start(ctx)
		}
		if err != nil {
			return s.take(), fmt.Errorf("river: start the second reports client: %w", err)
		}
		s.clients = append(s.clients, client)
		s.scaledOut = true
	}
	dt := now.Sub(s.last).Seconds()
	s.last = now
	var batch []river.InsertManyParams
	s.mu.Lock()
	for i := range riverClasses {
		c := &riverClasses[i]
		rate := c.rate
		if c.wave > 0 {
			rate *= 1 + 0.8*math.Sin(2*math.Pi*(elapsed.Seconds()/c.wave.Seconds()+c.phase))
		}
		for range poisson(s.rng, rate*dt) {
			batch = append(batch, s.params(c, now))
		}
	}
	s.mu.Unlock()
	if len(batch) == 0 {
		return s.take(), nil
	}
	if _, err := s.clients[0].InsertMany(ctx, batch); err != nil {
		return s.take(), fmt.Errorf("river: insert: %w", err)
	}
	s.count(func(r *Report) { r.Enqueued += len(batch) })
	return s.take(), nil
}

// params draws one job of class c (s.mu held).
func (s *River) params(c *riverClass, now time.Time) river.InsertManyParams {
	run := c.minRun + time.Duration(s.rng.Int64N(int64(c.maxRun-c.minRun)+1))
	fail := ""
	if s.rng.Float64() < c.failRate {
		fail = c.errors[s.rng.IntN(len(c.errors))]
	}
	opts := &river.InsertOpts{Queue: c.queue, MaxAttempts: c.maxAttempts}
	if c.scheduledShare > 0 && s.rng.Float64() < c.scheduledShare {
		opts.ScheduledAt = now.Add(c.scheduleMin + time.Duration(s.rng.Int64N(int64(c.schMax-c.scheduleMin))))
	}
	return river.InsertManyParams{Args: argsFor(c.kind, run, fail), InsertOpts: opts}
}

// argsFor is the job arguments of kind.
func argsFor(kind string, run time.Duration, fail string) river.JobArgs {
	switch kind {
	case "payment_capture":
		return riverArgs[kindPaymentCapture]{RunFor: run, Fail: fail}
	case "order_sync":
		return riverArgs[kindOrderSync]{RunFor: run, Fail: fail}
	case "webhook_delivery":
		return riverArgs[kindWebhookDelivery]{RunFor: run, Fail: fail}
	case "mail_delivery":
		return riverArgs[kindMailDelivery]{RunFor: run, Fail: fail}
	case "report_export":
		return riverArgs[kindReportExport]{RunFor: run, Fail: fail}
	}
	return riverArgs[kindDataMigration]{RunFor: run, Fail: fail}
}

// begin migrates the database, inserts what exists before the start (the
// reports backlog, the running data migration) and starts the client.
func (s *River) begin(ctx context.Context, now time.Time) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river: migrate: %w", err)
	}
	client, err := s.newClient(map[string]int{"critical": 10, river.QueueDefault: 20, "mailers": 10, "reports": 2})
	if err != nil {
		return err
	}
	s.clients = []*river.Client[pgx.Tx]{client}
	backlog := make([]river.InsertManyParams, 0, riverBacklogJobs+1)
	s.mu.Lock()
	for i := range riverBacklogJobs {
		c := &riverClasses[4] // report_export
		p := s.params(c, now)
		p.InsertOpts.ScheduledAt = now.Add(-riverBacklogOldest + time.Duration(i)*riverBacklogOldest/riverBacklogJobs)
		backlog = append(backlog, p)
	}
	s.mu.Unlock()
	backlog = append(backlog, river.InsertManyParams{
		Args:       riverArgs[kindDataMigration]{RunFor: riverMigrationEnds},
		InsertOpts: &river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 1},
	})
	if _, err := client.InsertMany(ctx, backlog); err != nil {
		return fmt.Errorf("river: insert the backlog: %w", err)
	}
	s.count(func(r *Report) { r.Enqueued += len(backlog) })
	if err := client.Start(ctx); err != nil {
		return fmt.Errorf("river: start: %w", err)
	}
	s.start, s.last = now, now
	// The migration started before the demo did: once River runs it, set
	// its attempted_at back (River never reads it again for a running job).
	go s.backdateMigration(ctx, now.Add(-riverMigrationRan))
	return nil
}

// backdateMigration waits for River to start the data migration, then sets
// its attempted_at to at.
func (s *River) backdateMigration(ctx context.Context, at time.Time) {
	for range 100 {
		tag, err := s.pool.Exec(ctx, `UPDATE river_job SET attempted_at = $1 WHERE kind = 'data_migration' AND state = 'running'`, at)
		if err != nil || tag.RowsAffected() > 0 || ctx.Err() != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// take returns the counts since the last call.
func (s *River) take() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.report
	s.report = Report{}
	return r
}

// Stop stops every client and cancels the jobs still running (the data
// migration runs for minutes), as River's StopAndCancel does on shutdown.
func (s *River) Stop(ctx context.Context, _ time.Time) (Report, error) {
	var errs []error
	for _, c := range s.clients {
		if err := c.StopAndCancel(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return s.take(), errors.Join(errs...)
}
