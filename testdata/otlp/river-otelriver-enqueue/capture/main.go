// Command river-capture runs a River workload in which workers insert jobs,
// traced by rivercontrib/otelriver, and sends its spans over OTLP/HTTP
// (protobuf) to OTLP_ENDPOINT:
//
//	import_csv (queue imports)    inserts 3 import_row jobs and 1 notify_done
//	                              job in ONE InsertMany (a span with two kinds)
//	import_row (queue rows)       succeeds
//	notify_done (queue default)   succeeds
//	deliver_webhook (webhooks)    inserts retry_webhook while round < 2
//	retry_webhook (queue retries) inserts deliver_webhook with round+1: a
//	                              cycle of two kinds, stopped by the args
//
// DATABASE_URL names an empty PostgreSQL database; River's tables are
// migrated into it. The jobs River left, as JSON, go to stdout.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"github.com/riverqueue/rivercontrib/otelriver"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

type ImportCSV struct{ File string }

func (ImportCSV) Kind() string { return "import_csv" }

type ImportRow struct{ Row int }

func (ImportRow) Kind() string { return "import_row" }

type NotifyDone struct{ File string }

func (NotifyDone) Kind() string { return "notify_done" }

type DeliverWebhook struct{ Round int }

func (DeliverWebhook) Kind() string { return "deliver_webhook" }

type RetryWebhook struct{ Round int }

func (RetryWebhook) Kind() string { return "retry_webhook" }

type importWorker struct {
	river.WorkerDefaults[ImportCSV]
}

func (importWorker) Work(ctx context.Context, job *river.Job[ImportCSV]) error {
	params := []river.InsertManyParams{
		{Args: ImportRow{Row: 0}, InsertOpts: &river.InsertOpts{Queue: "rows"}},
		{Args: ImportRow{Row: 1}, InsertOpts: &river.InsertOpts{Queue: "rows"}},
		{Args: ImportRow{Row: 2}, InsertOpts: &river.InsertOpts{Queue: "rows"}},
		{Args: NotifyDone{File: job.Args.File}},
	}
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertMany(ctx, params)
	return err
}

type rowWorker struct {
	river.WorkerDefaults[ImportRow]
}

func (rowWorker) Work(context.Context, *river.Job[ImportRow]) error { return nil }

type notifyWorker struct {
	river.WorkerDefaults[NotifyDone]
}

func (notifyWorker) Work(context.Context, *river.Job[NotifyDone]) error { return nil }

type webhookWorker struct {
	river.WorkerDefaults[DeliverWebhook]
}

func (webhookWorker) Work(ctx context.Context, job *river.Job[DeliverWebhook]) error {
	if job.Args.Round >= 2 {
		return nil
	}
	_, err := river.ClientFromContext[pgx.Tx](ctx).Insert(ctx, RetryWebhook{Round: job.Args.Round}, &river.InsertOpts{Queue: "retries"})
	return err
}

type retryWorker struct {
	river.WorkerDefaults[RetryWebhook]
}

func (retryWorker) Work(ctx context.Context, job *river.Job[RetryWebhook]) error {
	_, err := river.ClientFromContext[pgx.Tx](ctx).Insert(ctx, DeliverWebhook{Round: job.Args.Round + 1}, &river.InsertOpts{Queue: "webhooks"})
	return err
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(os.Getenv("OTLP_ENDPOINT")))
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(500*time.Millisecond)),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName("river-enqueue-capture"), semconv.ServiceVersion("1.0.0"))),
	)
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	defer pool.Close()
	driver := riverpgxv5.New(pool)
	migrator, err := rivermigrate.New(driver, nil)
	if err != nil {
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, importWorker{})
	river.AddWorker(workers, rowWorker{})
	river.AddWorker(workers, notifyWorker{})
	river.AddWorker(workers, webhookWorker{})
	river.AddWorker(workers, retryWorker{})
	client, err := river.NewClient(driver, &river.Config{
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 2}, "imports": {MaxWorkers: 2}, "rows": {MaxWorkers: 2},
			"webhooks": {MaxWorkers: 2}, "retries": {MaxWorkers: 2},
		},
		Workers:           workers,
		Middleware:        []rivertype.Middleware{otelriver.NewMiddleware(&otelriver.MiddlewareConfig{EnableTracePropagation: true, TracerProvider: tp})},
		FetchCooldown:     50 * time.Millisecond,
		FetchPollInterval: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	if _, err := client.Insert(ctx, ImportCSV{File: "customers.csv"}, &river.InsertOpts{Queue: "imports"}); err != nil {
		return err
	}
	if _, err := client.Insert(ctx, DeliverWebhook{Round: 0}, &river.InsertOpts{Queue: "webhooks"}); err != nil {
		return err
	}
	// import_csv 1 + import_row 3 + notify_done 1, deliver_webhook 3 (rounds
	// 0, 1, 2) + retry_webhook 2: 10 completed jobs (bounded: 30 s).
	var jobs []*rivertype.JobRow
	for range 300 {
		res, err := client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateCompleted).First(100))
		if err != nil {
			return err
		}
		if jobs = res.Jobs; len(jobs) == 10 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(jobs) != 10 {
		return fmt.Errorf("%d jobs completed, want 10", len(jobs))
	}
	if err := client.Stop(ctx); err != nil {
		return err
	}
	if err := tp.Shutdown(ctx); err != nil {
		return err
	}
	type row struct {
		ID    int64           `json:"id"`
		Kind  string          `json:"kind"`
		Queue string          `json:"queue"`
		State string          `json:"state"`
		Args  json.RawMessage `json:"args"`
	}
	out := make([]row, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, row{j.ID, j.Kind, j.Queue, string(j.State), j.EncodedArgs})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}
