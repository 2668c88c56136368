// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/river"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// newRiverReader reads River's river_job and river_queue tables in schema.
func newRiverReader(q pgclient.Querier, cfg *Config, schema string, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	opts := river.Options{
		Schema:        schema,
		Selection:     sel,
		StalledAfter:  cfg.StalledAfter,
		EstimateAbove: cfg.Postgres.EstimateAbove,
		Now:           now,
	}
	// The breakdown costs a sort of the retryable jobs, so it is read only
	// when reported.
	if cfg.Metrics.JobqueueJobsByClass.Enabled {
		opts.ByClassMaxEntries = cfg.ByClass.MaxEntries
	}
	return river.NewReader(q, opts)
}
