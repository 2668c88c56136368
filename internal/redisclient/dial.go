// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// plainProbeDelay is how long a TLS handshake may go unanswered before a
// second connection asks whether the port speaks plain Redis. A server
// without TLS never answers a ClientHello (it waits for the end of an inline
// command that never comes), so without the question a misconfigured client
// would wait for its whole timeout. A TLS server answers well within it.
const plainProbeDelay = 500 * time.Millisecond

var (
	// errPlainServer ends a TLS handshake with a server that speaks plain Redis.
	errPlainServer = errors.New("answers plain Redis, not TLS")
	// errClosedUnanswered is the likely cause of a plain connection that the
	// server closes before answering anything.
	errClosedUnanswered = errors.New("the server closed the connection without answering: if it only accepts TLS, set tls")
)

// dialer connects over TCP, then TLS when tlsConfig is set, bounded by
// timeout, and makes a mismatch between the client's and the server's TLS
// fail at once with an error naming it.
func dialer(tlsConfig *tls.Config, timeout time.Duration) func(context.Context, string, string) (net.Conn, error) {
	// go-redis's own TCP dialer, for its keep-alive policy.
	dialTCP := redis.NewDialer(&redis.Options{DialTimeout: timeout})
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialTCP(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if tlsConfig == nil {
			return &plainConn{Conn: conn}, nil
		}
		cfg := tlsConfig
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tlsConn := tls.Client(conn, cfg)
		if err := handshake(ctx, tlsConn, timeout, func(ctx context.Context) bool {
			return speaksPlainRedis(ctx, dialTCP, network, addr)
		}); err != nil {
			_ = conn.Close()
			if errors.Is(err, errPlainServer) {
				return nil, fmt.Errorf("tls: %s %w: remove tls, or point endpoint at the server's TLS port", addr, err)
			}
			return nil, err
		}
		return tlsConn, nil
	}
}

// handshake runs the TLS handshake within timeout; if the server has not
// answered after plainProbeDelay, isPlain is asked, and a yes ends the
// handshake with errPlainServer.
func handshake(ctx context.Context, conn *tls.Conn, timeout time.Duration, isPlain func(context.Context) bool) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ctx, abort := context.WithCancelCause(ctx)
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		wait := time.NewTimer(plainProbeDelay)
		defer wait.Stop()
		select {
		case <-ctx.Done():
		case <-wait.C:
			if isPlain(ctx) {
				abort(errPlainServer)
			}
		}
	}()
	err := conn.HandshakeContext(ctx)
	abort(nil) // ends the probe, if still running
	<-probed
	if err != nil && errors.Is(context.Cause(ctx), errPlainServer) {
		return errPlainServer
	}
	return err
}

// speaksPlainRedis reports whether addr answers a plain PING as Redis does
// without TLS: "+PONG", or an error such as "-NOAUTH" when it wants a
// password. A TLS server sends no such reply to bytes that are not TLS.
func speaksPlainRedis(ctx context.Context, dial func(context.Context, string, string) (net.Conn, error), network, addr string) bool {
	conn, err := dial(ctx, network, addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
		return false
	}
	var first [1]byte
	if _, err := io.ReadFull(conn, first[:]); err != nil {
		return false
	}
	return first[0] == '+' || first[0] == '-'
}

// plainConn is a connection without TLS that names the likely cause when
// the server closes it before answering anything: a server that only
// accepts TLS resets a plain connection at its first command, which go-redis
// reports as a bare "connection reset by peer" or "EOF".
type plainConn struct {
	net.Conn
	answered bool
}

func (c *plainConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.answered = c.answered || n > 0
	if err != nil && !c.answered && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		// Two wrapped errors: go-redis unwraps a connection set-up error
		// once (errors.Unwrap), which would drop a single wrapper.
		err = fmt.Errorf("%w (%w)", err, errClosedUnanswered)
	}
	return n, err
}

// SyscallConn keeps go-redis's health check of pooled connections, which
// needs the socket.
func (c *plainConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}
