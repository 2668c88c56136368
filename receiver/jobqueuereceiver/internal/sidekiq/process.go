// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"encoding/json"
	"errors"
	"time"
)

// processInfo is the `info` field of a process hash: JSON written once at
// start-up. Up to 8.0 it carries concurrency and queues; 8.0.9+ adds
// capsules, each with its own concurrency; 8.1.2+ also keeps concurrency as
// a top-level hash field (read separately, it wins).
type processInfo struct {
	Hostname    string             `json:"hostname"`
	PID         int64              `json:"pid"`
	Tag         string             `json:"tag"`
	Concurrency *int64             `json:"concurrency"`
	Queues      []string           `json:"queues"`
	Capsules    map[string]capsule `json:"capsules"`
}

type capsule struct {
	Concurrency int64 `json:"concurrency"`
}

// parseInfo decodes info. A member of the wrong type is skipped and reported
// (kindWrongType) while the others are kept; broken JSON gives nothing
// (kindInvalidJSON). info is small, so encoding/json is the plain choice.
func parseInfo(raw string) (processInfo, string) {
	var info processInfo
	err := json.Unmarshal([]byte(raw), &info)
	if err == nil {
		return info, ""
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return info, kindWrongType
	}
	return processInfo{}, kindInvalidJSON
}

// concurrency is the number of worker threads info declares: its
// concurrency, else the sum over capsules. ok is false when it has neither.
func (i *processInfo) concurrency() (n int64, ok bool) {
	if i.Concurrency != nil {
		return *i.Concurrency, true
	}
	for _, c := range i.Capsules {
		n += c.Concurrency
		ok = true
	}
	return n, ok
}

// parseWork reads one value of `<identity>:work` (`:workers` before 6.4.2):
// {"queue":"default","payload":<job>,"run_at":1700000000}. payload is a
// JSON string up to 7.x and may be an object in 8.x; it is skipped either way.
// run_at is zero when the entry has none (problem says why).
func parseWork(value string) (queue string, runAt time.Time, problem string) {
	var rawQueue, rawRunAt string
	o := newObject(value)
	for {
		k, v, ok := o.next()
		if !ok {
			break
		}
		switch k {
		case "queue":
			rawQueue = v
		case "run_at":
			rawRunAt = v
		}
	}
	if o.err != nil {
		return "", time.Time{}, kindInvalidJSON
	}
	queue, ok := jsonString(rawQueue)
	if !ok {
		return "", time.Time{}, kindMissingQueue
	}
	if rawRunAt == "" || rawRunAt == "null" {
		return queue, time.Time{}, kindMissingTimestamp
	}
	if runAt, ok = epoch(rawRunAt); !ok {
		return queue, time.Time{}, kindInvalidTimestamp
	}
	return queue, runAt, ""
}
