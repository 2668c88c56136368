// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package snapshottest holds what the tests of the readers (one package per
// job system, each a snapshot.Reader) share: a client configured like the
// receiver's that counts its round trips, look-ups into a Snapshot, the
// Redis-down and Redis-hung checks every reader passes, benchmark loops, and
// running a job library's own programs. Only tests import it.
package snapshottest // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// NewClient returns a client configured like the receiver's (a 5 s
// timeout), closed when the test ends, and the counter of its round trips
// and commands.
func NewClient(tb testing.TB, cfg redisclient.Config) (*redis.Client, *redisclient.Counter) {
	tb.Helper()
	c, err := cfg.NewClient(context.Background(), 5*time.Second)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = c.Close() })
	var n redisclient.Counter
	c.AddHook(&n)
	return c, &n
}

// Take returns a snapshot of srv by a reader newReader makes with opts,
// failing the test if the reader fails.
func Take[O any, R snapshot.Reader](tb testing.TB, srv *redistest.Server, newReader func(redis.Cmdable, O) R, opts O) *snapshot.Snapshot {
	tb.Helper()
	c, _ := NewClient(tb, redisclient.Config{Endpoint: srv.Addr()})
	s, err := newReader(c, opts).Snapshot(context.Background())
	require.NoError(tb, err)
	return s
}

// Queue returns the queue called name, failing the test if s has none.
func Queue(tb testing.TB, s *snapshot.Snapshot, name string) snapshot.Queue {
	tb.Helper()
	for _, q := range s.Queues {
		if q.Name == name {
			return q
		}
	}
	require.Failf(tb, "queue not reported", "%.60q among %d queues", name, len(s.Queues))
	return snapshot.Queue{}
}

// QueueNames returns the names of s's queues, in order.
func QueueNames(s *snapshot.Snapshot) []string {
	names := make([]string, len(s.Queues))
	for i, q := range s.Queues {
		names[i] = q.Name
	}
	return names
}

// Jobs returns queue's job counts per state; queue "" gives the states kept
// for the whole system.
func Jobs(s *snapshot.Snapshot, queue string) map[string]int64 {
	out := map[string]int64{}
	for _, j := range s.Jobs {
		if j.Queue == queue {
			out[j.State] = j.Count
		}
	}
	return out
}

// HasProblem reports whether s lists a problem of kind at key.
func HasProblem(s *snapshot.Snapshot, kind, key string) bool {
	for _, p := range s.Problems {
		if p.Kind == kind && p.Key == key {
			return true
		}
	}
	return false
}

// ProblemKinds returns how many problems of each kind s lists.
func ProblemKinds(s *snapshot.Snapshot) map[string]int {
	out := map[string]int{}
	for _, p := range s.Problems {
		out[p.Kind]++
	}
	return out
}

// AssertName checks that a reported name is fit for a metric attribute:
// bounded and valid UTF-8.
func AssertName(tb testing.TB, name string) {
	tb.Helper()
	assert.LessOrEqual(tb, len(name), snapshot.MaxNameLen, "%.40q...", name)
	assert.True(tb, utf8.ValidString(name), "%.40q...", name)
}

// RedisDown takes a snapshot of a Redis nobody listens on, by a reader
// newReader makes with opts, and checks that it fails, with no snapshot,
// because the connection was refused. It returns the address tried and the
// error, for the caller to check that the error says what the reader was
// doing and where.
func RedisDown[O any, R snapshot.Reader](t *testing.T, newReader func(redis.Cmdable, O) R, opts O) (addr string, err error) {
	t.Helper()
	addr = "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	c, _ := NewClient(t, redisclient.Config{Endpoint: addr})
	s, err := newReader(c, opts).Snapshot(context.Background())
	assert.Nil(t, s)
	require.ErrorContains(t, err, "connection refused")
	return addr, err
}

// AssertHungThenBack checks a reader through a hung server: on a client
// with a 200 ms timeout, a snapshot of srv hanging for a second fails with
// an i/o timeout and an error that says what the reader was doing; once
// srv answers again, so does the reader, reporting the one queue the test
// wrote; after a restart (an empty server) it reads again too. It returns
// that last snapshot.
func AssertHungThenBack[O any, R snapshot.Reader](t *testing.T, srv *redistest.Server, newReader func(redis.Cmdable, O) R, opts O, doing string) *snapshot.Snapshot {
	t.Helper()
	ctx := context.Background()
	c, err := (&redisclient.Config{Endpoint: srv.Addr()}).NewClient(ctx, 200*time.Millisecond)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	r := newReader(c, opts)

	srv.Hang(t, time.Second)
	s, err := r.Snapshot(ctx)
	assert.Nil(t, s)
	require.ErrorContains(t, err, doing+" from "+srv.Addr())
	require.ErrorContains(t, err, "i/o timeout")
	admin := srv.Client(t)
	require.Eventually(t, func() bool { return admin.Ping(ctx).Err() == nil }, 10*time.Second, 20*time.Millisecond,
		"the hang ends")

	s, err = r.Snapshot(ctx)
	require.NoError(t, err)
	require.Len(t, s.Queues, 1)

	srv.Restart()
	s, err = r.Snapshot(ctx)
	require.NoError(t, err, "a restarted (empty) server is read again")
	return s
}

// Counter is a client's round-trip counter: redisclient.Counter, or
// pgclient.Counter (commands are then SQL statements).
type Counter interface {
	Reset()
	RoundTrips() int64
	Commands() int64
}

// BenchSnapshots times r's snapshots, after one that warms the connection,
// and reports the round trips and commands per snapshot n counts.
func BenchSnapshots(b *testing.B, r snapshot.Reader, n Counter) {
	b.Helper()
	ctx := context.Background()
	_, err := r.Snapshot(ctx)
	require.NoError(b, err)
	n.Reset()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Snapshot(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n.RoundTrips())/float64(b.N), "roundtrips/op")
	b.ReportMetric(float64(n.Commands())/float64(b.N), "cmds/op")
}

// ReportLibraryBench runs cmd, a job library's own API computing what a
// snapshot reports and timing itself (so that interpreter start-up is left
// out), which prints {"ns_per_op", "round_trips_per_op",
// "commands_per_op"}, and reports those as b's figures.
func ReportLibraryBench(b *testing.B, cmd *exec.Cmd) {
	b.Helper()
	var res struct {
		NsPerOp         float64 `json:"ns_per_op"`
		RoundTripsPerOp float64 `json:"round_trips_per_op"`
		CommandsPerOp   float64 `json:"commands_per_op"`
	}
	RunJSON(b, cmd, &res)
	b.ReportMetric(res.NsPerOp, "ns/op")
	b.ReportMetric(res.RoundTripsPerOp, "roundtrips/op")
	b.ReportMetric(res.CommandsPerOp, "cmds/op")
}

// Run runs cmd to its end and returns what it printed, failing the test
// with what cmd printed to standard error if it fails.
func Run(tb testing.TB, cmd *exec.Cmd) []byte {
	tb.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(tb, err, "%s: %s", cmd, stderr.String())
	return out
}

// RunJSON runs cmd to its end and decodes what it printed, as JSON, into v.
func RunJSON(tb testing.TB, cmd *exec.Cmd, v any) {
	tb.Helper()
	out := Run(tb, cmd)
	require.NoError(tb, json.Unmarshal(out, v), "%s", out)
}

// WaitFor polls until cond holds, while a job library's scenario runs; the
// deadline only guards against a scenario that went wrong, nothing is
// measured.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			require.Failf(tb, "scenario stuck", "waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
