// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package collectortest runs the built otelcol-jobs binary in tests and reads
// what its file exporter wrote.
package collectortest // import "github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// BinaryEnv names the built collector (make test sets it).
const BinaryEnv = "OTELCOL_JOBS_BIN"

// Binary is the collector under test, from BinaryEnv. Without it the test
// skips, or fails under redistest.RequireEnv.
func Binary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(BinaryEnv)
	if bin == "" {
		redistest.Missing(t, BinaryEnv+" not set: run make build, or make test")
	}
	if _, err := os.Stat(bin); err != nil {
		redistest.Missing(t, fmt.Sprintf("%s: %v: run make build, or make test", BinaryEnv, err))
	}
	return bin
}

// Collector is a running otelcol-jobs process.
type Collector struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs bin on configs (each a --config argument: a file, or an
// overlay such as yaml:...; later ones are merged over earlier ones) with
// env added to the test's environment. Its output goes to a file that is
// printed if the test fails; it is killed when the test ends.
func Start(t *testing.T, bin string, configs []string, env ...string) *Collector {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "collector.log"))
	require.NoError(t, err)
	var args []string
	for _, c := range configs {
		args = append(args, "--config", c)
	}
	c := &Collector{cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = out, out
	require.NoError(t, c.cmd.Start())
	_ = out.Close() // the child holds its own descriptor
	go func() {
		_ = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		if t.Failed() {
			log, _ := os.ReadFile(out.Name())
			t.Logf("collector output:\n%s", log)
		}
	})
	return c
}

// Stop sends SIGTERM and expects a clean exit.
func (c *Collector) Stop(t *testing.T) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the collector did not stop within 30 s of SIGTERM")
	}
	assert.Equal(t, 0, c.cmd.ProcessState.ExitCode(), "clean shutdown")
}

// Eventually polls cond until it returns "" (done) or limit passes, failing
// with cond's last explanation; it stops early if the collector exits. The
// limit is generous: it bounds a wait on a loaded machine, it times nothing.
func (c *Collector) Eventually(t *testing.T, limit time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		why := cond()
		if why == "" {
			return
		}
		select {
		case <-c.exited:
			t.Fatalf("the collector exited (%s) while waiting for %s", c.cmd.ProcessState, what)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s: %s", what, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ReadLogs returns every log record the file exporter has written to path
// (OTLP/JSON, one request per line) so far, in order; nothing when the file
// does not exist yet. A line still being written is left for the next read.
func ReadLogs(t *testing.T, path string) plog.Logs {
	t.Helper()
	all := plog.NewLogs()
	var unmarshaler plog.JSONUnmarshaler
	readLines(t, path, func(line []byte) {
		if logs, err := unmarshaler.UnmarshalLogs(line); err == nil {
			logs.ResourceLogs().MoveAndAppendTo(all.ResourceLogs())
		}
	})
	return all
}

// ReadMetrics is ReadLogs for metrics: every resource the file exporter has
// written to path so far, in order.
func ReadMetrics(t *testing.T, path string) pmetric.Metrics {
	t.Helper()
	all := pmetric.NewMetrics()
	var unmarshaler pmetric.JSONUnmarshaler
	readLines(t, path, func(line []byte) {
		if metrics, err := unmarshaler.UnmarshalMetrics(line); err == nil {
			metrics.ResourceMetrics().MoveAndAppendTo(all.ResourceMetrics())
		}
	})
	return all
}

// readLines calls each with every line of the file exporter's output at
// path; nothing when the file does not exist yet.
func readLines(t *testing.T, path string, each func(line []byte)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return
	}
	require.NoError(t, err)
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(nil, 64<<20)
	for scanner.Scan() {
		each(scanner.Bytes())
	}
	require.NoError(t, scanner.Err())
}
