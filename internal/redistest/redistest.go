// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package redistest starts throw-away redis-server processes for tests and
// decides whether a test whose tools are missing skips or fails.
//
// Integration tests never use a server someone else started: each Start runs
// its own redis-server on a free loopback port with no persistence. When a
// tool is missing the test skips with a message naming the tool and how to
// install it, unless RequireEnv is set (CI sets it), in which case it fails.
package redistest // import "github.com/otelcol-jobs/otelcol-jobs/internal/redistest"

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// RequireEnv is the environment variable that turns a skip for a missing tool
// into a failure. .ci/run sets it to 1.
const RequireEnv = "JOBQUEUE_REQUIRE_INTEGRATION"

// Required reports whether missing tools must fail the test instead of skipping it.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// RequireTool skips (or, under RequireEnv, fails) the test when the named
// executable is not on PATH. installHint tells a reader how to get it,
// e.g. "apt-get install -y redis-server". It returns the tool's path.
func RequireTool(tb testing.TB, name, installHint string) string {
	tb.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		Missing(tb, fmt.Sprintf("%s not found on PATH (install: %s)", name, installHint))
	}
	return path
}

// Missing skips (or, under RequireEnv, fails) the test because something it
// needs is not available; reason says what and how to install it.
func Missing(tb testing.TB, reason string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("%s; %s=1 forbids skipping", reason, RequireEnv)
	}
	tb.Skip(reason)
}

// Server is one redis-server process owned by a test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string

	// monitor is set for a sentinel: "<master name> <host> <port>".
	monitor string
	// tls serves TLS only (WithTLS), with these PEM files.
	tls                       bool
	caFile, certFile, keyFile string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// Option changes how the server is started.
type Option func(*Server)

// WithArgs adds redis-server command-line arguments, e.g. "--requirepass", "x".
func WithArgs(args ...string) Option {
	return func(s *Server) { s.args = append(s.args, args...) }
}

// Start runs a redis-server on a free loopback port and stops it when the
// test ends. It skips or fails (see RequireEnv) when redis-server is missing.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := newServer(tb)
	for _, o := range opts {
		o(s)
	}
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

func newServer(tb testing.TB) *Server {
	return &Server{
		tb:   tb,
		bin:  RequireTool(tb, "redis-server", "apt-get install -y redis-server"),
		dir:  tb.TempDir(),
		port: FreePort(tb),
	}
}

// StartSentinel runs a Redis Sentinel (redis-server --sentinel) on a free
// loopback port that monitors master under name, with a quorum of 1, and
// stops it when the test ends.
func StartSentinel(tb testing.TB, master *Server, name string) *Server {
	tb.Helper()
	s := newServer(tb)
	s.monitor = fmt.Sprintf("%s 127.0.0.1 %d", name, master.Port())
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// Dir is the server's working directory (for ACL files, certificates, ...).
func (s *Server) Dir() string { return s.dir }

// Client returns a client for the default user (over TLS for a WithTLS
// server), closed when the test ends. Tests use it to prepare and inspect
// state.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	opts := &redis.Options{
		Addr:            s.Addr(),
		Protocol:        2,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
	if s.tls {
		opts.TLSConfig = s.clientTLS()
	}
	c := redis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// Hang makes the server hold every client's commands for d, as a hung
// Redis would (CLIENT PAUSE ... ALL), and returns once that is in effect: a
// command sent after Hang returns gets no answer before d has passed. Unlike
// DEBUG SLEEP sent from a goroutine, nothing has to guess when the server
// starts hanging. Redis holds CLIENT UNPAUSE too, so the hang only ends
// with d.
func (s *Server) Hang(tb testing.TB, d time.Duration) {
	tb.Helper()
	if err := s.Client(tb).Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), "ALL").Err(); err != nil {
		tb.Fatalf("hang redis-server on %s: %v", s.Addr(), err)
	}
}

// Stop kills the server; safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart stops the server and starts a new, empty one on the same port.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

// Output is what the server printed so far (for failure messages).
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

func (s *Server) start() {
	s.tb.Helper()
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--daemonize", "no",
		"--loglevel", "warning",
	}, s.args...)
	if s.tls {
		args = append(args, s.tlsArgs()...)
	}
	if s.monitor != "" {
		// A sentinel rewrites its configuration file, so it needs one.
		conf := s.WriteFile("sentinel.conf", fmt.Sprintf(
			"port %d\nbind 127.0.0.1\ndir %s\nloglevel warning\nsentinel monitor %s 1\n", s.port, s.dir, s.monitor))
		args = []string{conf, "--sentinel"}
	}
	out := &bytes.Buffer{}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	s.mu.Lock()
	s.cmd, s.out = cmd, out
	s.mu.Unlock()
	if err := waitReady(s.Addr(), 10*time.Second); err != nil {
		s.Stop()
		s.tb.Fatalf("redis-server on %s did not become ready: %v\n%s", s.Addr(), err, out.String())
	}
}

// waitReady waits until the port accepts connections. A raw dial is enough:
// redis-server listens only once it is ready to serve.
func waitReady(addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var lastErr error
	for ctx.Err() == nil {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return lastErr
}

// handedOut are the ports FreePort returned in this process: the kernel may
// offer a closed port again before its taker has bound it, so that two
// servers of one test would get the same port.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// that no earlier call in this process returned.
func FreePort(tb testing.TB) int {
	tb.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("find a free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !handedOut.ports[port] {
			handedOut.ports[port] = true
			return port
		}
	}
	tb.Fatalf("find a free port: the kernel offered only ports already handed out")
	return 0
}

// WriteFile writes content to name inside the server's directory and returns its path.
func (s *Server) WriteFile(name, content string) string {
	s.tb.Helper()
	p := filepath.Join(s.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		s.tb.Fatalf("write %s: %v", p, err)
	}
	return p
}

// WithDebugCommand lets clients send DEBUG, which WatchWrites needs
// (redis-server refuses it by default since 7.0).
func WithDebugCommand() Option { return WithArgs("--enable-debug-command", "yes") }

// WriteWatch tells whether a server's dataset changed, or a command was
// denied, since WatchWrites: what a test of a read-only client checks.
type WriteWatch struct {
	admin  *redis.Client
	digest string
}

// WatchWrites clears the server's ACL log and records the digest of its
// dataset (DEBUG DIGEST: start the server WithDebugCommand).
func (s *Server) WatchWrites(tb testing.TB) *WriteWatch {
	tb.Helper()
	w := &WriteWatch{admin: s.Client(tb)}
	if err := w.admin.Do(context.Background(), "ACL", "LOG", "RESET").Err(); err != nil {
		tb.Fatalf("ACL LOG RESET: %v", err)
	}
	w.digest = w.currentDigest(tb)
	return w
}

func (w *WriteWatch) currentDigest(tb testing.TB) string {
	tb.Helper()
	d, err := w.admin.Do(context.Background(), "DEBUG", "DIGEST").Text()
	if err != nil {
		tb.Fatalf("DEBUG DIGEST (start the server WithDebugCommand): %v", err)
	}
	return d
}

// AssertUnchanged fails the test if the dataset changed since WatchWrites.
func (w *WriteWatch) AssertUnchanged(tb testing.TB) {
	tb.Helper()
	if d := w.currentDigest(tb); d != w.digest {
		tb.Errorf("the dataset changed: digest %s, was %s", d, w.digest)
	}
}

// AssertNoneDenied fails the test if a command was denied since
// WatchWrites (the ACL log has an entry).
func (w *WriteWatch) AssertNoneDenied(tb testing.TB) {
	tb.Helper()
	denied, err := w.admin.Do(context.Background(), "ACL", "LOG").Slice()
	if err != nil {
		tb.Fatalf("ACL LOG: %v", err)
	}
	if len(denied) > 0 {
		tb.Errorf("commands were denied: %v", denied)
	}
}

// AssertReadOnly is what a test of a read-only user checks once its client
// c has read: the dataset is unchanged, no command was denied, and c is
// really refused a write (so the rest proved something).
func (w *WriteWatch) AssertReadOnly(tb testing.TB, c redis.Cmdable) {
	tb.Helper()
	w.AssertUnchanged(tb)
	w.AssertNoneDenied(tb)
	if err := c.Set(context.Background(), "x", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		tb.Fatalf("the read-only user could write: SET answered %v", err)
	}
}
