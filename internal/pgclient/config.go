// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package pgclient holds the one PostgreSQL connection configuration of the
// job_queue receiver's Postgres-backed systems (River, Solid Queue, GoodJob,
// Oban) and builds pgx clients from it, as redisclient does for Redis.
//
// Every session a Client opens is read-only (default_transaction_read_only
// = on), bounded by statement_timeout, without JIT compilation, and names
// itself otelcol-jobs in pg_stat_activity. Statements travel in the simple query protocol, so one
// Query or one SendBatch is exactly one network round trip (no separate
// Parse/Describe step, no server-side prepared statement: it also works
// through PgBouncer in transaction mode). Client counts those round trips.
package pgclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
)

// DefaultSchema is the schema job tables live in unless configured.
const DefaultSchema = "public"

// Config is how a component reaches one PostgreSQL database.
type Config struct {
	// Endpoint is host:port of the server.
	Endpoint string
	// Username is the role to log in as; empty means the operating-system
	// user's name, as libpq does.
	Username string
	// Password is sent when the server asks for one; it is never logged.
	Password configopaque.String
	// Database is the database to connect to.
	Database string
	// Schema is the schema holding the job system's tables.
	Schema string
	// TLS enables TLS when present (sslmode verify-full with the configured
	// roots, or no verification with insecure_skip_verify); plain TCP when
	// absent.
	TLS configoptional.Optional[configtls.ClientConfig]
}

// Validate reports configuration errors with the YAML key they concern.
func (c *Config) Validate() error {
	var errs []error
	if c.Endpoint == "" {
		errs = append(errs, errors.New("endpoint: must be set (host:port of the PostgreSQL server)"))
	} else if strings.Contains(c.Endpoint, "://") {
		errs = append(errs, errors.New("endpoint: is a URL: write host:port and set username, password and database as keys of their own"))
	} else if host, port, err := net.SplitHostPort(c.Endpoint); err != nil || host == "" || strings.Contains(host, "@") {
		errs = append(errs, errors.New("endpoint: must be host:port"))
	} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		errs = append(errs, fmt.Errorf("endpoint: port %q must be between 1 and 65535", port))
	}
	if c.Database == "" {
		errs = append(errs, errors.New("database: must be set (the database holding the job tables)"))
	}
	if c.Schema == "" {
		errs = append(errs, errors.New("schema: must not be empty (default public)"))
	}
	return errors.Join(errs...)
}

// Target names the database a client of c reaches, for logs and alert ids:
// host:port/database.
func (c *Config) Target() string { return c.Endpoint + "/" + c.Database }
