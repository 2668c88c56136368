// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/pgclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/oban"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// newObanReader reads Oban's oban_jobs table in schema (Oban's prefix).
func newObanReader(q pgclient.Querier, cfg *Config, schema string, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	opts := oban.Options{
		Schema:        schema,
		Selection:     sel,
		StalledAfter:  cfg.StalledAfter,
		EstimateAbove: cfg.Postgres.EstimateAbove,
		Now:           now,
	}
	// The breakdown costs two statements (one a sort of the retryable
	// jobs), so it is read only when reported.
	if cfg.Metrics.JobqueueJobsByClass.Enabled {
		opts.ByClassMaxEntries = cfg.ByClass.MaxEntries
	}
	return oban.NewReader(q, opts)
}
