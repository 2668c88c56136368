// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package joblogs runs real job libraries (Celery, RQ, Sidekiq, BullMQ,
// River), captures the logs their workers write, and feeds them to the built
// collector on the shipped config/logs/<system>.yaml: through the file_log
// receiver and over OTLP. job_retry and failure_cluster must raise the same
// alerts either way.
package joblogs

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds every wait on the collector: generous, since a loaded
// 2-core machine under -race can take long to start it and read a file.
const waitLimit = 2 * time.Minute

// alertRecord is one jobqueue.alert log record the processors wrote.
type alertRecord struct {
	Name, State, Class, Severity, Body string
	Attrs                              map[string]any
}

// fileLogAlerts runs the collector on config/logs/<config>.yaml reading
// logFile through file_log (from the beginning), waits until every line has
// been read, and returns the jobqueue.alert records the processors wrote,
// plus the job log records as parsed (for assertions on attributes).
//
// Every line has been read when the exported records' bodies hold as many
// non-blank lines as logFile: the shipped configs keep each entry's text
// (one line, or a line and its traceback) as the body and parse it into
// attributes.
func fileLogAlerts(t *testing.T, config, logFile string) (alerts []alertRecord, parsed plog.Logs) {
	t.Helper()
	text, err := os.ReadFile(logFile)
	require.NoError(t, err)
	want := nonBlankLines(string(text))
	require.NotZero(t, want, "%s is empty", logFile)

	c, out, _ := startShipped(t, config, logFile)
	c.Eventually(t, waitLimit, fmt.Sprintf("the %d lines of %s", want, logFile), func() string {
		_, records := splitAlerts(collectortest.ReadLogs(t, out))
		if n := bodyLines(records); n != want {
			return fmt.Sprintf("%d lines read", n)
		}
		return ""
	})
	c.Stop(t)
	alerts, parsed = splitAlerts(collectortest.ReadLogs(t, out))
	return alerts, parsed
}

// otlpAlerts sends logs to the collector running config/logs/<config>.yaml
// over OTLP (its otlp receiver) and returns the alert records.
func otlpAlerts(t *testing.T, config string, logs plog.Logs) []alertRecord {
	t.Helper()
	// file_log reads a file that never appears: only OTLP comes in.
	c, out, otlpHTTP := startShipped(t, config, filepath.Join(t.TempDir(), "none.log"))
	// LogsData and ExportLogsServiceRequest have the same wire form.
	body, err := (&plog.ProtoMarshaler{}).MarshalLogs(logs)
	require.NoError(t, err)
	c.Eventually(t, waitLimit, "the OTLP receiver to take the logs", func() string {
		return postLogs("http://"+otlpHTTP+"/v1/logs", body)
	})
	c.Eventually(t, waitLimit, fmt.Sprintf("%d records through the pipeline", logs.LogRecordCount()), func() string {
		_, records := splitAlerts(collectortest.ReadLogs(t, out))
		if n := records.LogRecordCount(); n != logs.LogRecordCount() {
			return fmt.Sprintf("%d exported", n)
		}
		return ""
	})
	c.Stop(t)
	alerts, _ := splitAlerts(collectortest.ReadLogs(t, out))
	return alerts
}

// startShipped runs the collector on config/logs/<config>.yaml as shipped,
// with an overlay that points its file_log receiver at logFile (read from the
// beginning), moves its listeners to free loopback ports and sends the logs
// pipeline to a file exporter instead of the user's backend. It returns the
// exporter's file and the OTLP/HTTP address.
//
// The shipped configs name their receivers file_log and otlp, their
// extension health_check, and their pipeline logs.
func startShipped(t *testing.T, config, logFile string) (c *collectortest.Collector, out, otlpHTTP string) {
	t.Helper()
	bin := collectortest.Binary(t)
	shipped := filepath.Join("..", "..", "config", "logs", config+".yaml")
	require.FileExists(t, shipped)
	dir := t.TempDir()
	out = filepath.Join(dir, "logs.jsonl")
	otlpHTTP = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	overlay := filepath.Join(dir, "overlay.yaml")
	require.NoError(t, os.WriteFile(overlay, fmt.Appendf(nil, `
extensions:
  health_check:
    endpoint: 127.0.0.1:%d
receivers:
  file_log:
    include: [%q]
    start_at: beginning
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%d"}
      http: {endpoint: %q}
exporters:
  file/joblogs:
    path: %q
    flush_interval: 100ms
service:
  telemetry:
    metrics: {level: none} # no :8888, which another collector may hold
  pipelines:
    logs:
      exporters: [file/joblogs]
`, redistest.FreePort(t), logFile, redistest.FreePort(t), otlpHTTP, out), 0o600))
	// The user's exporter stays configured but out of the pipeline; its
	// endpoint must still resolve.
	env := fmt.Sprintf("OTLP_ENDPOINT=http://127.0.0.1:%d", redistest.FreePort(t))
	return collectortest.Start(t, bin, []string{shipped, overlay}, env), out, otlpHTTP
}

// postLogs posts an OTLP/HTTP protobuf logs request; it returns why it was
// not accepted, or "".
func postLogs(url string, body []byte) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return ""
}

// splitAlerts moves the jobqueue.alert records out of logs; the rest are
// the records as the pipeline passed them on.
func splitAlerts(logs plog.Logs) ([]alertRecord, plog.Logs) {
	var alerts []alertRecord
	for _, rl := range logs.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				if lr.EventName() != "jobqueue.alert" {
					return false
				}
				attrs := lr.Attributes().AsRaw()
				str := func(k string) string { s, _ := attrs[k].(string); return s }
				alerts = append(alerts, alertRecord{
					Name: str("alert.name"), State: str("alert.state"), Class: str("jobqueue.job.class"),
					Severity: lr.SeverityText(), Body: lr.Body().AsString(), Attrs: attrs,
				})
				return true
			})
		}
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
	}
	logs.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool { return rl.ScopeLogs().Len() == 0 })
	return alerts, logs
}

// bodyLines counts the non-blank lines of the records' bodies.
func bodyLines(logs plog.Logs) int {
	n := 0
	for _, rl := range logs.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				n += nonBlankLines(lr.Body().AsString())
			}
		}
	}
	return n
}

func nonBlankLines(text string) int {
	n := 0
	for line := range strings.SplitSeq(text, "\n") {
		if strings.TrimSpace(line) != "" {
			n++
		}
	}
	return n
}

// runWorker starts a job system's worker and waits until done, polling the
// worker's log file, returns "" (every job has ended); then it stops the
// worker with SIGTERM, the graceful stop every one of them knows (a worker
// that quit by itself, such as rq's burst mode, is left as it is). A worker
// that exits before its jobs have ended fails the test at once. Output the
// caller did not redirect is shown if the test fails.
func runWorker(t *testing.T, cmd *exec.Cmd, logFile string, done func(log string) string) {
	t.Helper()
	var output bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &output
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &output
	}
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waited bool
	var exitErr error
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("worker output:\n%s", output.String())
		}
	}()
	deadline := time.Now().Add(waitLimit)
	for {
		text, _ := os.ReadFile(logFile)
		why := done(string(text))
		if why == "" {
			break
		}
		if waited {
			t.Fatalf("the worker exited (%v) before its jobs ended: %s\nlog:\n%s", exitErr, why, text)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not finish its jobs: %s\nlog:\n%s", why, text)
		}
		select {
		case exitErr = <-exited:
			waited = true // read the log once more: it may have ended just now
		case <-time.After(200 * time.Millisecond):
		}
	}
	if waited {
		return
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-exited:
		waited = true
	case <-time.After(waitLimit):
		t.Fatal("the worker did not stop after SIGTERM")
	}
}

// assertScenarioAlerts checks the alerts of the scenario every worker test
// plays: one job of retryClass failing past job_retry's max_retries with the
// library's own retries, more than failure_cluster's min_failures failures of
// burstClass, and successes of okClass. Each of the two alerts fires exactly
// once for its class, and nothing names okClass.
func assertScenarioAlerts(t *testing.T, alerts []alertRecord, retryClass, burstClass, okClass string) {
	t.Helper()
	firing := map[string][]string{}
	for _, a := range alerts {
		assert.NotEqual(t, okClass, a.Class, "an alert names the class that only succeeded: %s", a.Body)
		if a.State == "firing" {
			firing[a.Name] = append(firing[a.Name], a.Class)
		}
	}
	assert.Equal(t, []string{retryClass}, firing["excessive_retries"], "excessive_retries: once, for the retry loop")
	assert.Equal(t, []string{burstClass}, firing["failure_cluster"], "failure_cluster: once, for the burst")
}

// records lists the log records of logs.
func records(logs plog.Logs) []plog.LogRecord {
	var all []plog.LogRecord
	for _, rl := range logs.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				all = append(all, lr)
			}
		}
	}
	return all
}

// firingErrorTypes maps each firing alert's name to its error.type, for
// systems whose logs name the error: it shows the error parsed from a line
// (or its traceback) reached the alert.
func firingErrorTypes(alerts []alertRecord) map[string]any {
	types := map[string]any{}
	for _, a := range alerts {
		if a.State == "firing" {
			types[a.Name] = a.Attrs["error.type"]
		}
	}
	return types
}
