// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package pgtest starts throw-away PostgreSQL servers for tests, as
// redistest does for Redis.
//
// Each Start runs initdb into a fresh directory and a postgres on a free
// loopback port, never a server someone else started (nor :5432), with
// durability off (fsync, synchronous_commit, full_page_writes) since the
// data dies with the test. PostgreSQL refuses to run as root: when the test
// runs as root, initdb and postgres run as the "postgres" system user (which
// Debian's postgresql package creates). A missing tool skips the test, or
// fails it under redistest.RequireEnv.
package pgtest // import "github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"

import (
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// installHint is how to get the server binaries on Debian.
const installHint = "apt-get install -y postgresql"

// Server is one postgres process owned by a test. Its superuser is
// "postgres", authenticated by trust on loopback only.
type Server struct {
	tb   testing.TB
	dir  string
	port int
	bin  string
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start initialises a database cluster and runs postgres on a free loopback
// port; the server is stopped and its files removed when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin := binDir(tb)
	cred := credential(tb)
	// Not tb.TempDir: its parent is private to the test's user, and the
	// server may run as another one.
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(func() { _ = os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			tb.Fatalf("pgtest: give %s to the postgres user: %v", dir, err)
		}
	}
	s := &Server{tb: tb, dir: dir, port: redistest.FreePort(tb)}

	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		tb.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}

	s.cred = cred
	s.bin = bin
	tb.Cleanup(s.Stop)
	s.start()
	return s
}

// binDir finds initdb and postgres: on PATH, else in the newest
// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
func binDir(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	redistest.Missing(tb, "PostgreSQL's initdb not found on PATH nor in /usr/lib/postgresql/*/bin (install: "+installHint+")")
	return ""
}

// version is the major version in /usr/lib/postgresql/<version>/bin, 0 if none.
func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// credential is nil when the test may run postgres itself, else the
// postgres system user's.
func credential(tb testing.TB) *syscall.Credential {
	tb.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		redistest.Missing(tb, "running as root, and PostgreSQL refuses root: no postgres user to run it as (install: "+installHint+")")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// start runs postgres on the initialised cluster and waits until it takes
// sessions.
func (s *Server) start() {
	tb := s.tb
	tb.Helper()
	log, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	defer log.Close() // the server holds its own descriptor
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.dataDir(),
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("pgtest: start postgres: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	if err := s.waitReady(30 * time.Second); err != nil {
		tb.Fatalf("pgtest: postgres on %s did not become ready: %v\n%s", s.Addr(), err, s.Output())
	}
}

// Restart stops the server (ending every session, as a crash or a failover
// would for its clients) and starts it again on the same port and data.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func (s *Server) logFile() string { return filepath.Join(s.dir, "postgres.log") }

// waitReady waits until the server accepts a session: it listens before
// recovery ends and refuses sessions until then.
func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var lastErr error
	for ctx.Err() == nil {
		attempt, cancelAttempt := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(attempt, s.URL("postgres"))
		if err == nil {
			err = conn.Close(attempt)
		}
		cancelAttempt()
		if err == nil {
			return nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return lastErr
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.port }

// URL is a connection URL for database as the superuser, without TLS.
func (s *Server) URL(database string) string { return s.URLAs("postgres", database) }

// URLAs is a connection URL for database as role, without TLS (every role
// logs in without a password: trust on loopback).
func (s *Server) URLAs(role, database string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Host: s.Addr(), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Exec runs statements in database as the superuser, failing the test on
// the first error.
func (s *Server) Exec(database string, statements ...string) {
	s.tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL(database))
	if err != nil {
		s.tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, stmt := range statements {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			s.tb.Fatalf("pgtest: %s: %v", stmt, err)
		}
	}
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(name string) string {
	s.tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		s.tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		s.tb.Fatalf("pgtest: create database %s: %v", name, err)
	}
	return s.URL(name)
}

// Stop shuts the server down (fast shutdown: open sessions are ended) and
// waits for it; safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() {
		_ = s.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Output is what the server printed so far (for failure messages).
func (s *Server) Output() string {
	out, _ := os.ReadFile(s.logFile())
	return string(out)
}
