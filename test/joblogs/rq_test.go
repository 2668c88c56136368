// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package joblogs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestRQWorkerLogs runs a real RQ worker (burst mode) on a real Redis and
// feeds its log to config/logs/rq.yaml: tasks.flaky is retried 4 times by
// Retry(max=4) and fails, 12 tasks.burst fail, 5 tasks.ok succeed.
func TestRQWorkerLogs(t *testing.T) {
	requirePython(t, "rq", "python3-rq")
	srv := redistest.Start(t)
	env := "REDIS_URL=redis://" + srv.Addr() + "/0"
	const burst, ok = 12, 5

	enqueue := exec.Command(debianPython, "enqueue.py", fmt.Sprint(burst), fmt.Sprint(ok))
	enqueue.Dir, enqueue.Env = "testdata/rq", append(enqueue.Environ(), env)
	out, err := enqueue.CombinedOutput()
	require.NoError(t, err, "%s", out)

	// rq worker logs successes to stdout and failures to stderr: both go to
	// the file, as they would to a service's journal.
	logFile := filepath.Join(t.TempDir(), "worker.log")
	log, err := os.Create(logFile)
	require.NoError(t, err)
	defer log.Close()
	worker := exec.Command(debianPython, "-m", "rq.cli", "worker", "--burst", "--url", "redis://"+srv.Addr()+"/0")
	worker.Dir, worker.Stdout, worker.Stderr = "testdata/rq", log, log
	runWorker(t, worker, logFile, func(log string) string {
		if !strings.Contains(log, ": done, quitting") {
			return "the burst worker has not quit yet"
		}
		return ""
	})

	alerts, parsed := fileLogAlerts(t, "rq", logFile)
	assertRQRecords(t, parsed, 4+1+burst, ok)
	errorTypes := map[string]any{"excessive_retries": "ValueError", "failure_cluster": "ConnectionError"}
	assertScenarioAlerts(t, alerts, "tasks.flaky", "tasks.burst", "tasks.ok")
	assert.Equal(t, errorTypes, firingErrorTypes(alerts))
	t.Run("over OTLP", func(t *testing.T) {
		alerts := otlpAlerts(t, "rq", parsed)
		assertScenarioAlerts(t, alerts, "tasks.flaky", "tasks.burst", "tasks.ok")
		assert.Equal(t, errorTypes, firingErrorTypes(alerts))
	})
}

// TestRQSample reads the committed capture (testdata/logs/rq) with the
// shipped config: no RQ needed.
func TestRQSample(t *testing.T) {
	_, parsed := fileLogAlerts(t, "rq", "../../testdata/logs/rq/worker.log")
	assertRQRecords(t, parsed, 4+1+2, 2)
}

// assertRQRecords checks that the config turned every failure and every
// success into one record with the attributes the processors read, and that
// no traceback line became a record of its own.
func assertRQRecords(t *testing.T, parsed plog.Logs, failures, successes int) {
	t.Helper()
	start := regexp.MustCompile(`^\d\d:\d\d:\d\d `)
	count := map[string]int{}
	for _, lr := range records(parsed) {
		attrs := lr.Attributes().AsRaw()
		body := lr.Body().AsString()
		assert.Regexp(t, start, body, "every record starts at a header line")
		if _, ok := attrs["job_id"]; !ok {
			continue
		}
		assert.Equal(t, "rq", attrs["messaging.system"])
		switch attrs["status"] {
		case "OK":
			count["OK"]++
			assert.Equal(t, "default", attrs["queue"], "%s", body)
			assert.Equal(t, "INFO", lr.SeverityText(), "%s", body)
		case "failed":
			class := attrs["job_class"].(string)
			count[class]++
			assert.Equal(t, "ERROR", lr.SeverityText(), "%s", body)
			want := map[string]string{"tasks.flaky": "ValueError", "tasks.burst": "ConnectionError"}[class]
			assert.Equal(t, want, attrs["exception.type"], "%s", body)
		default:
			t.Errorf("status %v: %s", attrs["status"], body)
		}
	}
	assert.Equal(t, successes, count["OK"], "successes")
	assert.Equal(t, failures, count["tasks.flaky"]+count["tasks.burst"], "failures")
	assert.Equal(t, 5, count["tasks.flaky"], "tasks.flaky: 4 retries, then the failure")
}
