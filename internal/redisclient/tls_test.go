// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// mismatchTimeout is far longer than a mismatch may take to be told: an
// error that only came with it would be a timeout, which the tests refuse.
const mismatchTimeout = 30 * time.Second

func withTLS(caFile string) configoptional.Optional[configtls.ClientConfig] {
	c := configtls.NewDefaultClientConfig()
	c.CAFile = caFile
	return configoptional.Some(c)
}

func ping(t *testing.T, cfg Config) error {
	t.Helper()
	c, err := cfg.NewClient(context.Background(), mismatchTimeout)
	require.NoError(t, err)
	defer c.Close()
	err = c.Ping(context.Background()).Err()
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the client waited for its timeout: %v", err)
	}
	return err
}

// TestTLS: the client verifies the server's certificate against ca_file and
// the endpoint's host, and a password goes through.
func TestTLS(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS(), redistest.WithArgs("--requirepass", "s3cret"))
	require.NoError(t, ping(t, Config{Endpoint: srv.Addr(), Password: "s3cret", TLS: withTLS(srv.CAFile())}))
	require.ErrorContains(t, ping(t, Config{Endpoint: srv.Addr(), Password: "s3cret", TLS: withTLS("")}),
		"certificate signed by unknown authority", "system roots do not know the test CA")
}

// TestTLSClientPlainServer: with tls set against a server without TLS, the
// client fails at once and says so. Such a server never answers a TLS
// ClientHello, so go-redis alone waits for the whole timeout and reports
// "context deadline exceeded" or "i/o timeout".
func TestTLSClientPlainServer(t *testing.T) {
	for _, password := range []string{"", "s3cret"} {
		args := []string{}
		if password != "" {
			args = []string{"--requirepass", password}
		}
		srv := redistest.Start(t, redistest.WithArgs(args...))
		err := ping(t, Config{Endpoint: srv.Addr(), Password: "s3cret", TLS: withTLS("")})
		require.ErrorContains(t, err, srv.Addr()+" answers plain Redis, not TLS: remove tls, or point endpoint at the server's TLS port")
	}
}

// TestPlainClientTLSServer: without tls against a server that only speaks
// TLS, the error says that TLS is the likely cause, not only "connection
// reset by peer".
func TestPlainClientTLSServer(t *testing.T) {
	srv := redistest.Start(t, redistest.WithTLS())
	for _, cfg := range []Config{
		{Endpoint: srv.Addr()},
		{Endpoint: srv.Addr(), Password: "s3cret", DB: 1}, // fails in AUTH, at connection set-up
	} {
		err := ping(t, cfg)
		require.ErrorContains(t, err, "the server closed the connection without answering: if it only accepts TLS, set tls")
	}
}
