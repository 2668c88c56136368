// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package joblogs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// sidekiqEnd finds a job's end in both of Sidekiq's formats:
// "class=OkJob jid=... elapsed=0.0 INFO: done" and
// "msg":"done","ctx":{"class":"OkJob",...
var sidekiqEnd = regexp.MustCompile(`class=(\w+) jid=\S+ elapsed=\S+ INFO: (done|fail)|"msg":"(done|fail)","ctx":\{"class":"(\w+)"`)

// TestSidekiqWorkerLogs runs a real Sidekiq 6.4 process on a real Redis, with
// its default text formatter and with its JSON formatter, and feeds its log
// to config/logs/sidekiq.yaml: FlakyJob is retried 4 times by Sidekiq
// (sidekiq_options retry: 4) and dies, 12 BurstJob fail, 5 OkJob succeed.
func TestSidekiqWorkerLogs(t *testing.T) {
	redistest.RequireTool(t, "sidekiq", "apt-get install -y ruby-sidekiq")
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			srv := redistest.Start(t)
			env := []string{"REDIS_URL=redis://" + srv.Addr() + "/0", "SIDEKIQ_LOG_FORMAT=" + format}
			const burst, ok = 12, 5

			enqueue := exec.Command("ruby", "enqueue.rb", fmt.Sprint(burst), fmt.Sprint(ok))
			enqueue.Dir, enqueue.Env = "testdata/sidekiq", append(enqueue.Environ(), env...)
			out, err := enqueue.CombinedOutput()
			require.NoError(t, err, "%s", out)

			// Sidekiq logs to stdout; its stderr has only the redis gem's
			// deprecation warnings.
			logFile := filepath.Join(t.TempDir(), "sidekiq.log")
			log, err := os.Create(logFile)
			require.NoError(t, err)
			defer log.Close()
			worker := exec.Command("sidekiq", "-r", "./jobs.rb", "--concurrency", "1", "--timeout", "1")
			worker.Dir, worker.Env, worker.Stdout = "testdata/sidekiq", append(worker.Environ(), env...), log
			runWorker(t, worker, logFile, func(log string) string {
				ends := map[string]int{}
				for _, m := range sidekiqEnd.FindAllStringSubmatch(log, -1) {
					ends[m[1]+m[4]]++
				}
				if ends["FlakyJob"] != 5 || ends["BurstJob"] != burst || ends["OkJob"] != ok {
					return fmt.Sprintf("jobs ended: %v", ends)
				}
				return ""
			})

			alerts, parsed := fileLogAlerts(t, "sidekiq", logFile)
			assertSidekiqRecords(t, parsed, 5, burst, ok)
			assertScenarioAlerts(t, alerts, "FlakyJob", "BurstJob", "OkJob")
			t.Run("over OTLP", func(t *testing.T) {
				assertScenarioAlerts(t, otlpAlerts(t, "sidekiq", parsed), "FlakyJob", "BurstJob", "OkJob")
			})
		})
	}
}

// TestSidekiqSample reads the committed captures (testdata/logs/sidekiq) with
// the shipped config: no Sidekiq needed.
func TestSidekiqSample(t *testing.T) {
	for _, file := range []string{"text.log", "json.log"} {
		t.Run(file, func(t *testing.T) {
			_, parsed := fileLogAlerts(t, "sidekiq", filepath.Join("..", "..", "testdata", "logs", "sidekiq", file))
			assertSidekiqRecords(t, parsed, 5, 2, 2)
		})
	}
}

// assertSidekiqRecords checks that the config turned every job's end into
// one record with the attributes the processors read, the same for both
// formatters, and that backtrace lines stayed with the line before them.
func assertSidekiqRecords(t *testing.T, parsed plog.Logs, flaky, burst, ok int) {
	t.Helper()
	ends := map[string]int{}
	for _, lr := range records(parsed) {
		attrs := lr.Attributes().AsRaw()
		body := lr.Body().AsString()
		assert.Regexp(t, `^(\{"ts":|\d{4}-\d\d-\d\dT)`, body, "every record starts at a log line")
		assert.NotZero(t, lr.Timestamp(), "time parsed: %s", body)
		assert.NotEmpty(t, lr.SeverityText(), "severity parsed: %s", body)
		if attrs["msg"] != "done" && attrs["msg"] != "fail" {
			continue
		}
		assert.Equal(t, "sidekiq", attrs["messaging.system"], "%s", body)
		assert.Regexp(t, `^[0-9a-f]{24}$`, attrs["jid"], "%s", body)
		ends[fmt.Sprint(attrs["class"], " ", attrs["msg"])]++
	}
	assert.Equal(t, map[string]int{"FlakyJob fail": flaky, "BurstJob fail": burst, "OkJob done": ok}, ends)
}
