// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package bullmq

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/nodetest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// apiView is what BullMQ's own API reads of one queue (testdata/node/state.js).
type apiView struct {
	Counts            map[string]int64 `json:"counts"`
	Paused            bool             `json:"paused"`
	WaitingTimestamps []int64          `json:"waitingTimestamps"`
	ActiveProcessedOn []int64          `json:"activeProcessedOn"`
	Workers           []string         `json:"workers"`
	Metrics           struct {
		Completed int64 `json:"completed"`
		Failed    int64 `json:"failed"`
	} `json:"metrics"`
	Failed []struct {
		Name   string `json:"name"`
		Reason string `json:"reason"`
	} `json:"failed"`
}

// runBullMQ has BullMQ 6.7.0 write queues, jobs in every state and live
// workers to srv (testdata/node/state.js), and returns what its API reads of
// them. The workers keep running until the test ends.
func runBullMQ(t *testing.T, srv *redistest.Server, prefix string) map[string]apiView {
	t.Helper()
	app := nodetest.Install(t, filepath.Join("testdata", "node"), "state.js")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, "node", "state.js")
	cmd.Dir = app
	cmd.Env = append(os.Environ(), "REDIS_PORT="+strconv.Itoa(srv.Port()), "PREFIX="+prefix)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close() // state.js closes its workers and exits
		if err := cmd.Wait(); err != nil {
			t.Errorf("node state.js: %v\n%s", err, stderr.String())
		}
		cancel()
	})
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		if state, ok := strings.CutPrefix(lines.Text(), "STATE "); ok {
			var view map[string]apiView
			require.NoError(t, json.Unmarshal([]byte(state), &view))
			go func() { _, _ = bufio.NewReader(stdout).WriteTo(io.Discard) }()
			return view
		}
	}
	t.Fatalf("state.js printed no state: %v\n%s", lines.Err(), stderr.String())
	return nil
}

// TestAgainstBullMQ compares every figure of a snapshot with what BullMQ's
// own API (getJobCounts, isPaused, getWaiting, getActive, getWorkers,
// getMetrics, getFailed) reads on the same Redis, for state BullMQ itself
// wrote: waiting, prioritized, delayed, paused, active, completed, failed,
// retried and waiting-children jobs, named and unnamed live workers.
func TestAgainstBullMQ(t *testing.T) {
	for _, prefix := range []string{"bull", "myapp"} {
		t.Run(prefix, func(t *testing.T) {
			srv := redistest.Start(t)
			api := runBullMQ(t, srv, prefix)

			c, _ := snapshottest.NewClient(t, redisclient.Config{Endpoint: srv.Addr()})
			opts := Options{ReadWorkers: true, ByClassMaxEntries: 1000, StalledAfter: time.Millisecond}
			if prefix != DefaultPrefix {
				opts.Prefix = prefix
			}
			s, err := NewReader(c, opts).Snapshot(context.Background())
			require.NoError(t, err)
			require.Empty(t, s.Problems)

			names := make([]string, 0, len(api))
			for name := range api {
				names = append(names, name)
			}
			slices.Sort(names)
			require.Equal(t, names, snapshottest.QueueNames(s), "every queue BullMQ created is discovered")

			byClass := map[snapshot.ClassCount]int64{}
			for _, name := range names {
				a, q := api[name], snapshottest.Queue(t, s, name)
				// getWaitingCount is wait + paused; getJobCounts gives them apart.
				waiting := a.Counts["waiting"] + a.Counts["paused"]
				assert.Equal(t, map[string]int64{
					"waiting":          waiting,
					"active":           a.Counts["active"],
					"delayed":          a.Counts["delayed"],
					"prioritized":      a.Counts["prioritized"],
					"waiting-children": a.Counts["waiting-children"],
					"completed":        a.Counts["completed"],
					"failed":           a.Counts["failed"],
				}, snapshottest.Jobs(s, name), name)
				assert.Equal(t, waiting+a.Counts["prioritized"], q.Size, name)
				assert.True(t, q.PausedKnown, name)
				assert.Equal(t, a.Paused, q.Paused, name)
				assert.Equal(t, a.Counts["active"], q.Running, name)

				var wantLatency time.Duration
				if len(a.WaitingTimestamps) > 0 {
					wantLatency = s.Time.Sub(time.UnixMilli(slices.Min(a.WaitingTimestamps)))
				}
				assert.Equal(t, wantLatency, q.Latency, "%s: the oldest waiting job's age", name)
				var wantAge time.Duration
				var wantStalled int64
				for _, started := range a.ActiveProcessedOn {
					age := s.Time.Sub(time.UnixMilli(started))
					wantAge = max(wantAge, age)
					if age > opts.StalledAfter {
						wantStalled++
					}
				}
				assert.Equal(t, wantAge, q.RunningMaxAge, name)
				assert.Equal(t, wantStalled, q.Stalled, name)

				var workers int
				for _, p := range s.Processes {
					if p.Queues[0] == name {
						workers++
					}
				}
				assert.Len(t, a.Workers, workers, "%s: getWorkers", name)

				var totals *snapshot.Totals
				for i := range s.Totals {
					if s.Totals[i].Queue == name {
						totals = &s.Totals[i]
					}
				}
				if a.Metrics.Completed+a.Metrics.Failed > 0 {
					require.NotNil(t, totals, name)
				}
				if totals != nil {
					assert.Equal(t, snapshot.Totals{Queue: name, Processed: a.Metrics.Completed + a.Metrics.Failed, Failed: a.Metrics.Failed}, *totals)
				}
				for _, f := range a.Failed {
					byClass[snapshot.ClassCount{State: "failed", Class: f.Name, ErrorType: f.Reason}]++
				}
			}
			got := map[snapshot.ClassCount]int64{}
			for _, cell := range s.ByClass {
				n := cell.Count
				cell.Count = 0
				got[cell] = n
			}
			assert.Equal(t, byClass, got)

			// The state covers what the test claims to compare.
			assert.True(t, api["reports"].Paused)
			assert.Equal(t, int64(2), api["slow"].Counts["active"])
			assert.Equal(t, int64(2), api["mixed"].Counts["failed"])
			assert.Equal(t, int64(1), api["mixed"].Counts["delayed"], "the retried job waits in delayed")
			assert.Equal(t, int64(3), api["mixed"].Metrics.Completed)
			assert.Equal(t, int64(1), api["flows"].Counts["waiting-children"])
			assert.Len(t, s.Processes, 2, "the named reports worker and the slow worker")
		})
	}
}
