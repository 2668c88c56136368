// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package pgtest starts throw-away PostgreSQL servers for tests, as
// redistest does for Redis: a pgserver.Server on a free loopback port (never
// a server someone else started, nor :5432), stopped and removed when the
// test ends, with helpers that fail the test instead of returning errors. A
// missing PostgreSQL skips the test, or fails it under redistest.RequireEnv.
package pgtest // import "github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgserver"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// Server is one postgres process owned by a test. Its superuser is
// "postgres", authenticated by trust on loopback only.
type Server struct {
	*pgserver.Server
	tb testing.TB
}

// Start initialises a database cluster and runs postgres on a free loopback
// port; the server is stopped and its files removed when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	srv, err := pgserver.Start(redistest.FreePort(tb))
	if errors.Is(err, pgserver.ErrNotInstalled) {
		redistest.Missing(tb, err.Error())
	}
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(srv.Close)
	return &Server{Server: srv, tb: tb}
}

// Restart stops the server (ending every session, as a crash or a failover
// would for its clients) and starts it again on the same port and data.
func (s *Server) Restart() {
	s.tb.Helper()
	if err := s.Server.Restart(); err != nil {
		s.tb.Fatalf("pgtest: restart: %v", err)
	}
}

// Exec runs statements in database as the superuser, failing the test on
// the first error.
func (s *Server) Exec(database string, statements ...string) {
	s.tb.Helper()
	if err := s.Server.Exec(context.Background(), database, statements...); err != nil {
		s.tb.Fatalf("pgtest: %v", err)
	}
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(name string) string {
	s.tb.Helper()
	url, err := s.Server.CreateDatabase(context.Background(), name)
	if err != nil {
		s.tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return url
}

// CreateRiverDatabase creates a database holding River's schema, made by
// River's own migrator (rivermigrate, all the way up), and returns its URL.
func (s *Server) CreateRiverDatabase(name string) string {
	s.tb.Helper()
	url := s.CreateDatabase(name)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		s.tb.Fatalf("pgtest: %v", err)
	}
	defer pool.Close()
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err == nil {
		_, err = migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	}
	if err != nil {
		s.tb.Fatalf("pgtest: River's migrations: %v", err)
	}
	return url
}
