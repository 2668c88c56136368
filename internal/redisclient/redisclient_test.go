// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Endpoint: "localhost:6379"}, ""},
		{"empty", Config{}, "endpoint: must be set"},
		{"no port", Config{Endpoint: "localhost"}, "is not host:port"},
		{"bad port", Config{Endpoint: "localhost:99999"}, "between 1 and 65535"},
		{"no host", Config{Endpoint: ":6379"}, "needs a host"},
		{"negative db", Config{Endpoint: "h:1", DB: -1}, "db: must be >= 0"},
		{"sentinel", Config{Sentinel: SentinelConfig{MasterName: "m", Addresses: []string{"s1:26379", "s2:26379"}}}, ""},
		{"sentinel without master", Config{Sentinel: SentinelConfig{Addresses: []string{"s1:26379"}}}, "sentinel.master_name: must be set"},
		{"sentinel without addresses", Config{Sentinel: SentinelConfig{MasterName: "m"}}, "sentinel.addresses: must list"},
		{"bad sentinel address", Config{Sentinel: SentinelConfig{MasterName: "m", Addresses: []string{"s1"}}}, "sentinel.addresses[0]: \"s1\" is not host:port"},
		{"sentinel user without password", Config{Sentinel: SentinelConfig{MasterName: "m", Addresses: []string{"s:1"}, Username: "u"}}, "sentinel.password: must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestValidateACLUser: a Redis ACL user needs a password (there is no AUTH
// without one); it is a rule of its own, not of Validate, because the
// job_queue receiver shares these keys with PostgreSQL roles that need none.
func TestValidateACLUser(t *testing.T) {
	cfg := Config{Endpoint: "h:1", Username: "u"}
	require.NoError(t, cfg.Validate())
	require.ErrorContains(t, cfg.ValidateACLUser(), `password: must be set when username "u" is set`)
	_, err := cfg.NewClient(context.Background(), time.Second)
	require.ErrorContains(t, err, "password: must be set", "NewClient refuses it too")
	cfg.Password = "p"
	require.NoError(t, cfg.ValidateACLUser())
}

func TestClientAuthAndCounter(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--requirepass", "s3cret"))
	cfg := Config{Endpoint: srv.Addr(), Password: "s3cret", DB: 2}
	c, err := cfg.NewClient(context.Background(), time.Second)
	require.NoError(t, err)
	defer c.Close()
	var n Counter
	c.AddHook(&n)

	ctx := context.Background()
	require.NoError(t, c.Set(ctx, "a", "1", 0).Err())
	_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Get(ctx, "a")
		p.Exists(ctx, "a")
		p.Ping(ctx)
		p.ClientList(ctx) // a read, unlike the CLIENT SETINFO of the connection set-up
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, int64(2), n.RoundTrips())
	assert.Equal(t, int64(5), n.Commands())

	admin := srv.Client(t)
	admin.Options().Password = "s3cret"
	require.NoError(t, admin.Do(ctx, "SELECT", 2).Err())
	assert.Equal(t, "1", admin.Get(ctx, "a").Val(), "the client selected db 2")

	bad := Config{Endpoint: srv.Addr(), Password: "wrong"}
	bc, err := bad.NewClient(ctx, time.Second)
	require.NoError(t, err)
	defer bc.Close()
	require.ErrorContains(t, bc.Ping(ctx).Err(), "WRONGPASS")
}

func TestClientTimeout(t *testing.T) {
	srv := redistest.Start(t)
	c, err := (&Config{Endpoint: srv.Addr()}).NewClient(context.Background(), 200*time.Millisecond)
	require.NoError(t, err)
	defer c.Close()
	srv.Hang(t, 3*time.Second)
	err = c.Ping(context.Background()).Err()
	var netErr net.Error
	require.ErrorAs(t, err, &netErr, "the read gives up with a network timeout instead of waiting for the server")
	assert.True(t, netErr.Timeout())
}

// TestSentinel: with sentinel settings the client asks a real Redis
// Sentinel for the master and talks to it, credentials and db included; a
// master name the sentinel does not know fails with a clear error.
func TestSentinel(t *testing.T) {
	master := redistest.Start(t, redistest.WithArgs("--requirepass", "s3cret"))
	sentinel := redistest.StartSentinel(t, master, "jobs")
	ctx := context.Background()

	cfg := Config{Sentinel: SentinelConfig{MasterName: "jobs", Addresses: []string{sentinel.Addr()}}, Password: "s3cret", DB: 3}
	require.NoError(t, cfg.Validate())
	assert.Equal(t, "sentinel:jobs", cfg.Target())
	address, port := cfg.Server()
	assert.Equal(t, "jobs", address)
	assert.Zero(t, port)
	c, err := cfg.NewClient(ctx, 2*time.Second)
	require.NoError(t, err)
	defer c.Close()
	var n Counter
	c.AddHook(&n)
	require.NoError(t, c.Set(ctx, "via-sentinel", "1", 0).Err())
	assert.Equal(t, int64(1), n.Commands(), "the hook counts the master's commands only")

	admin := master.Client(t)
	admin.Options().Password = "s3cret"
	require.NoError(t, admin.Do(ctx, "SELECT", 3).Err())
	assert.Equal(t, "1", admin.Get(ctx, "via-sentinel").Val(), "written to the master, db 3")

	unknown := Config{Sentinel: SentinelConfig{MasterName: "nope", Addresses: []string{sentinel.Addr()}}}
	uc, err := unknown.NewClient(ctx, time.Second)
	require.NoError(t, err)
	defer uc.Close()
	assert.ErrorContains(t, uc.Ping(ctx).Err(), `no sentinel of [`+sentinel.Addr()+`] knows a master named "nope"`)
}
