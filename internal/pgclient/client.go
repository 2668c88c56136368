// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package pgclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Querier is what a reader needs of a client: one statement or one batch of
// statements, each a single round trip. *Client implements it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// Client is a small pool of read-only sessions to one database.
type Client struct {
	pool    *pgxpool.Pool
	counter *Counter
	schema  string
}

var _ Querier = (*Client)(nil)

// NewClient builds a client; it does not connect, so an absent server shows
// up as an error from the first statement, not here. Each statement is
// bounded by timeout on the server too (statement_timeout), so a slow query
// stops there rather than running on after the scrape gave up.
func (c *Config) NewClient(ctx context.Context, timeout time.Duration) (*Client, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	host, portText, _ := net.SplitHostPort(c.Endpoint)
	port, _ := strconv.ParseUint(portText, 10, 16)
	// An empty DSN: nothing of the user's travels through a connection
	// string that pgx might quote in an error.
	poolCfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cc := poolCfg.ConnConfig
	cc.Host, cc.Port = host, uint16(port)
	cc.Database = c.Database
	if c.Username != "" {
		cc.User = c.Username
	}
	cc.Password = string(c.Password)
	cc.TLSConfig = nil
	cc.Fallbacks = nil
	if c.TLS.HasValue() {
		tlsConfig, err := c.TLS.Get().LoadTLSConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		if tlsConfig != nil && tlsConfig.ServerName == "" {
			tlsConfig.ServerName = host
		}
		cc.TLSConfig = tlsConfig // nil when insecure: true, as everywhere in the collector
	}
	if timeout > 0 {
		cc.ConnectTimeout = timeout
		cc.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	}
	cc.RuntimeParams["default_transaction_read_only"] = "on"
	// JIT compilation only adds time (~20 ms measured on Solid Queue's
	// statements) to short monitoring queries run once per scrape.
	cc.RuntimeParams["jit"] = "off"
	cc.RuntimeParams["application_name"] = "otelcol-jobs"
	cc.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	counter := &Counter{}
	cc.Tracer = counter
	poolCfg.MaxConns = 2
	poolCfg.MinConns = 0
	// No liveness ping before each use: it would be a second round trip per
	// scrape. A connection the server dropped fails one statement, is
	// discarded by the pool, and the next scrape opens a fresh one.
	poolCfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, err
	}
	return &Client{pool: pool, counter: counter, schema: c.Schema}, nil
}

// Query runs one statement (one round trip).
func (c *Client) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.pool.Query(ctx, sql, args...)
}

// SendBatch sends every statement of b in one round trip.
func (c *Client) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return c.pool.SendBatch(ctx, b)
}

// Table is the schema-qualified, quoted name of a table in the configured
// schema, ready to be written into a statement.
func (c *Client) Table(name string) string { return Table(c.schema, name) }

// Table quotes schema.name for a statement.
func Table(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }

// Counter is the client's round-trip counter.
func (c *Client) Counter() *Counter { return c.counter }

// Close closes every session.
func (c *Client) Close() { c.pool.Close() }

// Counter counts round trips (one per statement sent alone, one per batch)
// and statements, as redisclient.Counter does for Redis. Connection set-up
// is not counted: it happens once per pooled session, not per use.
type Counter struct {
	roundTrips atomic.Int64
	statements atomic.Int64
}

var (
	_ pgx.QueryTracer = (*Counter)(nil)
	_ pgx.BatchTracer = (*Counter)(nil)
)

// RoundTrips returns the round trips counted so far.
func (c *Counter) RoundTrips() int64 { return c.roundTrips.Load() }

// Commands returns the statements counted so far.
func (c *Counter) Commands() int64 { return c.statements.Load() }

// Reset sets both counts to zero.
func (c *Counter) Reset() {
	c.roundTrips.Store(0)
	c.statements.Store(0)
}

// TraceQueryStart implements pgx.QueryTracer.
func (c *Counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.roundTrips.Add(1)
	c.statements.Add(1)
	return ctx
}

// TraceQueryEnd implements pgx.QueryTracer.
func (*Counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TraceBatchStart implements pgx.BatchTracer.
func (c *Counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	c.roundTrips.Add(1)
	if data.Batch != nil {
		c.statements.Add(int64(data.Batch.Len()))
	}
	return ctx
}

// TraceBatchQuery implements pgx.BatchTracer.
func (*Counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

// TraceBatchEnd implements pgx.BatchTracer.
func (*Counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
