// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// countClasses adds one set's entries to the breakdown.
func (sc *scrape) countClasses(cells *snapshot.ClassCells, state string, cmd *redis.StringSliceCmd, key string) {
	if sc.problems.WrongType(cmd, key) {
		return
	}
	for _, entry := range cmd.Val() {
		j, err := parseJob(entry)
		if err != nil {
			sc.problems.Add(kindInvalidJSON, key, "entry: "+err.Error())
			continue
		}
		errorClass, _ := rawjson.String(j.errorClass)
		cells.Add(state, sc.problems.Name(j.displayName(), key, "class"), sc.problems.Name(errorClass, key, "error_class"))
	}
}
