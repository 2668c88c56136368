// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package pgtest

import (
	"context"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStart(t *testing.T) {
	s := Start(t)
	ctx := context.Background()
	url := s.CreateDatabase("jobs")
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	var port, db string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_setting('port'), current_database()").Scan(&port, &db))
	require.NoError(t, conn.Close(ctx))
	assert.Equal(t, strconv.Itoa(s.Port()), port, "our own server, not the machine's")
	assert.Equal(t, "jobs", db)

	s.Stop()
	_, err = pgx.Connect(ctx, url)
	assert.Error(t, err, "the server is gone after Stop")
	assert.Contains(t, s.Output(), "database system is shut down")
	s.Stop() // a second Stop is harmless
}
