// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rq"

import "time"

// timeLayout is rq.utils' '%Y-%m-%dT%H:%M:%S.%fZ' and its older
// '%Y-%m-%dT%H:%M:%SZ' at once: time.Parse takes a fractional second after
// the seconds even when the layout has none. RQ writes UTC; the Z is a
// literal, as in RQ's format, not an offset.
const timeLayout = "2006-01-02T15:04:05Z"

// parseTime reads a timestamp as RQ writes it in job and worker hashes
// (utcformat) and reads it back (utcparse).
func parseTime(raw string) (time.Time, bool) {
	t, err := time.Parse(timeLayout, raw)
	return t, err == nil
}
