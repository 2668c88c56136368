// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// queue builds the figures of the queue named raw in the registry; ok is
// false when its key is not a list.
func (sc *scrape) queue(raw string, c queueCmds) (snapshot.Queue, bool) {
	key := c.key
	if sc.problems.WrongType(c.size, key) {
		return snapshot.Queue{}, false
	}
	q := snapshot.Queue{Name: sc.problems.Name(raw, sc.r.keys.queues, "queue name"), Size: c.size.Val()}
	if payload := c.oldest.Val(); payload != "" {
		j, err := parseJob(payload)
		if err != nil {
			sc.problems.Add(kindInvalidJSON, key, "oldest job: "+err.Error())
			return q, true
		}
		ts, problem := j.enqueued()
		if problem != "" {
			sc.problems.Add(problem, key, "oldest job has no usable enqueued_at or created_at")
			return q, true
		}
		q.Latency = snapshot.Age(sc.now, ts)
	}
	return q, true
}
