// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// These tests replay real OTLP captures (testdata/otlp at the repository
// root) and check the events against each capture's own record of what the
// workload did.

const capturesDir = "../../testdata/otlp"

// replayed is what one capture turned into.
type replayed struct {
	events     []Event
	statuses   []ptrace.StatusCode // of each event's span
	notJobs    map[string]int      // span name -> spans that are no execution
	totalSpans int
}

func replay(t *testing.T, glob string) replayed {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(capturesDir, glob))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no capture matches %s", glob)
	sort.Strings(files)
	// The captures were made in 2026-11; judge them as of one day later.
	extractor, err := NewExtractor(Config{})
	require.NoError(t, err)
	x := extractor.At(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	out := replayed{notJobs: map[string]int{}}
	for _, f := range files {
		body, err := os.ReadFile(f)
		require.NoError(t, err)
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		require.NoError(t, err, f)
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					out.totalSpans++
					var ev Event
					if x.FromSpan(ss.Scope(), span, &ev) {
						require.Equal(t, span.EndTimestamp().AsTime(), ev.Time, "event time is the span end")
						out.events = append(out.events, ev)
						out.statuses = append(out.statuses, span.Status().Code())
					} else {
						out.notJobs[span.Name()]++
					}
				}
			}
		}
	}
	return out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(capturesDir, path))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v))
}

// byJob groups events by job id, each group in time order.
func byJob(events []Event) map[string][]Event {
	jobs := map[string][]Event{}
	for _, ev := range events {
		jobs[ev.ID] = append(jobs[ev.ID], ev)
	}
	for _, evs := range jobs {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	}
	return jobs
}

func countFailures(events []Event) int {
	n := 0
	for _, ev := range events {
		if ev.Outcome == OutcomeFailure {
			n++
		}
	}
	return n
}

// River v0.51.2 + otelriver v0.12.0; ground truth is River's own river_job
// table (workload_truth.json).
func TestCaptureRiver(t *testing.T) {
	got := replay(t, "river-otelriver/*_traces.binpb")

	assert.Equal(t, 155, got.totalSpans)
	require.Len(t, got.events, 80, "every river.work span is an execution")
	assert.Equal(t, 30, countFailures(got.events))
	assert.Equal(t, map[string]int{"river.insert_many": 75}, got.notJobs, "insert spans are no executions")

	var truth struct {
		Jobs []struct {
			ID      int64  `json:"id"`
			Kind    string `json:"kind"`
			Queue   string `json:"queue"`
			State   string `json:"state"`
			Attempt int    `json:"attempt"`
			Errors  []struct {
				Error   string `json:"error"`
				Attempt int    `json:"attempt"`
			} `json:"errors"`
		} `json:"jobs"`
	}
	readJSON(t, "river-otelriver/workload_truth.json", &truth)
	jobs := byJob(got.events)
	require.Len(t, jobs, len(truth.Jobs))
	for _, job := range truth.Jobs {
		evs := jobs[strconv.FormatInt(job.ID, 10)]
		require.Len(t, evs, job.Attempt, "job %d: one execution per attempt", job.ID)
		for i, ev := range evs {
			assert.Equal(t, "river", ev.System)
			assert.Equal(t, job.Kind, ev.Class)
			assert.Equal(t, job.Queue, ev.Queue)
			assert.Equal(t, i+1, ev.Attempt, "job %d", job.ID)
		}
		// River records one error per failed attempt; a completed job's last
		// attempt succeeded.
		failures := 0
		for i, ev := range evs {
			if ev.Outcome != OutcomeFailure {
				continue
			}
			require.Less(t, failures, len(job.Errors), "job %d attempt %d", job.ID, i+1)
			assert.Equal(t, job.Errors[failures].Attempt, ev.Attempt)
			assert.Equal(t, job.Errors[failures].Error, ev.ErrorMessage, "job %d attempt %d", job.ID, i+1)
			assert.NotEmpty(t, ev.ErrorType)
			failures++
		}
		assert.Equal(t, len(job.Errors), failures, "job %d", job.ID)
		if job.State == "completed" {
			assert.Equal(t, OutcomeSuccess, evs[len(evs)-1].Outcome, "job %d", job.ID)
		}
	}

	// The retry loop: job 51, six failed attempts against the same 503.
	loop := jobs["51"]
	require.Len(t, loop, 6)
	for i, ev := range loop {
		assert.Equal(t, Event{System: "river", ID: "51", Class: "sync_inventory", Queue: "default", Attempt: i + 1,
			Outcome: OutcomeFailure, ErrorType: "inventory upstream",
			ErrorMessage: "inventory upstream: GET https://inventory.internal/v2/sku/SKU-42: 503 Service Unavailable",
			Time:         ev.Time, TraceID: ev.TraceID, SpanID: ev.SpanID}, ev)
	}
	// The panic carries its type on the exception event.
	assert.Equal(t, "runtime.boundsError", jobs["75"][0].ErrorType)
}

// AppSignal's BullMQ instrumentation 0.9.0; ground truth is SUMMARY.json.
// The .json files carry the same spans as the .pb files: only the latter are
// replayed.
func TestCaptureAppSignalBullMQ(t *testing.T) {
	got := replay(t, "bullmq-appsignal/*.pb")

	var summary struct {
		Checks struct {
			PBSpans int `json:"pb_spans"`
		} `json:"checks"`
		SpanNameKindCounts map[string]int `json:"span_name_kind_counts"`
		RetryLoops         map[string][]struct {
			AttemptAttr int     `json:"attempt_attr"`
			Outcome     string  `json:"outcome"`
			Reason      *string `json:"reason"`
			ErrorType   *string `json:"error_type"`
			TraceID     string  `json:"trace_id"`
		} `json:"retry_loops"`
		FailureClusters map[string]struct {
			FailedProcessSpans int      `json:"failed_process_spans"`
			ErrorTypes         []string `json:"error_types"`
			DistinctJobIDs     int      `json:"distinct_job_ids"`
		} `json:"failure_clusters"`
	}
	readJSON(t, "bullmq-appsignal/SUMMARY.json", &summary)

	assert.Equal(t, summary.Checks.PBSpans, got.totalSpans)
	consumers, notJobs := 0, map[string]int{}
	for nameKind, n := range summary.SpanNameKindCounts {
		name, kind, _ := strings.Cut(nameKind, " [")
		if kind == "CONSUMER]" {
			consumers += n
		} else {
			notJobs[name] += n
		}
	}
	require.Len(t, got.events, consumers, "every Worker.run consumer span is an execution")
	assert.Equal(t, 87, consumers)
	assert.Equal(t, notJobs, got.notJobs, "Queue.add, Job.addJob, Queue.addBulk are no executions")

	failures := 0
	for _, c := range summary.FailureClusters {
		failures += c.FailedProcessSpans
	}
	assert.Equal(t, failures, countFailures(got.events))
	for _, ev := range got.events {
		assert.Equal(t, "bullmq", ev.System)
		assert.NotEmpty(t, ev.ID)
		assert.NotEmpty(t, ev.Class)
		assert.Contains(t, []string{"orders", "notifications", "images"}, ev.Queue)
	}

	jobs := byJob(got.events)
	require.Len(t, summary.RetryLoops, 2)
	for key, attempts := range summary.RetryLoops {
		queue, id, _ := strings.Cut(key, "/")
		evs := jobs[id]
		require.Len(t, evs, len(attempts), key)
		for i, want := range attempts {
			ev := evs[i]
			assert.Equal(t, queue, ev.Queue)
			assert.Equal(t, want.AttemptAttr+1, ev.Attempt, "%s: AppSignal counts attempts from 0", key)
			assert.Equal(t, want.TraceID, ev.TraceID.String())
			if want.Outcome == "ok" {
				assert.Equal(t, OutcomeSuccess, ev.Outcome)
				assert.Empty(t, ev.ErrorType)
				continue
			}
			assert.Equal(t, OutcomeFailure, ev.Outcome, "%s attempt %d", key, ev.Attempt)
			assert.Equal(t, *want.ErrorType, ev.ErrorType)
			assert.Equal(t, *want.Reason, ev.ErrorMessage)
		}
	}

	for key, cluster := range summary.FailureClusters {
		parts := strings.Split(key, " | ")
		require.Len(t, parts, 3, key)
		ids := map[string]bool{}
		var types []string
		for _, ev := range got.events {
			if ev.Outcome == OutcomeFailure && ev.Queue == parts[0] && ev.Class == parts[1] && ev.ErrorMessage == parts[2] {
				ids[ev.ID] = true
				if !slices.Contains(types, ev.ErrorType) {
					types = append(types, ev.ErrorType)
				}
			}
		}
		assert.Len(t, ids, cluster.DistinctJobIDs, key)
		assert.Equal(t, cluster.ErrorTypes, types, key)
		n := 0
		for _, ev := range got.events {
			if ev.Outcome == OutcomeFailure && ev.ErrorMessage == parts[2] {
				n++
			}
		}
		assert.Equal(t, cluster.FailedProcessSpans, n, key)
	}
}

// BullMQ 6.7.0's own telemetry through bullmq-otel 2.0.1; ground truth is
// the jobs as BullMQ left them (truth.json). See bullmq-otel/INDEX.md.
func TestCaptureBullMQOtel(t *testing.T) {
	got := replay(t, "bullmq-otel/*_traces.binpb")

	var truth map[string]struct {
		Queue        string  `json:"queue"`
		Name         string  `json:"name"`
		State        string  `json:"state"`
		AttemptsMade int     `json:"attemptsMade"`
		FailedReason *string `json:"failedReason"`
	}
	readJSON(t, "bullmq-otel/truth.json", &truth)

	runs := 0
	for _, job := range truth {
		runs += job.AttemptsMade
	}
	require.Len(t, got.events, runs, "one execution per attempt BullMQ made")
	for name := range got.notJobs {
		assert.False(t, strings.HasPrefix(name, "process "), "%s should be an execution", name)
	}
	for i, ev := range got.events {
		assert.Equal(t, ptrace.StatusCodeUnset, got.statuses[i], "bullmq-otel never sets a status: failures come from the event")
		assert.Equal(t, "bullmq", ev.System)
	}

	jobs := byJob(got.events)
	require.Len(t, jobs, len(truth))
	for id, job := range truth {
		evs := jobs[id]
		require.Len(t, evs, job.AttemptsMade, id)
		for i, ev := range evs {
			assert.Equal(t, job.Queue, ev.Queue, id)
			assert.Equal(t, job.Name, ev.Class, id)
			assert.Equal(t, i+1, ev.Attempt, "%s: attempts.made is 1-based", id)
			last := i == len(evs)-1
			if last && job.State == "completed" {
				assert.Equal(t, OutcomeSuccess, ev.Outcome, id)
				continue
			}
			// Every other attempt failed; BullMQ keeps the last reason.
			assert.Equal(t, OutcomeFailure, ev.Outcome, "%s attempt %d", id, ev.Attempt)
			require.NotNil(t, job.FailedReason, id)
			assert.Equal(t, *job.FailedReason, ev.ErrorMessage, id)
			assert.Equal(t, errorTypeFromMessage(*job.FailedReason), ev.ErrorType, id)
		}
	}
	assert.Equal(t, "inventory upstream", jobs["sync-inventory-42"][0].ErrorType)
	assert.Equal(t, 4+1+1, countFailures(got.events), "the retry loop, the first card charge, the report")
}
