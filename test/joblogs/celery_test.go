// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package joblogs

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// debianPython is Debian's interpreter, which sees the python3-* packages
// (a python3 earlier on PATH, such as pyenv's, may not).
const debianPython = "/usr/bin/python3"

func requirePython(t *testing.T, module, pkg string) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import "+module).Run(); err != nil {
		redistest.Missing(t, fmt.Sprintf("%s cannot import %s (install: apt-get install -y %s)", debianPython, module, pkg))
	}
}

// TestCeleryWorkerLogs runs a real Celery worker on a real Redis broker and
// feeds its log file to config/logs/celery.yaml: tasks.flaky retries itself
// 4 times (self.retry) and fails, 12 tasks.burst fail, 5 tasks.ok succeed.
func TestCeleryWorkerLogs(t *testing.T) {
	requirePython(t, "celery", "python3-celery")
	srv := redistest.Start(t)
	env := "CELERY_BROKER_URL=redis://" + srv.Addr() + "/0"
	const burst, ok = 12, 5

	enqueue := exec.Command(debianPython, "enqueue.py", fmt.Sprint(burst), fmt.Sprint(ok))
	enqueue.Dir, enqueue.Env = "testdata/celery", append(enqueue.Environ(), env)
	out, err := enqueue.CombinedOutput()
	require.NoError(t, err, "%s", out)

	logFile := filepath.Join(t.TempDir(), "worker.log")
	// The solo pool runs the tasks in the worker process, one at a time: the
	// lines are prefork's (but for the process name) and the run is quicker.
	worker := exec.Command(debianPython, "-m", "celery", "-A", "tasks", "worker",
		"--pool", "solo", "--loglevel", "INFO", "--logfile", logFile,
		"--without-heartbeat", "--without-mingle", "--without-gossip", "--hostname", "joblogs@localhost")
	worker.Dir, worker.Env = "testdata/celery", append(worker.Environ(), env)
	ended := regexp.MustCompile(`(?m)\] Task tasks\.(\w+)\[[^\]]+\] (succeeded|raised)`)
	runWorker(t, worker, logFile, func(log string) string {
		count := map[string]int{}
		for _, m := range ended.FindAllStringSubmatch(log, -1) {
			count[m[1]]++
		}
		if count["flaky"] != 1 || count["burst"] != burst || count["ok"] != ok {
			return fmt.Sprintf("tasks ended: %v", count)
		}
		return ""
	})

	alerts, parsed := fileLogAlerts(t, "celery", logFile)
	assertCeleryRecords(t, parsed, 4+1+burst+ok)
	errorTypes := map[string]any{"excessive_retries": "ValueError", "failure_cluster": "ConnectionError"}
	assertScenarioAlerts(t, alerts, "tasks.flaky", "tasks.burst", "tasks.ok")
	assert.Equal(t, errorTypes, firingErrorTypes(alerts))
	t.Run("over OTLP", func(t *testing.T) {
		alerts := otlpAlerts(t, "celery", parsed)
		assertScenarioAlerts(t, alerts, "tasks.flaky", "tasks.burst", "tasks.ok")
		assert.Equal(t, errorTypes, firingErrorTypes(alerts))
	})
}

// TestCelerySample reads the committed capture (testdata/logs/celery) with
// the shipped config: no Celery needed.
func TestCelerySample(t *testing.T) {
	_, parsed := fileLogAlerts(t, "celery", "../../testdata/logs/celery/worker.log")
	assertCeleryRecords(t, parsed, 4+1+2+2)
}

// assertCeleryRecords checks that the config turned every task end into one
// record with the attributes the job_retry and failure_cluster read, and
// that no traceback line became a record of its own.
func assertCeleryRecords(t *testing.T, parsed plog.Logs, taskEnds int) {
	t.Helper()
	want := map[string]struct{ state, errorType string }{
		"tasks.ok":    {"SUCCESS", ""},
		"tasks.burst": {"FAILURE", "ConnectionError"},
	}
	var ends int
	states := map[string]int{}
	for _, lr := range records(parsed) {
		attrs := lr.Attributes().AsRaw()
		body := lr.Body().AsString()
		assert.Regexp(t, `^\[\d{4}-\d\d-\d\d `, body, "every record starts at a header line")
		if _, ok := attrs["task_id"]; !ok {
			continue
		}
		ends++
		name, state := attrs["task_name"], attrs["state"].(string)
		assert.Equal(t, "celery", attrs["messaging.system"])
		assert.NotZero(t, lr.Timestamp(), "time parsed")
		if w, ok := want[name.(string)]; ok {
			assert.Equal(t, w.state, state, "%s", body)
			errorType, _ := attrs["exception.type"].(string)
			assert.Equal(t, w.errorType, errorType, "%s", body)
		} else {
			assert.Equal(t, "tasks.flaky", name)
			states[state]++
			assert.Equal(t, "ValueError", attrs["exception.type"], "%s", body)
			assert.Equal(t, "boom", attrs["exception.message"], "%s", body)
		}
	}
	assert.Equal(t, taskEnds, ends, "task ends")
	assert.Equal(t, map[string]int{"RETRY": 4, "FAILURE": 1}, states, "tasks.flaky: 4 retries, then the failure")
}
