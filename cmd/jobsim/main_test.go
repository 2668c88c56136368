// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// fakeCollectorEnv makes the test binary act as the collector child of
// demo; its value picks the behaviour (see fakeCollector).
const fakeCollectorEnv = "JOBSIM_TEST_FAKE_COLLECTOR"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeCollectorEnv); mode != "" {
		os.Exit(fakeCollector(mode))
	}
	goleak.VerifyTestMain(m)
}

// fakeCollector stands in for otelcol-jobs:
//   - "exit3" exits with code 3 at once;
//   - "serve" checks it can read the simulated Sidekiq at
//     JOBSIM_REDIS_ENDPOINT, reports 200 on JOBSIM_HEALTH_ENDPOINT, and
//     exits 0 on SIGTERM;
//   - "stubborn" does the same but ignores SIGTERM.
func fakeCollector(mode string) int {
	if mode == "exit3" {
		return 3
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	cfg := redisclient.Config{Endpoint: os.Getenv("JOBSIM_REDIS_ENDPOINT")}
	client, err := cfg.NewClient(context.Background(), time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake collector:", err)
		return 10
	}
	defer client.Close()
	for client.SCard(context.Background(), "processes").Val() == 0 {
		time.Sleep(20 * time.Millisecond) // the first step registers the processes
	}
	l, err := net.Listen("tcp", os.Getenv("JOBSIM_HEALTH_ENDPOINT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake collector:", err)
		return 11
	}
	go func() { _ = http.Serve(l, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) }()
	fmt.Println("fake collector: healthy")
	for range sigs {
		if mode != "stubborn" {
			return 0
		}
	}
	return 12
}

// syncBuffer collects output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// demoArgs points every collector endpoint at a free port and the collector
// at the test binary itself.
func demoArgs(t *testing.T, extra ...string) []string {
	t.Helper()
	self, err := os.Executable()
	require.NoError(t, err)
	config := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(config, []byte("{}"), 0o600))
	// A generous grace: the race detector's exit sleep (GORACE
	// atexit_sleep_ms, 1 s unless make test sets it to 0) delays the fake
	// collector's exit after SIGTERM.
	args := []string{"--collector", self, "--config", config, "--grace", "10s"}
	for _, f := range []string{"prometheus", "health", "otlp-grpc", "otlp-http", "span-alerts"} {
		args = append(args, "--"+f, "127.0.0.1:"+strconv.Itoa(redistest.FreePort(t)))
	}
	return append(args, extra...)
}

type demoResult struct {
	code int
	err  error
}

// startDemo runs demo in the background with the fake collector in mode.
func startDemo(t *testing.T, ctx context.Context, mode string, args []string) (stdout, stderr *syncBuffer, done <-chan demoResult) {
	t.Helper()
	t.Setenv(fakeCollectorEnv, mode)
	res := make(chan demoResult, 1)
	stdout, stderr = new(syncBuffer), new(syncBuffer)
	go func() {
		code, err := demo(ctx, args, stdout, stderr)
		res <- demoResult{code, err}
	}()
	return stdout, stderr, res
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "gave up waiting for %s", what)
		time.Sleep(20 * time.Millisecond)
	}
}

// interruptWhenUp waits for the demo's banner, then interrupts it (as
// Ctrl-C does) and returns how it ended.
func interruptWhenUp(t *testing.T, mode string, extra ...string) (demoResult, string, string) {
	t.Helper()
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	stdout, stderr, done := startDemo(t, ctx, mode, demoArgs(t, extra...))
	// The banner appears once the health check answers, which the fake
	// collector does only after reading the simulated Sidekiq.
	waitFor(t, "the banner", func() bool {
		select {
		case res := <-done:
			t.Fatalf("demo ended early: code %d, %v\n%s", res.code, res.err, stderr)
		default:
		}
		return strings.Contains(stdout.String(), "otelcol-jobs is up")
	})
	interrupt()
	select {
	case res := <-done:
		return res, stdout.String(), stderr.String()
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop after the interrupt")
	}
	return demoResult{}, "", ""
}

func TestDemoStopsTheCollectorOnInterrupt(t *testing.T) {
	res, stdout, stderr := interruptWhenUp(t, "serve")
	require.NoError(t, res.err, stderr)
	assert.Equal(t, 0, res.code)
	assert.Contains(t, stdout, "fake collector: healthy", "the collector's output is streamed")
	assert.Regexp(t, `curl -s http://127\.0\.0\.1:\d+/metrics \| grep jobqueue_`, stdout)
	assert.Contains(t, stderr, "stopping the collector")
	assert.NotContains(t, stderr, "killing it")
}

func TestDemoKillsAStubbornCollector(t *testing.T) {
	res, _, stderr := interruptWhenUp(t, "stubborn", "--grace", "500ms")
	assert.Equal(t, 1, res.code)
	assert.ErrorContains(t, res.err, "signal: killed")
	assert.Contains(t, stderr, "still running after 500ms: killing it")
}

func TestDemoPassesTheCollectorsExitCode(t *testing.T) {
	_, _, done := startDemo(t, context.Background(), "exit3", demoArgs(t))
	res := <-done
	assert.Equal(t, 3, res.code)
	assert.ErrorContains(t, res.err, "exited with code 3")
}

func TestDemoRefusesATakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	code, err := demo(context.Background(), demoArgs(t, "--health", l.Addr().String()), io.Discard, io.Discard)
	assert.Equal(t, 1, code)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "health check address "+l.Addr().String()+" is not free")
	assert.Contains(t, err.Error(), "--health")
}

func TestDemoNeedsTheCollector(t *testing.T) {
	code, err := demo(context.Background(), demoArgs(t, "--collector", filepath.Join(t.TempDir(), "nope")), io.Discard, io.Discard)
	assert.Equal(t, 1, code)
	assert.ErrorContains(t, err, "make build")
}

var servingOn = regexp.MustCompile(`workload on (\S+) `)

func TestServeEmbedded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, []string{"--seed", "3", "--tick", "50ms"}, w, io.Discard)
		_ = w.Close()
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	require.NoError(t, err)
	go func() { _, _ = io.Copy(io.Discard, r) }()
	m := servingOn.FindStringSubmatch(line)
	require.NotNil(t, m, line)

	cfg := redisclient.Config{Endpoint: m[1]}
	client, err := cfg.NewClient(ctx, time.Second)
	require.NoError(t, err)
	defer client.Close()
	waitFor(t, "the processes to register", func() bool { return client.SCard(ctx, "processes").Val() == 4 })
	queues, err := client.SMembers(ctx, "queues").Result()
	require.NoError(t, err)
	assert.Contains(t, queues, "reports", "the backlog is seeded")

	cancel()
	require.NoError(t, <-errc)
}

// TestServeBullMQ serves the BullMQ simulation in a Redis of the test's.
func TestServeBullMQ(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	errc := make(chan error, 1)
	go func() {
		errc <- serve(ctx, []string{"--system", "bullmq", "--redis", srv.Addr(), "--tick", "50ms"}, &out, io.Discard)
	}()
	waitFor(t, "jobs to run", func() bool { return client.Exists(context.Background(), "bull:default:active").Val() == 1 })
	cancel()
	require.NoError(t, <-errc)
	assert.Contains(t, out.String(), "serving a simulated BullMQ 6.7 workload on "+srv.Addr())
	meta, err := client.Keys(context.Background(), "bull:*:meta").Result()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"bull:critical:meta", "bull:default:meta", "bull:mailers:meta", "bull:reports:meta"}, meta)
	assert.Zero(t, client.LLen(context.Background(), "bull:critical:active").Val(), "stopped workers hold no jobs")
}

func TestServeRefusesAnUnknownSystem(t *testing.T) {
	err := serve(context.Background(), []string{"--system", "beanstalkd"}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `jobsim does not simulate "beanstalkd"`)
}

func TestServeRefusesANonEmptyRedis(t *testing.T) {
	srv := redistest.Start(t)
	require.NoError(t, srv.Client(t).Set(context.Background(), "precious", "data", 0).Err())
	err := serve(context.Background(), []string{"--redis", srv.Addr()}, io.Discard, io.Discard)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "holds 1 keys")
}

func TestServeOnExternalRedisDeregistersOnStop(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, []string{"--redis", srv.Addr(), "--tick", "50ms"}, io.Discard, io.Discard) }()
	waitFor(t, "processes to register", func() bool { return client.SCard(context.Background(), "processes").Val() > 0 })
	cancel()
	require.NoError(t, <-errc)
	assert.Zero(t, client.SCard(context.Background(), "processes").Val(), "stopped processes leave the registry")
	assert.Positive(t, client.Exists(context.Background(), "stat:processed").Val())
}

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), nil, io.Discard, &out))
	assert.Contains(t, out.String(), "jobsim serve")
	assert.Equal(t, 2, run(context.Background(), []string{"bogus"}, io.Discard, &out))
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "--nope"}, io.Discard, io.Discard))
	assert.Equal(t, 0, run(context.Background(), []string{"serve", "-h"}, io.Discard, io.Discard))
}
