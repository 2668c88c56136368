// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package pgserver runs a private, throw-away PostgreSQL server: initdb into
// a fresh directory and postgres on a given loopback port, never a server
// someone else started. Tests use it through pgtest; `make demo` (jobsim)
// uses it for the Postgres-backed systems.
//
// Durability is off (fsync, synchronous_commit, full_page_writes) since the
// data dies with the server. PostgreSQL refuses to run as root: as root,
// initdb and postgres run as the "postgres" system user, which Debian's
// postgresql package creates. The superuser is "postgres", authenticated by
// trust on loopback only.
package pgserver // import "github.com/otelcol-jobs/otelcol-jobs/internal/pgserver"

import (
	"context"
	"errors"
	"fmt"
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
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint is how to get the server binaries on Debian.
const InstallHint = "apt-get install -y postgresql"

// ErrNotInstalled is returned by Start when the server binaries, or the
// user to run them as, are missing.
var ErrNotInstalled = errors.New("PostgreSQL is not installed")

// Server is one postgres process on a private data directory.
type Server struct {
	dir  string
	port int
	bin  string
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start initialises a database cluster in a new temporary directory and runs
// postgres on 127.0.0.1:port, returning once it takes sessions. Close stops
// it and removes its files.
func Start(port int) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	// Not under the caller's temporary directory: that may be private to
	// its user, and the server may run as another one.
	dir, err := os.MkdirTemp("", "pgserver-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, port: port, bin: bin, cred: cred}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			s.Close()
			return nil, fmt.Errorf("give %s to the postgres user: %w", dir, err)
		}
	}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", s.dataDir(), "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		s.Close()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := s.start(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// binDir finds initdb and postgres: on PATH, else in the newest
// /usr/lib/postgresql/<version>/bin (Debian keeps them off PATH).
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: initdb not found on PATH nor in /usr/lib/postgresql/*/bin (install: %s)", ErrNotInstalled, InstallHint)
}

// version is the major version in /usr/lib/postgresql/<version>/bin, 0 if none.
func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// credential is nil when this process may run postgres itself, else the
// postgres system user's.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("%w: running as root, and PostgreSQL refuses root: no postgres user to run it as (install: %s)", ErrNotInstalled, InstallHint)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// start runs postgres on the initialised cluster and waits until it takes
// sessions.
func (s *Server) start() error {
	log, err := os.OpenFile(s.logFile(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
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
		return fmt.Errorf("start postgres: %w", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		return fmt.Errorf("postgres on %s did not become ready: %w\n%s", s.Addr(), err, s.Output())
	}
	return nil
}

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

// Restart stops the server (ending every session, as a crash or a failover
// would for its clients) and starts it again on the same port and data.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

func (s *Server) dataDir() string { return filepath.Join(s.dir, "data") }

func (s *Server) logFile() string { return filepath.Join(s.dir, "postgres.log") }

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

// Exec runs statements in database as the superuser, stopping at the first
// error.
func (s *Server) Exec(ctx context.Context, database string, statements ...string) error {
	conn, err := pgx.Connect(ctx, s.URL(database))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, stmt := range statements {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

// CreateDatabase creates an empty database and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", err
	}
	return s.URL(name), nil
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

// Close stops the server and removes its files.
func (s *Server) Close() {
	s.Stop()
	_ = os.RemoveAll(s.dir)
}

// Output is what the server printed so far (for error messages).
func (s *Server) Output() string {
	out, _ := os.ReadFile(s.logFile())
	return string(out)
}
