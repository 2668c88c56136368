// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package pgclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes a read-only scraper meets in practice.
const (
	codeUndefinedTable       = "42P01"
	codeUndefinedColumn      = "42703"
	codeUndefinedObject      = "42704" // e.g. a missing enum type
	codeInvalidSchemaName    = "3F000" // a missing schema, e.g. in a cast to schema.enum_type
	codeInsufficientPrivlege = "42501"
	codeQueryCanceled        = "57014"
	codeInvalidCatalogName   = "3D000"
)

// Explain adds to a server error what a user should check: the usual
// causes are a wrong system, schema or database, a role without SELECT, or
// a statement cut by statement_timeout. Other errors are returned as they
// are.
func (c *Config) Explain(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	switch pgErr.Code {
	case codeUndefinedTable, codeUndefinedColumn, codeUndefinedObject, codeInvalidSchemaName:
		return fmt.Errorf("%w (is the job system's schema in database %q, schema %q, at the version the receiver reads? check system, database and schema)", err, c.Database, c.Schema)
	case codeInsufficientPrivlege:
		return fmt.Errorf("%w (the role needs SELECT on the job system's tables in schema %q and USAGE on the schema: see the receiver's README)", err, c.Schema)
	case codeQueryCanceled:
		return fmt.Errorf("%w (the statement ran longer than the timeout; statement_timeout is set from timeout)", err)
	case codeInvalidCatalogName:
		return fmt.Errorf("%w (check database)", err)
	}
	return err
}

// IsConnectionLost reports whether err, from a statement sent while ctx
// was still live, is the loss of a session that used to work (the server
// restarted or dropped the connection) rather than a refusal by the server,
// a failed connect, a deadline or a reader's own error. Such a statement is
// safe to send again on a new session, since every session is read-only.
func IsConnectionLost(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil || pgconn.Timeout(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// admin_shutdown, crash_shutdown, cannot_connect_now end a session.
		return pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return false
	}
	var netErr net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.As(err, &netErr) || errors.Is(err, net.ErrClosed)
}
