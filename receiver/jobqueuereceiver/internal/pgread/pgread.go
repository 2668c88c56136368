// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package pgread holds what every PostgreSQL-backed reader of the job_queue
// receiver (river, solidqueue, goodjob, oban) shares: its options, and the
// planner's row estimate read from EXPLAIN, which stands for a count beyond
// Options.EstimateAbove. The readers themselves know their tables.
package pgread // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/pgread"

import (
	"encoding/json"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what a PostgreSQL-backed reader reads and how it judges it.
type Options struct {
	// Schema is the schema holding the job system's tables.
	Schema string
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the age beyond which a running job counts as
	// stalled; 0 counts none.
	StalledAfter time.Duration
	// EstimateAbove is the row count of a finished state (each reader's
	// package doc names them) beyond which it is reported as the planner's
	// estimate, one figure for all queues, marked Estimated; 0 counts
	// exactly always.
	EstimateAbove int64
	// ByClassMaxEntries > 0 enables the retry/dead breakdown by class and
	// error type, reading at most this many of the newest jobs of each
	// state.
	ByClassMaxEntries int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// PlanRows is the top node's "Plan Rows" of an EXPLAIN (FORMAT JSON): the
// planner's estimate of the rows the statement returns. ok is false when
// plan holds none.
func PlanRows(plan string) (rows int64, ok bool) {
	var out []struct {
		Plan struct {
			Rows *float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if json.Unmarshal([]byte(plan), &out) != nil || len(out) == 0 || out[0].Plan.Rows == nil {
		return 0, false
	}
	return int64(*out[0].Plan.Rows), true
}
