// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
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

func queueByName(t *testing.T, s *snapshot.Snapshot, name string) snapshot.Queue {
	t.Helper()
	for _, q := range s.Queues {
		if q.Name == name {
			return q
		}
	}
	require.Failf(t, "queue not reported", "%q", name)
	return snapshot.Queue{}
}
