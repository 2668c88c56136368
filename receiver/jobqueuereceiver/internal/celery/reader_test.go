// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
)

// newClient returns a client configured like the receiver's, counting its
// round trips.
func newClient(tb testing.TB, cfg redisclient.Config) (*redis.Client, *redisclient.Counter) {
	tb.Helper()
	c, err := cfg.NewClient(context.Background(), 5*time.Second)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	var n redisclient.Counter
	c.AddHook(&n)
	return c, &n
}
