// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert

import (
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

// BenchmarkTrackerObserve is one scrape of 500 queues (the receiver's
// default queue cap) through one rule; one op is one scrape.
func BenchmarkTrackerObserve(b *testing.B) {
	queues := make([]string, 500)
	for i := range queues {
		queues[i] = "queue-" + strconv.Itoa(i)
	}
	tr := NewTracker[string](TrackerConfig{CoolDown: 15 * time.Minute, ForgetAfter: time.Hour, MaxKeys: 10_000})
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(30 * time.Second)
		for i, q := range queues {
			tr.Observe(q, now, float64((i*37+int(now.Unix()))%1200), true, latency)
		}
		tr.Sweep(now)
	}
}

// BenchmarkFillLogRecord builds one complete alert record.
func BenchmarkFillLogRecord(b *testing.B) {
	a := retryAlert()
	logs := plog.NewLogs()
	records := logs.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	b.ReportAllocs()
	for b.Loop() {
		records.RemoveIf(func(plog.LogRecord) bool { return true })
		a.FillLogRecord(records.AppendEmpty())
	}
}
