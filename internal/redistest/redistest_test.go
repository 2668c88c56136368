// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redistest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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

// TestHang: a command sent once Hang returns is not answered within the
// client's read timeout, and is again once the hang is over.
func TestHang(t *testing.T) {
	s := Start(t)
	c := s.Client(t)
	c.Options().ReadTimeout = 100 * time.Millisecond
	s.Hang(t, 3*time.Second)
	var netErr net.Error
	require.ErrorAs(t, c.Ping(context.Background()).Err(), &netErr)
	require.True(t, netErr.Timeout(), "the server answered while hanging")
	require.Eventually(t, func() bool { return c.Ping(context.Background()).Err() == nil }, 10*time.Second, 20*time.Millisecond)
}

// TestTLS: a WithTLS server answers its Client over TLS, verified against
// CAFile, and nothing in plain TCP.
func TestTLS(t *testing.T) {
	s := Start(t, WithTLS())
	require.FileExists(t, s.CAFile())
	c := s.Client(t)
	require.NoError(t, c.Set(context.Background(), "k", "v", 0).Err())

	plain := redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	defer plain.Close()
	require.Error(t, plain.Ping(context.Background()).Err(), "a plain client is refused")
}
