// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package pgclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newClient(t *testing.T, cfg Config, timeout time.Duration) *Client {
	t.Helper()
	c, err := cfg.NewClient(context.Background(), timeout)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func TestValidate(t *testing.T) {
	valid := Config{Endpoint: "localhost:5432", Database: "jobs", Schema: "public"}
	require.NoError(t, valid.Validate())
	for _, tt := range []struct {
		cfg Config
		err string
	}{
		{Config{Database: "jobs", Schema: "public"}, "endpoint: must be set"},
		{Config{Endpoint: "postgres://u:secret@db:5432/jobs", Database: "jobs", Schema: "public"}, "endpoint: is a URL"},
		{Config{Endpoint: "db", Database: "jobs", Schema: "public"}, "endpoint: must be host:port"},
		{Config{Endpoint: "db:99999", Database: "jobs", Schema: "public"}, `endpoint: port "99999" must be between 1 and 65535`},
		{Config{Endpoint: "db:5432", Schema: "public"}, "database: must be set"},
		{Config{Endpoint: "db:5432", Database: "jobs"}, "schema: must not be empty"},
	} {
		err := tt.cfg.Validate()
		require.ErrorContains(t, err, tt.err)
		assert.NotContains(t, err.Error(), "secret", "a password in a URL is never echoed")
	}
}

func TestRoundTripsAndReadOnlySessions(t *testing.T) {
	srv := pgtest.Start(t)
	srv.CreateDatabase("jobs")
	srv.Exec("jobs", "CREATE TABLE public.t (n int)", "INSERT INTO public.t VALUES (1), (2), (3)")
	c := newClient(t, Config{Endpoint: srv.Addr(), Username: "postgres", Database: "jobs", Schema: "public"}, 5*time.Second)
	ctx := context.Background()

	assert.Equal(t, "3", scalar(t, c, "SELECT count(*)::text FROM "+c.Table("t")))
	assert.Equal(t, int64(1), c.Counter().RoundTrips())

	c.Counter().Reset()
	b := &pgx.Batch{}
	for range 3 {
		b.Queue("SELECT count(*) FROM " + c.Table("t"))
	}
	res := c.SendBatch(ctx, b)
	for range 3 {
		var n int
		require.NoError(t, res.QueryRow().Scan(&n))
		assert.Equal(t, 3, n)
	}
	require.NoError(t, res.Close())
	assert.Equal(t, int64(1), c.Counter().RoundTrips(), "a batch is one round trip")
	assert.Equal(t, int64(3), c.Counter().Commands())

	// Even a superuser's session cannot write: the receiver never changes
	// the job system's tables.
	rows, err := c.Query(ctx, "INSERT INTO public.t VALUES (4)")
	if err == nil {
		rows.Close()
		err = rows.Err()
	}
	require.ErrorContains(t, err, "read-only transaction")

	assert.Equal(t, "otelcol-jobs", scalar(t, c, "SELECT current_setting('application_name')"), "the scraper names itself in pg_stat_activity")
	assert.Equal(t, "off", scalar(t, c, "SELECT current_setting('jit')"))
}

func TestExplain(t *testing.T) {
	srv := pgtest.Start(t)
	srv.CreateDatabase("jobs")
	srv.Exec("jobs", "CREATE TABLE public.t (n int)", "CREATE ROLE reader LOGIN")
	cfg := Config{Endpoint: srv.Addr(), Username: "reader", Database: "jobs", Schema: "public"}
	c := newClient(t, cfg, 300*time.Millisecond)
	ctx := context.Background()
	query := func(sql string) error {
		rows, err := c.Query(ctx, sql)
		if err != nil {
			return cfg.Explain(err)
		}
		rows.Close()
		return cfg.Explain(rows.Err())
	}
	assert.ErrorContains(t, query("SELECT * FROM public.river_job"), `is the job system's schema in database "jobs", schema "public"`)
	assert.ErrorContains(t, query("SELECT * FROM public.t"), "the role needs SELECT on the job system's tables")
	assert.ErrorContains(t, query("SELECT pg_sleep(5)"), "statement_timeout is set from timeout")

	missing := Config{Endpoint: srv.Addr(), Username: "reader", Database: "nope", Schema: "public"}
	err := query2(newClient(t, missing, time.Second))
	assert.ErrorContains(t, missing.Explain(err), "check database")
}

func query2(c *Client) error {
	rows, err := c.Query(context.Background(), "SELECT 1")
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// A server restart ends the pooled session; the loss is told apart from a
// refusal, so the caller may send the read-only statement again at once.
func TestConnectionLostAfterRestart(t *testing.T) {
	srv := pgtest.Start(t)
	c := newClient(t, Config{Endpoint: srv.Addr(), Username: "postgres", Database: "postgres", Schema: "public"}, 5*time.Second)
	ctx := context.Background()
	require.NoError(t, query2(c))
	srv.Restart()
	err := query2(c)
	require.Error(t, err, "the pooled session died with the server")
	assert.True(t, IsConnectionLost(ctx, err), "%v", err)
	require.NoError(t, query2(c), "a new session works at once")

	srv.Stop()
	err = query2(c)
	require.Error(t, err)
	assert.True(t, IsConnectionLost(ctx, err), "the session ended with the server: %v", err)
	err = query2(c)
	require.Error(t, err)
	assert.False(t, IsConnectionLost(ctx, err), "a server that refuses connections is not retried: %v", err)
	assert.False(t, IsConnectionLost(ctx, errors.New("can't scan into dest[0]")), "a reader's own error is not retried")
}

func TestTLSAgainstPlainServer(t *testing.T) {
	srv := pgtest.Start(t)
	tlsCfg := configtls.NewDefaultClientConfig()
	c := newClient(t, Config{Endpoint: srv.Addr(), Username: "postgres", Password: "pw-never-shown", Database: "postgres", Schema: "public",
		TLS: configoptional.Some(tlsCfg)}, 5*time.Second)
	err := query2(c)
	require.ErrorContains(t, err, "server refused TLS connection")
	assert.NotContains(t, err.Error(), "pw-never-shown")
}

func scalar(t *testing.T, c *Client, sql string) string {
	t.Helper()
	rows, err := c.Query(context.Background(), sql)
	require.NoError(t, err)
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return v
}
