// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

// What the tests of the PostgreSQL-backed systems share.

// readOnlyRole is the role the README's GRANT lines create.
const readOnlyRole = "otelcol_jobs"

// schemaDatabase starts a PostgreSQL whose database holds a job system's
// tables, created by the DDL in ddlFile (its reader's testdata/schema.sql).
func schemaDatabase(t *testing.T, database, ddlFile string) *pgtest.Server {
	t.Helper()
	ddl, err := os.ReadFile(ddlFile)
	require.NoError(t, err)
	srv := pgtest.Start(t)
	srv.CreateDatabase(database)
	srv.Exec(database, string(ddl))
	return srv
}

// postgresConfig is the receiver reading system's tables in database as
// role.
func postgresConfig(srv *pgtest.Server, system, database, role string) *Config {
	cfg := configFor(srv.Addr())
	cfg.System = system
	cfg.Username = role
	cfg.Database = database
	return cfg
}

// createReadOnlyRole runs the README's GRANT lines in database: readOnlyRole
// may use schema public and SELECT on tables (a comma-separated list), in
// read-only sessions; settings are more ALTER ROLE ... SET lines. It may
// also use an empty schema, "empty", for assertMissingTables.
func createReadOnlyRole(srv *pgtest.Server, database, tables string, settings ...string) {
	stmts := []string{
		"CREATE ROLE " + readOnlyRole + " LOGIN",
		"GRANT USAGE ON SCHEMA public TO " + readOnlyRole,
		"GRANT SELECT ON " + tables + " TO " + readOnlyRole,
		"ALTER ROLE " + readOnlyRole + " SET default_transaction_read_only = on",
	}
	for _, s := range settings {
		stmts = append(stmts, "ALTER ROLE "+readOnlyRole+" SET "+s)
	}
	srv.Exec(database, append(stmts, "CREATE SCHEMA empty", "GRANT USAGE ON SCHEMA empty TO "+readOnlyRole)...)
}

// assertMissingTables: the receiver pointed at schema (one without the
// system's tables) fails each scrape with an error naming want and what
// to check, and keeps scraping.
func assertMissingTables(t *testing.T, cfg *Config, schema, want string) {
	t.Helper()
	cfg.Schema = schema
	r := startReceiver(t, cfg)
	_, err := r.last(t)
	require.ErrorContains(t, err, want)
	assert.ErrorContains(t, err, `check system, database and schema`)
	_, err = r.scrape(t)
	require.Error(t, err, "the receiver keeps scraping")
}
