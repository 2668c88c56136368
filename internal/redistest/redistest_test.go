// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redistest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "k", "v", 0).Err())
	require.Equal(t, "v", c.Get(ctx, "k").Val())

	s.Restart()
	n, err := c.Exists(ctx, "k").Result()
	require.NoError(t, err, "the client reconnects to the restarted server")
	require.Zero(t, n, "a restarted server starts empty")
}
