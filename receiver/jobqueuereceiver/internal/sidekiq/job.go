// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"math"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
)

// job is what the reader needs from one job payload (a queue's oldest job or
// a retry/dead entry). Fields hold raw JSON values, "" when absent, so that
// parsing a payload allocates nothing whatever its size.
type job struct {
	enqueuedAt   string
	createdAt    string
	class        string
	displayClass string
	wrapped      string
	errorClass   string
}

// parseJob extracts the members the reader uses from a job's JSON; args and
// everything else are skipped unread. When a member repeats, the last one
// wins, as with Ruby's JSON.parse.
func parseJob(payload string) (job, error) {
	var j job
	o := rawjson.NewObject(payload)
	for {
		k, v, ok := o.Next()
		if !ok {
			return j, o.Err()
		}
		switch k {
		case "enqueued_at":
			j.enqueuedAt = v
		case "created_at":
			j.createdAt = v
		case "class":
			j.class = v
		case "display_class":
			j.displayClass = v
		case "wrapped":
			j.wrapped = v
		case "error_class":
			j.errorClass = v
		}
	}
}

// enqueued returns when the job was pushed onto its queue, falling back to
// created_at like Sidekiq 8's Queue#latency. problem is "" when ts is usable.
func (j *job) enqueued() (ts time.Time, problem string) {
	raw := j.enqueuedAt
	if raw == "" || raw == "null" {
		raw = j.createdAt
	}
	if raw == "" || raw == "null" {
		return time.Time{}, kindMissingTimestamp
	}
	ts, ok := epoch(raw)
	if !ok {
		return time.Time{}, kindInvalidTimestamp
	}
	return ts, ""
}

// displayName is the class a person knows the job by: Sidekiq's
// display_class, else the ActiveJob class it wraps, else its class.
func (j *job) displayName() string {
	for _, raw := range [...]string{j.displayClass, j.wrapped, j.class} {
		if s, ok := rawjson.String(raw); ok && s != "" {
			return s
		}
	}
	return ""
}

const (
	// msThreshold separates epoch milliseconds (Sidekiq 8 writes integers
	// like 1700000000123) from epoch seconds (Sidekiq <= 7 writes floats
	// like 1700000000.123): seconds stay below it until the year 5138,
	// milliseconds have been above it since 1973.
	msThreshold = 1e11
	// maxEpochSeconds (year 3000) rejects garbage far in the future.
	maxEpochSeconds = 32503680000
)

// epoch converts a raw Sidekiq timestamp to a time. The JSON type says which
// Sidekiq wrote it (float seconds up to 7.x, integer milliseconds in 8.x), but
// only the magnitude is trusted: Sidekiq 8's own rule (Integer means ms)
// misreads integer seconds, which run_at and other clients' enqueued_at are.
func epoch(raw string) (time.Time, bool) {
	v, ok := rawjson.Number(raw)
	if !ok || v <= 0 {
		return time.Time{}, false
	}
	if v >= msThreshold {
		v /= 1000
	}
	if v > maxEpochSeconds {
		return time.Time{}, false
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
