// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeSidekiq writes a small Sidekiq 6.4 state (Sidekiq::Client#push, the
// launcher's heartbeat, the processor's `<identity>:workers`): queue
// "default" with two jobs, the oldest enqueued a minute ago; one process
// running one job for ten minutes; two retries; the counters.
func writeSidekiq(t *testing.T, c *redis.Client) (identity string) {
	ctx := context.Background()
	now := time.Now()
	secs := func(d time.Duration) string {
		return strconv.FormatFloat(float64(now.Add(-d).UnixMicro())/1e6, 'f', 6, 64)
	}
	job := func(d time.Duration) string {
		return `{"class":"HardJob","args":[1],"retry":true,"queue":"default","jid":"b4a577edbccf1d805744efa9",` +
			`"created_at":` + secs(d) + `,"enqueued_at":` + secs(d) + `}`
	}
	identity = "web-1:101:3c0d6e5f4a1b"
	info := `{"hostname":"web-1","started_at":` + secs(time.Hour) + `,"pid":101,"tag":"app","concurrency":5,` +
		`"queues":["default"],"labels":[],"identity":"` + identity + `"}`
	work, err := json.Marshal(map[string]any{"queue": "default", "payload": job(11 * time.Minute), "run_at": now.Add(-10 * time.Minute).Unix()})
	require.NoError(t, err)

	pipe := c.Pipeline()
	pipe.SAdd(ctx, "queues", "default")
	pipe.LPush(ctx, "queue:default", job(time.Minute), job(time.Second))
	pipe.ZAdd(ctx, "retry", redis.Z{Score: float64(now.Unix()), Member: `{"class":"HardJob","error_class":"Net::ReadTimeout","jid":"1"}`},
		redis.Z{Score: float64(now.Unix() + 1), Member: `{"class":"HardJob","error_class":"Net::ReadTimeout","jid":"2"}`})
	pipe.Set(ctx, "stat:processed", 1000, 0)
	pipe.Set(ctx, "stat:failed", 25, 0)
	pipe.SAdd(ctx, "processes", identity)
	pipe.HSet(ctx, identity, "info", info, "busy", 1, "beat", secs(2*time.Second), "quiet", "false", "rss", 102400, "rtt_us", 300)
	pipe.HSet(ctx, identity+":workers", "owl2k", string(work))
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)
	return identity
}

func runCmd(args []string, env map[string]string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// row returns the whitespace-separated fields of the first output line that
// starts with prefix.
func row(t *testing.T, out, prefix string) []string {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.Fields(line)
		}
	}
	t.Fatalf("no line starts with %q in:\n%s", prefix, out)
	return nil
}

func TestSnapshotTable(t *testing.T) {
	srv := redistest.Start(t)
	identity := writeSidekiq(t, srv.Client(t))

	code, out, errOut := runCmd([]string{"snapshot", "--system", "sidekiq", "--endpoint", srv.Addr(), "--by-class", "10"}, nil)
	require.Equal(t, exitOK, code, errOut)

	assert.Contains(t, out, "sidekiq at "+srv.Addr())
	cost := row(t, out, "Redis cost:")
	trips, err := strconv.Atoi(cost[2])
	require.NoError(t, err)
	assert.Positive(t, trips)
	assert.LessOrEqual(t, trips, 4)

	// QUEUE SIZE LATENCY RUNNING LONGEST-RUNNING STALLED PAUSED
	q := row(t, out, "default ")
	assert.Equal(t, "2", q[1], "size")
	latency, err := time.ParseDuration(q[2])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, latency, time.Minute, "age of the oldest job")
	assert.Equal(t, "1", q[3], "running")
	running, err := time.ParseDuration(q[4])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, running, 10*time.Minute)
	assert.Equal(t, "1", q[5], "stalled after 5m")
	assert.Equal(t, "-", q[6], "Sidekiq OSS cannot pause")

	assert.Equal(t, []string{"retry", "-", "2"}, row(t, out, "retry "))
	assert.Equal(t, []string{"busy", "-", "1"}, row(t, out, "busy "))
	assert.Equal(t, []string{"all", "queues", "1000", "25"}, row(t, out, "all queues"))

	// PROCESS HOST PID BUSY CAPACITY MEMORY(2 fields) HEARTBEAT QUIET
	p := row(t, out, identity)
	assert.Equal(t, []string{"web-1", "101", "1", "5", "100.0", "MiB"}, p[1:7])
	assert.Equal(t, "no", p[8])
	assert.Contains(t, out, "1 live processes, 1 of 5 worker slots busy, 0 stale registry entries")
	assert.Equal(t, []string{"retry", "HardJob", "Net::ReadTimeout", "2"}, row(t, out, "retry  HardJob"))
}

// TestSnapshotResque: a Resque state (Resque 3.0's keys under its default
// namespace) as a table; Resque jobs carry no enqueue time, so no latency.
func TestSnapshotResque(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now().UTC()
	id := "web-1:101:default"
	pipe := c.Pipeline()
	pipe.SAdd(ctx, "resque:queues", "default")
	pipe.RPush(ctx, "resque:queue:default", `{"class":"HardJob","args":[1]}`, `{"class":"HardJob","args":[2]}`)
	pipe.SAdd(ctx, "resque:workers", id)
	pipe.HSet(ctx, "resque:workers:heartbeat", id, now.Add(-2*time.Second).Format(time.RFC3339))
	pipe.Set(ctx, "resque:worker:"+id, `{"queue":"default","run_at":"`+now.Add(-10*time.Minute).Format(time.RFC3339)+`","payload":{"class":"HardJob","args":[0]}}`, 0)
	pipe.RPush(ctx, "resque:failed", `{"failed_at":"2026/11/27 12:00:00 UTC","payload":{"class":"HardJob","args":[3]},"exception":"RuntimeError","error":"boom","queue":"default"}`)
	pipe.Set(ctx, "resque:stat:processed", 1000, 0)
	pipe.Set(ctx, "resque:stat:failed", 25, 0)
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "resque", "--endpoint", srv.Addr()}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "resque at "+srv.Addr())
	assert.Equal(t, []string{"Redis", "cost:", "2", "round", "trips,", "14", "commands"}, row(t, out, "Redis cost:"))
	// QUEUE SIZE LATENCY RUNNING LONGEST-RUNNING STALLED PAUSED
	q := row(t, out, "default ")
	assert.Equal(t, []string{"2", "-", "1"}, q[1:4], "size, no latency, running")
	assert.Equal(t, []string{"1", "-"}, q[5:7], "stalled after 5m, Resque cannot pause queues")
	assert.Equal(t, []string{"failed", "-", "1"}, row(t, out, "failed "))
	assert.Equal(t, []string{"working", "-", "1"}, row(t, out, "working "))
	assert.Equal(t, []string{"all", "queues", "1000", "25"}, row(t, out, "all queues"))
	assert.Contains(t, out, "1 live processes, 1 of 1 worker slots busy, 0 stale registry entries")
}

// TestSnapshotCelery: a Celery broker (kombu's keys) as a table: no latency,
// unacked messages per queue, and no processes, which Celery keeps nowhere.
func TestSnapshotCelery(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	pipe := c.Pipeline()
	pipe.SAdd(ctx, "_kombu.binding.mail", "mail\x06\x16\x06\x16mail")
	pipe.SAdd(ctx, "_kombu.binding.celery.pidbox", "\x06\x16\x06\x16w1@host.celery.pidbox")
	pipe.LPush(ctx, "mail", `{"body":""}`, `{"body":""}`)
	pipe.LPush(ctx, "mail\x06\x169", `{"body":""}`)
	pipe.ZAdd(ctx, "unacked_index", redis.Z{Score: float64(time.Now().Add(-10 * time.Minute).Unix()), Member: "tag1"})
	pipe.HSet(ctx, "unacked", "tag1", `[{"body":""}, "mail", "mail"]`)
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "celery", "--endpoint", srv.Addr()}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "celery at "+srv.Addr())
	assert.Equal(t, []string{"Redis", "cost:", "3", "round", "trips,", "10", "commands"}, row(t, out, "Redis cost:"))
	// QUEUE SIZE LATENCY RUNNING LONGEST-RUNNING STALLED PAUSED
	q := row(t, out, "mail ")
	assert.Equal(t, []string{"3", "-", "1"}, q[1:4], "size over the priority lists, no latency, unacked")
	assert.Equal(t, []string{"1", "-"}, q[5:7], "stalled after 5m, Celery cannot pause queues")
	assert.Equal(t, []string{"unacked", "mail", "1"}, row(t, out, "unacked "))
	assert.Contains(t, out, "1 of 1 discovered queues shown", "the pidbox is no queue")
	assert.Contains(t, out, "no processes: celery registers no workers in Redis")
	assert.NotContains(t, out, "live processes")
}

// TestSnapshotBullMQ: BullMQ queues found by their meta keys, or named with
// --queue; workers only with --client-list.
func TestSnapshotBullMQ(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	pipe := c.Pipeline()
	for _, q := range []string{"emails", "reports"} {
		pipe.HSet(ctx, "bull:"+q+":meta", "opts.maxLenEvents", 10000, "version", "bullmq:6.7.0")
	}
	pipe.HSet(ctx, "bull:emails:1", "name", "welcome", "timestamp", time.Now().Add(-90*time.Second).UnixMilli())
	pipe.LPush(ctx, "bull:emails:wait", "1")
	pipe.HSet(ctx, "bull:reports:meta", "paused", 1)
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "bullmq", "--endpoint", srv.Addr()}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "bullmq at "+srv.Addr())
	assert.Equal(t, []string{"Redis", "cost:", "3", "round", "trips,", "26", "commands"}, row(t, out, "Redis cost:"),
		"a SCAN page, then two round trips")
	// QUEUE SIZE LATENCY RUNNING LONGEST-RUNNING STALLED PAUSED
	assert.Equal(t, "1", row(t, out, "emails ")[1])
	assert.Equal(t, "yes", row(t, out, "reports ")[6])
	assert.Equal(t, []string{"waiting", "emails", "1"}, row(t, out, "waiting "))
	assert.Contains(t, out, "no processes: bullmq registers no workers in Redis")

	code, out, errOut = runCmd([]string{"snapshot", "--system", "bullmq", "--endpoint", srv.Addr(), "--queue", "emails", "--client-list"}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "1 of 1 discovered queues shown")
	assert.Equal(t, []string{"Redis", "cost:", "2", "round", "trips,", "14", "commands"}, row(t, out, "Redis cost:"))
	assert.NotContains(t, out, "no processes")
}

// TestSnapshotRQ: an RQ Redis as a table: the head job's latency, RQ's
// registries per queue, a busy worker and a registry entry whose hash is
// gone.
func TestSnapshotRQ(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	now := time.Now().UTC()
	utc := func(d time.Duration) string { return now.Add(-d).Format("2006-01-02T15:04:05.000000Z") }
	pipe := c.Pipeline()
	pipe.SAdd(ctx, "rq:queues", "rq:queue:default")
	pipe.HSet(ctx, "rq:job:a", "status", "queued", "origin", "default", "enqueued_at", utc(90*time.Second))
	pipe.HSet(ctx, "rq:job:b", "status", "queued", "origin", "default", "enqueued_at", utc(time.Second))
	pipe.RPush(ctx, "rq:queue:default", "a", "b")
	pipe.HSet(ctx, "rq:job:c", "status", "started", "origin", "default", "started_at", utc(10*time.Minute))
	pipe.ZAdd(ctx, "rq:wip:default", redis.Z{Score: float64(now.Unix() + 90), Member: "c"})
	pipe.ZAdd(ctx, "rq:failed:default", redis.Z{Score: float64(now.Unix() + 3600), Member: "d"})
	pipe.HSet(ctx, "rq:worker:w1", "state", "busy", "current_job", "c", "hostname", "web-1", "pid", 7,
		"queues", "default", "last_heartbeat", utc(2*time.Second), "successful_job_count", 40, "failed_job_count", 2)
	pipe.Expire(ctx, "rq:worker:w1", 90*time.Second)
	pipe.SAdd(ctx, "rq:workers", "rq:worker:w1", "rq:worker:gone")
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "rq", "--endpoint", srv.Addr()}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "rq at "+srv.Addr())
	assert.Equal(t, []string{"Redis", "cost:", "3", "round", "trips,", "21", "commands"}, row(t, out, "Redis cost:"))
	// QUEUE SIZE LATENCY RUNNING LONGEST-RUNNING STALLED PAUSED
	q := row(t, out, "default ")
	assert.Equal(t, []string{"2", "1"}, []string{q[1], q[3]}, "size, running")
	latency, err := time.ParseDuration(q[2])
	require.NoError(t, err)
	assert.GreaterOrEqual(t, latency, 90*time.Second, "the head job's age, on the real clock")
	assert.Equal(t, []string{"1", "-"}, q[5:7], "stalled after 5m, RQ cannot pause queues")
	assert.Equal(t, []string{"started", "default", "1"}, row(t, out, "started "))
	assert.Equal(t, []string{"failed", "default", "1"}, row(t, out, "failed "))
	assert.Equal(t, []string{"all", "queues", "42", "2"}, row(t, out, "all queues"))
	assert.Contains(t, out, "1 live processes, 1 of 1 worker slots busy, 1 stale registry entries")
}

// TestSnapshotCeleryOptions: kombu's options and the result backend as
// flags; bad steps are refused as the receiver refuses them.
func TestSnapshotCeleryOptions(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	pipe := c.Pipeline()
	pipe.SAdd(ctx, "app:_kombu.binding.jobs", "jobs::jobs")
	pipe.LPush(ctx, "app:jobs", `{"body":""}`)
	pipe.LPush(ctx, "app:jobs:1", `{"body":""}`, `{"body":""}`)
	pipe.Set(ctx, "celery-task-meta-1", `{"status": "SUCCESS", "result": 1}`, 0)
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "celery", "--endpoint", srv.Addr(), "--namespace", "app:",
		"--celery-priority-steps", "0,1,2", "--celery-sep", ":", "--celery-results"}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, []string{"3", "-", "0"}, row(t, out, "jobs ")[1:4])
	assert.Equal(t, []string{"success", "-", "1"}, row(t, out, "success "))

	code, _, errOut = runCmd([]string{"snapshot", "--system", "celery", "--celery-priority-steps", "0,x"}, nil)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `--celery-priority-steps: "x" is not an integer`)
	code, _, errOut = runCmd([]string{"snapshot", "--system", "celery", "--celery-priority-steps", "3,0"}, nil)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "celery: priority_steps: must be non-negative and ascending")
}

func TestSnapshotThroughSentinel(t *testing.T) {
	master := redistest.Start(t)
	writeSidekiq(t, master.Client(t))
	sentinel := redistest.StartSentinel(t, master, "jobs")

	code, out, errOut := runCmd([]string{"snapshot", "--system", "sidekiq",
		"--sentinel-master", "jobs", "--sentinel", "127.0.0.1:1," + sentinel.Addr()}, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "sidekiq at sentinel:jobs")
	assert.Equal(t, "2", row(t, out, "default ")[1], "size, read from the master the sentinel names")

	code, out, errOut = runCmd([]string{"snapshot", "--system", "sidekiq", "--sentinel", sentinel.Addr()}, nil)
	assert.Equal(t, exitUsage, code, out)
	assert.Contains(t, errOut, "sentinel.master_name: must be set")
}

func TestSnapshotJSON(t *testing.T) {
	srv := redistest.Start(t, redistest.WithArgs("--requirepass", "pw"))
	admin := srv.Client(t)
	admin.Options().Password = "pw"
	writeSidekiq(t, admin)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "sidekiq", "--endpoint", srv.Addr(),
		"--password-env", "JOBQ_PW", "--json"}, map[string]string{"JOBQ_PW": "pw"})
	require.Equal(t, exitOK, code, errOut)
	var snap jobqueuereceiver.Snapshot
	require.NoError(t, json.Unmarshal([]byte(out), &snap))
	assert.Equal(t, "sidekiq", snap.System)
	require.Len(t, snap.Queues, 1)
	assert.Equal(t, int64(2), snap.Queues[0].Size)
	assert.GreaterOrEqual(t, snap.Queues[0].Latency, time.Minute)
	require.Len(t, snap.Processes, 1)
	assert.Equal(t, int64(102400*1024), snap.Processes[0].MemoryBytes)
	assert.Equal(t, []jobqueuereceiver.Totals{{Processed: 1000, Failed: 25}}, snap.Totals)
	assert.Positive(t, snap.RoundTrips)
	assert.GreaterOrEqual(t, snap.Commands, snap.RoundTrips)
	assert.NotContains(t, out+errOut, "pw\"", "the password is not printed")
}

func TestExitCodes(t *testing.T) {
	down := redistest.Start(t)
	down.Stop()
	wrongPW := redistest.Start(t, redistest.WithArgs("--requirepass", "right"))
	tlsOnly := redistest.Start(t, redistest.WithTLS())
	tests := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		stderr string
	}{
		{"no command", nil, nil, exitUsage, "usage: jobqctl snapshot"},
		{"unknown command", []string{"status"}, nil, exitUsage, "usage: jobqctl snapshot"},
		{"help", []string{"snapshot", "-h"}, nil, exitOK, "-endpoint"},
		{"unknown flag", []string{"snapshot", "--nope"}, nil, exitUsage, "flag provided but not defined: -nope"},
		{"no system", []string{"snapshot"}, nil, exitUsage, "system: must be set"},
		{"unknown system", []string{"snapshot", "--system", "kue"}, nil, exitUsage, `unknown job system "kue"`},
		{"bad endpoint", []string{"snapshot", "--system", "sidekiq", "--endpoint", "nohost"}, nil, exitUsage, "is not host:port"},
		{"stray argument", []string{"snapshot", "--system", "sidekiq", "extra"}, nil, exitUsage, "unexpected arguments: extra"},
		{"password variable unset", []string{"snapshot", "--system", "sidekiq", "--password-env", "NOPE"}, nil, exitUsage, "NOPE is empty or unset"},
		{"missing CA file", []string{"snapshot", "--system", "sidekiq", "--tls-ca-file", "/nonexistent/ca.pem"}, nil, exitUsage, "tls:"},
		{"negative by-class", []string{"snapshot", "--system", "sidekiq", "--by-class", "-1"}, nil, exitUsage, "--by-class: must be >= 0"},
		{"redis down", []string{"snapshot", "--system", "sidekiq", "--endpoint", down.Addr(), "--timeout", "2s"}, nil, exitRedis, "connection refused"},
		{"wrong password", []string{"snapshot", "--system", "sidekiq", "--endpoint", wrongPW.Addr(), "--password-env", "PW"},
			map[string]string{"PW": "wrong"}, exitRedis, "WRONGPASS"},
		{"missing db", []string{"snapshot", "--system", "sidekiq", "--endpoint", wrongPW.Addr(), "--password-env", "PW", "--db", "99"},
			map[string]string{"PW": "right"}, exitRedis, "DB index is out of range"},
		{"tls against plain", []string{"snapshot", "--system", "sidekiq", "--endpoint", wrongPW.Addr(), "--tls", "--timeout", "1m"},
			nil, exitRedis, "answers plain Redis, not TLS"},
		{"plain against tls", []string{"snapshot", "--system", "sidekiq", "--endpoint", tlsOnly.Addr()},
			nil, exitRedis, "if it only accepts TLS, set tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(tt.args, tt.env)
			assert.Equal(t, tt.code, code, "stdout: %s\nstderr: %s", out, errOut)
			assert.Contains(t, out+errOut, tt.stderr)
			if tt.code != exitOK {
				assert.Empty(t, out, "errors go to stderr only")
			}
		})
	}
}

func TestBuiltBinary(t *testing.T) {
	goTool := redistest.RequireTool(t, "go", "install Go from https://go.dev/dl/")
	bin := filepath.Join(t.TempDir(), "jobqctl")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	srv := redistest.Start(t)
	writeSidekiq(t, srv.Client(t))
	out, err = exec.Command(bin, "snapshot", "--system", "sidekiq", "--endpoint", srv.Addr()).Output()
	require.NoError(t, err)
	assert.Equal(t, "2", row(t, string(out), "default ")[1])

	srv.Stop()
	var exitErr *exec.ExitError
	err = exec.Command(bin, "snapshot", "--system", "sidekiq", "--endpoint", srv.Addr()).Run()
	require.True(t, errors.As(err, &exitErr), "%v", err)
	assert.Equal(t, exitRedis, exitErr.ExitCode())

	err = exec.Command(bin, "snapshot", "--bogus").Run()
	require.True(t, errors.As(err, &exitErr), "%v", err)
	assert.Equal(t, exitUsage, exitErr.ExitCode())
}

// queueRows returns the first field of every row of the QUEUE table.
func queueRows(t *testing.T, out string) []string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\nQUEUE ")
	require.True(t, ok, out)
	lines := strings.Split(table, "\n")[1:]
	var names []string
	for _, line := range lines {
		if strings.Contains(line, "discovered queues shown") {
			return names
		}
		names = append(names, strings.Fields(line)[0])
	}
	t.Fatalf("no end of the QUEUE table in:\n%s", out)
	return nil
}

// TestSnapshotQueueSelection reads a Redis with 1,000 queues: the default
// guard shows 500 and says how many it cut, --queues-max 0 shows them all,
// --include and --exclude select as the receiver's queues settings do.
func TestSnapshotQueueSelection(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	pipe := c.Pipeline()
	for i := range 1000 {
		q := "q" + strconv.Itoa(1000+i)
		pipe.SAdd(ctx, "queues", q)
		pipe.LPush(ctx, "queue:"+q, `{"class":"J","enqueued_at":1700000000}`)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	base := []string{"snapshot", "--system", "sidekiq", "--endpoint", srv.Addr()}

	code, out, errOut := runCmd(base, nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Len(t, queueRows(t, out), 500)
	assert.Contains(t, out, "500 of 1000 discovered queues shown (500 more cut by --queues-max 500, by name order; --queues-max 0 shows all)")

	code, out, errOut = runCmd(append(base, "--json"), nil)
	require.Equal(t, exitOK, code, errOut)
	var snap jobqueuereceiver.Snapshot
	require.NoError(t, json.Unmarshal([]byte(out), &snap))
	assert.Len(t, snap.Queues, 500)
	assert.Equal(t, 1000, snap.QueuesDiscovered)
	assert.Equal(t, 500, snap.QueuesDropped)

	code, out, errOut = runCmd(append(base, "--queues-max", "0"), nil)
	require.Equal(t, exitOK, code, errOut)
	assert.Len(t, queueRows(t, out), 1000)
	assert.Contains(t, out, "1000 of 1000 discovered queues shown\n")

	code, out, errOut = runCmd(append(base, "--queues-max", "0", "--json"), nil)
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, json.Unmarshal([]byte(out), &snap))
	assert.Len(t, snap.Queues, 1000)
	assert.Zero(t, snap.QueuesDropped)
	assert.Contains(t, out, `"queues_dropped": 0`, "the JSON always says it")

	// q1100..q1199 and q1900..q1999, without q1150..q1159, at most 150.
	code, out, errOut = runCmd(append(base, "--include", "^q11", "--include", "^q19", "--exclude", "^q115", "--queues-max", "150"), nil)
	require.Equal(t, exitOK, code, errOut)
	rows := queueRows(t, out)
	require.Len(t, rows, 150)
	assert.Equal(t, "q1100", rows[0])
	assert.NotContains(t, rows, "q1150")
	assert.Equal(t, "q1959", rows[149], "90 of q11xx, then 60 of q19xx")
	assert.Contains(t, out, "150 of 1000 discovered queues shown (40 more cut by --queues-max 150")
}

func TestQueueSelectionFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"--queues-max", "-1"}, "queues: max: must be >= 0 (0 = no limit), got -1"},
		{[]string{"--include", "("}, "queues: include[0]: invalid regular expression \"(\""},
		{[]string{"--exclude", "ok", "--exclude", "[z-a]"}, "queues: exclude[1]: invalid regular expression \"[z-a]\""},
	} {
		code, out, errOut := runCmd(append([]string{"snapshot", "--system", "sidekiq"}, tt.args...), nil)
		assert.Equal(t, exitUsage, code, out)
		assert.Contains(t, errOut, tt.stderr)
	}
}

// TestSnapshotTableEscapesControlCharacters: names in Redis are anyone's
// bytes. Printed raw, an escape sequence in a queue name would drive the
// user's terminal (clear it, set its title, move the cursor) and \r or \n
// would forge rows; the table prints such names quoted, escapes visible.
func TestSnapshotTableEscapesControlCharacters(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client(t)
	ctx := context.Background()
	evil := "evil\x1b[2J\x1b]0;pwned\x07\rdefault\n99999"
	host := "web\x1b[31m-1"
	identity := host + ":1:aaaaaaaaaaaa"
	info, err := json.Marshal(map[string]any{"hostname": host, "pid": 1, "concurrency": 5, "queues": []string{evil}})
	require.NoError(t, err)
	pipe := c.Pipeline()
	pipe.SAdd(ctx, "queues", evil, "plain")
	pipe.LPush(ctx, "queue:"+evil, `{"class":"J","enqueued_at":1700000000}`)
	pipe.LPush(ctx, "queue:plain", `{"class":"J","enqueued_at":1700000000}`)
	pipe.SAdd(ctx, "processes", identity)
	pipe.HSet(ctx, identity, "info", string(info), "busy", 0, "beat", time.Now().Unix())
	pipe.ZAdd(ctx, "retry", redis.Z{Score: 1, Member: `{"class":"Job\r\nretry  Forged  Error  1000","error_class":"E\u009b2J"}`})
	_, err = pipe.Exec(ctx)
	require.NoError(t, err)

	code, out, errOut := runCmd([]string{"snapshot", "--system", "sidekiq", "--endpoint", srv.Addr(), "--by-class", "10"}, nil)
	require.Equal(t, exitOK, code, errOut)
	for _, ctl := range []string{"\x1b", "\x07", "\r", "\u009b"} {
		assert.NotContains(t, out, ctl)
	}
	assert.Equal(t, []string{`"evil\x1b[2J\x1b]0;pwned\a\rdefault\n99999"`, "plain"}, queueRows(t, out))
	assert.Equal(t, `"web\x1b[31m-1:1:aaaaaaaaaaaa"`, row(t, out, `"web`)[0])
	assert.Equal(t, `"web\x1b[31m-1"`, row(t, out, `"web`)[1])
	assert.Contains(t, out, `"Job\r\nretry  Forged  Error  1000"  "E\u009b2J"`)
	assert.NotContains(t, out, "\nretry  Forged", "no forged row")
}
