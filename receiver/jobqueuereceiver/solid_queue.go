// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/solidqueue"
)

// newSolidQueueReader reads Solid Queue's solid_queue_* tables in schema.
func newSolidQueueReader(q pgclient.Querier, cfg *Config, schema string, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	opts := solidqueue.Options{
		Schema:        schema,
		Selection:     sel,
		StalledAfter:  cfg.StalledAfter,
		EstimateAbove: cfg.Postgres.EstimateAbove,
		Now:           now,
	}
	// The breakdown costs a statement, so it is read only when reported.
	if cfg.Metrics.JobqueueJobsByClass.Enabled {
		opts.ByClassMaxEntries = cfg.ByClass.MaxEntries
	}
	return solidqueue.NewReader(q, opts)
}
