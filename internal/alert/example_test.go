// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert_test

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

// A receiver rule over successive scrapes: queue latency warns past 300s,
// errors past 900s, resolves at 270s or less, repeats after 15 minutes.
// The failed scrape (ok false) neither fires nor resolves.
func ExampleTracker() {
	levels := alert.Levels{
		Steps:   []alert.Step{{Above: 300, Severity: alert.SeverityWarn}, {Above: 900, Severity: alert.SeverityError}},
		Resolve: 270,
	}
	tracker := alert.NewTracker[string](alert.TrackerConfig{
		CoolDown: 15 * time.Minute, ForgetAfter: time.Hour, MaxKeys: 1000,
	})
	start := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	scrapes := []struct {
		latency float64
		ok      bool
	}{{120, true}, {412, true}, {530, true}, {0, false}, {1000, true}, {280, true}, {100, true}}
	for i, s := range scrapes {
		now := start.Add(time.Duration(i) * 30 * time.Second)
		tr := tracker.Observe("critical", now, s.latency, s.ok, levels)
		if tr.Change != alert.NoChange {
			fmt.Printf("%s %s (%s): queue critical latency %.0fs, threshold %.0fs\n",
				tr.Change.State(), tr.Severity, tr.Change, tr.Value, tr.Threshold)
		}
	}
	// Output:
	// firing WARN (fired): queue critical latency 412s, threshold 300s
	// firing ERROR (escalated): queue critical latency 1000s, threshold 900s
	// resolved ERROR (resolved): queue critical latency 100s, threshold 270s
}

func ExampleAlert_FillLogRecord() {
	a := alert.Alert{
		Name:      alert.QueueLatencyHigh,
		ID:        alert.NewID(alert.QueueLatencyHigh, "sidekiq", "critical"),
		Severity:  alert.SeverityError,
		Summary:   "queue critical latency 412s > 300s",
		Time:      time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC),
		Threshold: 300,
		Value:     412,
		System:    "sidekiq",
		Queue:     "critical",
	}
	lr := plog.NewLogRecord()
	a.FillLogRecord(lr)
	fmt.Println(lr.EventName(), lr.SeverityText(), lr.Body().Str())
	for k, v := range lr.Attributes().All() {
		fmt.Printf("%s=%s\n", k, v.AsString())
	}
	// Output:
	// jobqueue.alert ERROR queue critical latency 412s > 300s
	// alert.name=queue_latency_high
	// alert.state=firing
	// alert.id=11cfe040262e7b51
	// alert.threshold=300
	// alert.value=412
	// messaging.system=sidekiq
	// messaging.destination.name=critical
}
