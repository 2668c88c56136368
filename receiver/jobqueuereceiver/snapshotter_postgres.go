// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"context"
	"fmt"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/goodjob"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/oban"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/river"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/solidqueue"
)

// postgresReader builds a Postgres-backed system's reader over a client of
// the configured database.
type postgresReader func(q pgclient.Querier, opts pgread.Options) snapshot.Reader

// postgresReaderFor returns the constructor of a Postgres-backed system's
// reader.
func postgresReaderFor(system string) (postgresReader, error) {
	switch system {
	case SystemGoodJob:
		return func(q pgclient.Querier, o pgread.Options) snapshot.Reader { return goodjob.NewReader(q, o) }, nil
	case SystemOban:
		return func(q pgclient.Querier, o pgread.Options) snapshot.Reader { return oban.NewReader(q, o) }, nil
	case SystemRiver:
		return func(q pgclient.Querier, o pgread.Options) snapshot.Reader { return river.NewReader(q, o) }, nil
	case SystemSolidQueue:
		return func(q pgclient.Querier, o pgread.Options) snapshot.Reader { return solidqueue.NewReader(q, o) }, nil
	}
	return nil, fmt.Errorf("system: %q has no reader", system)
}

// postgresOptions are a Postgres-backed reader's options from cfg; the
// tables are in schema.
func postgresOptions(cfg *Config, schema string, sel snapshot.Selection, now func() time.Time) pgread.Options {
	opts := pgread.Options{
		Schema:        schema,
		Selection:     sel,
		StalledAfter:  cfg.StalledAfter,
		EstimateAbove: cfg.Postgres.EstimateAbove,
		Now:           now,
	}
	// The breakdown costs one or two more statements (sorts of the retry
	// and dead rows), so it is read only when reported.
	if cfg.Metrics.JobqueueJobsByClass.Enabled {
		opts.ByClassMaxEntries = cfg.ByClass.MaxEntries
	}
	return opts
}

func newPostgresSnapshotter(ctx context.Context, cfg *Config, sel snapshot.Selection, now func() time.Time) (*Snapshotter, error) {
	newReader, err := postgresReaderFor(cfg.System)
	if err != nil {
		return nil, err
	}
	conn := cfg.PostgresConnection()
	client, err := conn.NewClient(ctx, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	return &Snapshotter{
		reader:  newReader(client, postgresOptions(cfg, conn.Schema, sel, now)),
		store:   &postgresStore{client: client, conn: conn},
		timeout: cfg.Timeout,
	}, nil
}

// postgresStore is a Postgres-backed system's client.
type postgresStore struct {
	client *pgclient.Client
	conn   pgclient.Config
}

func (p *postgresStore) counter() roundTripCounter { return p.client.Counter() }

func (p *postgresStore) explain(err error) error { return p.conn.Explain(err) }

// retryable: a session the server dropped (restart, failover, idle
// timeout) fails one statement; the pool has discarded it, and the
// read-only snapshot is taken again at once on a new session instead of
// losing the scrape.
func (*postgresStore) retryable(ctx context.Context, err error) bool {
	return pgclient.IsConnectionLost(ctx, err)
}

func (p *postgresStore) close() error {
	p.client.Close()
	return nil
}
