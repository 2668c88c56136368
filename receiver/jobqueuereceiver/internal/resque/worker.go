// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/resque"

import (
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
)

// workerID is a worker id taken apart.
type workerID struct {
	// name is what node-resque keys the worker's ping and counters by:
	// the id without its queue list.
	name   string
	host   string
	pid    int64
	queues []string
}

// parseID splits a worker id as node-resque's Queue#workers does (Ruby's
// Worker.find agrees on ids of three parts or more): host:pid:queues, or
// name:queues, or name alone. Queue names may contain ':'; a host may not.
func parseID(id string) workerID {
	first, rest, ok := strings.Cut(id, ":")
	if !ok {
		return workerID{name: id}
	}
	second, queues, ok := strings.Cut(rest, ":")
	if !ok {
		return workerID{name: first, queues: strings.Split(rest, ",")}
	}
	w := workerID{name: id[:len(first)+1+len(second)], host: first, queues: strings.Split(queues, ",")}
	// node-resque's MultiWorker names its workers host:pid+n.
	pid, _, _ := strings.Cut(second, "+")
	if n, err := strconv.ParseInt(pid, 10, 64); err == nil && n > 0 {
		w.pid = n
	}
	return w
}

// jsDate is the layout of JavaScript's Date#toString without its
// parenthesised zone name: "Thu Dec 03 2026 09:51:49 GMT+0000".
const jsDate = "Mon Jan 02 2006 15:04:05 GMT-0700"

// parseTime reads a time as Resque (ISO 8601: run_at in UTC, the values of
// workers:heartbeat with an offset) or node-resque (Date#toString) writes it.
func parseTime(raw string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, true
	}
	if i := strings.Index(raw, " ("); i > 0 {
		raw = raw[:i]
	}
	t, err := time.Parse(jsDate, raw)
	return t, err == nil
}

// maxEpochSeconds (year 3000) rejects garbage far in the future.
const maxEpochSeconds = 32503680000

// parsePing reads node-resque's worker:ping:<name>:
// {"time":1796291511,"name":"host:pid","queues":"q1,q2"}, time in epoch
// seconds. problem is "" when t is usable.
func parsePing(raw string) (t time.Time, problem string) {
	var rawTime string
	o := rawjson.NewObject(raw)
	for {
		k, v, ok := o.Next()
		if !ok {
			break
		}
		if k == "time" {
			rawTime = v
		}
	}
	if o.Err() != nil {
		return time.Time{}, kindInvalidJSON
	}
	if rawTime == "" || rawTime == "null" {
		return time.Time{}, kindMissingTimestamp
	}
	secs, ok := rawjson.Int(rawTime)
	if !ok || secs <= 0 || secs > maxEpochSeconds {
		return time.Time{}, kindInvalidTimestamp
	}
	return time.Unix(secs, 0), ""
}

// parseWorking reads worker:<id> while the worker works on a job:
// {"queue":"default","run_at":"...","payload":{"class":...,"args":[...]}}
// (node-resque adds "worker"). The payload is skipped unread. runAt is zero
// when unusable (problem says why).
func parseWorking(raw string) (queue string, runAt time.Time, problem string) {
	var rawQueue, rawRunAt string
	o := rawjson.NewObject(raw)
	for {
		k, v, ok := o.Next()
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
	if o.Err() != nil {
		return "", time.Time{}, kindInvalidJSON
	}
	queue, ok := rawjson.String(rawQueue)
	if !ok {
		return "", time.Time{}, kindMissingQueue
	}
	if rawRunAt == "" || rawRunAt == "null" {
		return queue, time.Time{}, kindMissingTimestamp
	}
	s, ok := rawjson.String(rawRunAt)
	if !ok {
		return queue, time.Time{}, kindInvalidTimestamp
	}
	if runAt, ok = parseTime(s); !ok {
		return queue, time.Time{}, kindInvalidTimestamp
	}
	return queue, runAt, ""
}
