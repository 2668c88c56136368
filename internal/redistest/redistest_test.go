// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redistest

import (
	"context"
	"fmt"
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

// TestWatchWrites: reads leave a WriteWatch quiet; a write, and a command
// the ACL denies, are each reported.
func TestWatchWrites(t *testing.T) {
	s := Start(t, WithDebugCommand())
	admin := s.Client(t)
	ctx := context.Background()
	require.NoError(t, admin.Set(ctx, "k", "v", 0).Err())
	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "reader", "on", ">pw", "~*", "-@all", "+get").Err())
	reader := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "reader", Password: "pw", Protocol: 2, DisableIdentity: true})
	defer reader.Close()

	w := s.WatchWrites(t)
	require.Equal(t, "v", reader.Get(ctx, "k").Val())
	rec := &recorder{TB: t}
	w.AssertUnchanged(rec)
	w.AssertNoneDenied(rec)
	require.Empty(t, rec.errors)

	require.ErrorContains(t, reader.Set(ctx, "k", "w", 0).Err(), "NOPERM")
	w.AssertUnchanged(rec)
	require.Empty(t, rec.errors, "a denied write changes nothing")
	w.AssertNoneDenied(rec)
	require.Len(t, rec.errors, 1)
	require.Contains(t, rec.errors[0], "commands were denied")

	require.NoError(t, admin.Set(ctx, "k", "w", 0).Err())
	w.AssertUnchanged(rec)
	require.Len(t, rec.errors, 2)
	require.Contains(t, rec.errors[1], "the dataset changed")
}

// TestWriteWatchReadOnly: a read-only user passes AssertReadOnly; a user
// that can write fails it.
func TestWriteWatchReadOnly(t *testing.T) {
	s := Start(t, WithDebugCommand())
	admin := s.Client(t)
	require.NoError(t, admin.Do(context.Background(), "ACL", "SETUSER", "reader", "on", ">pw", "~*", "-@all", "+get").Err())
	reader := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "reader", Password: "pw", Protocol: 2, DisableIdentity: true})
	defer reader.Close()

	rec := &recorder{TB: t}
	s.WatchWrites(t).AssertReadOnly(rec, reader)
	require.Empty(t, rec.errors)
	require.Empty(t, rec.fatals)

	s.WatchWrites(t).AssertReadOnly(rec, admin)
	require.Empty(t, rec.errors)
	require.Len(t, rec.fatals, 1)
	require.Contains(t, rec.fatals[0], "could write")
}

// recorder keeps a helper's failures instead of failing the test.
type recorder struct {
	testing.TB
	errors, fatals []string
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// Ports handed out in one process never repeat, even once released: two
// servers of one test must not be given the same port.
func TestFreePortNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 500 {
		p := FreePort(t)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
