// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"testing"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestLogsRealSidekiq feeds the lines Sidekiq 6.4's own JobLogger and JSON
// formatter print for a job that fails 6 times and then succeeds, one log
// record per line as a file_log receiver delivers them. Sidekiq's lines
// carry no retry count, so the runs are counted by jid.
func TestLogsRealSidekiq(t *testing.T) {
	ruby := redistest.RequireTool(t, "ruby", "apt-get install -y ruby-sidekiq")
	if err := exec.Command(ruby, "-e", `require "sidekiq"`).Run(); err != nil {
		redistest.Missing(t, "the sidekiq gem is not installed (install: apt-get install -y ruby-sidekiq)")
	}
	out, err := exec.Command(ruby, "testdata/sidekiq_retry_logs.rb", "6").Output()
	require.NoError(t, err)

	clock := clockwork.NewFakeClockAt(testStart)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		lr := lrs.AppendEmpty()
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(clock.Now()))
		lr.Body().SetStr(lines.Text())
	}
	require.Equal(t, 14, lrs.Len(), "start and fail/done per run:\n%s", out)

	p, sink := newLogs(t, NewDefaultConfig(), clock)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := sink.AllLogs()[0]
	var counts []int64
	for _, lr := range got.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().All() {
		counts = append(counts, retryCount(lr.Attributes()))
	}
	assert.Equal(t, []int64{-1, 0, -1, 1, -1, 2, -1, 3, -1, 4, -1, 5, -1, 6}, counts, "start lines are no executions")

	var alerts []string
	for _, a := range logAlerts([]plog.Logs{got}) {
		alerts = append(alerts, a.attrs["alert.state"].(string)+" "+ftoa(a.attrs["alert.value"])+" "+a.attrs["messaging.message.id"].(string)+" "+a.severity)
	}
	assert.Equal(t, []string{"firing 4 b4a577edbccf1d805744efa9 WARN", "resolved 6 b4a577edbccf1d805744efa9 WARN"}, alerts)
}
