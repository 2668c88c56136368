// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package joblogs

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// The job names testdata/bullmq/worker.js enqueues: the same workload as
// River's, and a log record for each attempt.
const (
	bullmqRetryLoop = "charge-card"
	bullmqBurst     = "sync-inventory"
	bullmqOK        = "send-receipt"
	bullmqJobLogs   = retryLoopAttempts + burstJobs + successJobs
)

// TestBullMQLogs runs a BullMQ worker (testdata/bullmq) on a real Redis,
// logging each attempt from the worker's completed and failed events: with
// pino as JSON lines, and with winston both to a JSON file and through
// OpenTelemetry's winston transport as OTLP.
func TestBullMQLogs(t *testing.T) {
	app := installBullMQWorker(t)

	t.Run("pino", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "pino.log")
		runBullMQWorker(t, app, "LOGGER=pino", "LOG_FILE="+logFile)
		keepCapture(t, logFile, "bullmq", "pino.jsonl")

		alerts, parsed := fileLogAlerts(t, "bullmq-pino", logFile)
		assertPinoRecords(t, parsed, bullmqJobLogs)
		assertScenarioAlerts(t, alerts, bullmqRetryLoop, bullmqBurst, bullmqOK)
		t.Run("over OTLP", func(t *testing.T) {
			assertScenarioAlerts(t, otlpAlerts(t, "bullmq-pino", parsed), bullmqRetryLoop, bullmqBurst, bullmqOK)
		})
	})

	t.Run("winston", func(t *testing.T) {
		logFile := filepath.Join(t.TempDir(), "winston.log")
		otlp := newOTLPSink(t)
		runBullMQWorker(t, app, "LOGGER=winston", "LOG_FILE="+logFile, "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="+otlp.URL+"/v1/logs")
		exported := otlp.logs()
		keepCapture(t, logFile, "bullmq", "winston.jsonl")
		keepCapture(t, writeOTLPJSON(t, exported), "bullmq", "winston-otlp.json")

		alerts, parsed := fileLogAlerts(t, "bullmq-winston", logFile)
		assertWinstonRecords(t, parsed, bullmqJobLogs)
		assertScenarioAlerts(t, alerts, bullmqRetryLoop, bullmqBurst, bullmqOK)
		t.Run("over OTLP", func(t *testing.T) {
			assertWinstonRecords(t, exported, bullmqJobLogs)
			assertScenarioAlerts(t, otlpAlerts(t, "bullmq-winston", exported), bullmqRetryLoop, bullmqBurst, bullmqOK)
		})
	})
}

// TestBullMQSample reads the committed captures (testdata/logs/bullmq) with
// the shipped configs: no Node.js needed. Their jobs ran long ago, past the
// detectors' windows, so they raise nothing now: only the records are
// checked.
func TestBullMQSample(t *testing.T) {
	const dir = "../../testdata/logs/bullmq/"
	t.Run("pino", func(t *testing.T) {
		_, parsed := fileLogAlerts(t, "bullmq-pino", dir+"pino.jsonl")
		assertPinoRecords(t, parsed, bullmqJobLogs)
	})
	t.Run("winston", func(t *testing.T) {
		_, parsed := fileLogAlerts(t, "bullmq-winston", dir+"winston.jsonl")
		assertWinstonRecords(t, parsed, bullmqJobLogs)
	})
}

// assertPinoRecords checks that the config kept pino's time, level and
// error: want records, the failures with exception.* and ERROR.
func assertPinoRecords(t *testing.T, parsed plog.Logs, want int) {
	t.Helper()
	all := records(parsed)
	require.Len(t, all, want)
	for _, lr := range all {
		attrs := lr.Attributes().AsRaw()
		assert.NotZero(t, lr.Timestamp(), "time parsed: %v", attrs)
		if attrs["msg"] == "job failed" {
			assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber(), "%v", attrs)
			assert.NotEmpty(t, attrs["exception.type"], "%v", attrs)
			assert.NotEmpty(t, attrs["exception.message"], "%v", attrs)
		} else {
			assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber(), "%v", attrs)
		}
	}
}

// assertWinstonRecords checks that there are want records, each with the
// trace and span id of BullMQ's process span and its severity, the
// failures with the error as exception.* attributes.
func assertWinstonRecords(t *testing.T, logs plog.Logs, want int) {
	t.Helper()
	all := records(logs)
	require.Len(t, all, want)
	for _, lr := range all {
		attrs := lr.Attributes().AsRaw()
		assert.False(t, lr.TraceID().IsEmpty(), "no trace id: %v", attrs)
		assert.False(t, lr.SpanID().IsEmpty(), "no span id: %v", attrs)
		if attrs["event"] == "job_failed" {
			assert.Equal(t, plog.SeverityNumberError, lr.SeverityNumber(), "%v", attrs)
			assert.NotEmpty(t, attrs["exception.type"], "%v", attrs)
			assert.NotEmpty(t, attrs["exception.message"], "%v", attrs)
		} else {
			assert.Equal(t, "job_completed", attrs["event"], "%v", attrs)
			assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber(), "%v", attrs)
		}
	}
}

// installBullMQWorker installs testdata/bullmq's worker and its locked
// dependencies in a temporary directory.
func installBullMQWorker(t *testing.T) string {
	t.Helper()
	return nodetest.Install(t, filepath.Join("testdata", "bullmq"), "worker.js", "pino-logger.js", "winston-logger.js")
}

// runBullMQWorker runs worker.js against a fresh redis-server until every job is
// finished.
func runBullMQWorker(t *testing.T, app string, env ...string) {
	t.Helper()
	srv := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	worker := exec.CommandContext(ctx, "node", "worker.js")
	worker.Dir = app
	worker.Env = append(os.Environ(), append(env, "REDIS_PORT="+strconv.Itoa(srv.Port()))...)
	out, err := worker.CombinedOutput()
	require.NoError(t, err, "node worker.js: %s", out)
}

// otlpSink is an OTLP/HTTP logs endpoint that keeps what it is sent.
type otlpSink struct {
	*httptest.Server
	mu       sync.Mutex
	received plog.Logs
}

func newOTLPSink(t *testing.T) *otlpSink {
	s := &otlpSink{received: plog.NewLogs()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	t.Cleanup(s.Close)
	return s
}

// serveHTTP takes an export request in either OTLP/HTTP encoding: its
// wire form is LogsData's, and an empty response is an empty message.
func (s *otlpSink) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var logs plog.Logs
	answer := []byte{}
	if r.Header.Get("Content-Type") == "application/json" {
		logs, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(body)
		answer = []byte("{}")
	} else {
		logs, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(body)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	logs.ResourceLogs().MoveAndAppendTo(s.received.ResourceLogs())
	s.mu.Unlock()
	w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
	_, _ = w.Write(answer)
}

// logs returns everything received so far.
func (s *otlpSink) logs() plog.Logs {
	s.mu.Lock()
	defer s.mu.Unlock()
	logs := plog.NewLogs()
	s.received.CopyTo(logs)
	return logs
}

// writeOTLPJSON writes logs as OTLP/JSON (the file exporter's form) to a
// temporary file and returns its path.
func writeOTLPJSON(t *testing.T, logs plog.Logs) string {
	t.Helper()
	data, err := (&plog.JSONMarshaler{}).MarshalLogs(logs)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "otlp.json")
	require.NoError(t, os.WriteFile(path, append(data, '\n'), 0o600))
	return path
}
