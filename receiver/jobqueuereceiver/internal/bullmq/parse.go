// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package bullmq

import (
	"encoding/base64"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// maxEpochMillis (year 3000) rejects garbage far in the future.
const maxEpochMillis = 32503680000_000

// parseMillis parses a job hash's time field: epoch milliseconds, as
// JavaScript's Date.now() writes them (a fraction is kept if present).
func parseMillis(raw string) (time.Time, bool) {
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(v) || v < 1 || v > maxEpochMillis {
		return time.Time{}, false
	}
	ms, frac := math.Modf(v)
	return time.UnixMilli(int64(ms)).Add(time.Duration(frac * 1e6)), true
}

// workerConn is one BullMQ worker's blocking connection in CLIENT LIST.
type workerConn struct {
	id     string // the client id
	queue  string // decoded from the connection name
	worker string // the Worker's name option; "" when unnamed
	host   string
	idle   time.Duration
}

// processID names the connection in a snapshot: `<queue>#<client id>`, or
// `<queue>:w:<worker name>#<client id>` for a named worker.
func (w *workerConn) processID() string {
	if w.worker == "" {
		return w.queue + "#" + w.id
	}
	return w.queue + ":w:" + w.worker + "#" + w.id
}

// parseClientList returns the connections CLIENT LIST shows that BullMQ
// workers of the queues under prefix ("<prefix>:") named, as
// Queue.getWorkers matches them: `<prefix>:<base64 queue>`, or that
// followed by `:w:<worker name>`. Other connections (QueueEvents' `:qe`,
// clients of other prefixes) are left out.
func parseClientList(list, prefix string) []workerConn {
	var out []workerConn
	for line := range strings.Lines(list) {
		var w workerConn
		var name string
		for field := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "id":
				w.id = v
			case "addr":
				w.host = v
				if h, _, err := net.SplitHostPort(v); err == nil {
					w.host = h
				}
			case "name":
				name = v
			case "idle":
				if s, err := strconv.ParseInt(v, 10, 64); err == nil && s >= 0 && s < math.MaxInt64/int64(time.Second) {
					w.idle = time.Duration(s) * time.Second
				}
			}
		}
		encoded, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if b64, suffix, named := strings.Cut(encoded, ":"); named {
			if w.worker, ok = strings.CutPrefix(suffix, "w:"); !ok {
				continue
			}
			encoded = b64
		}
		queue, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil || len(queue) == 0 {
			continue
		}
		w.queue = string(queue)
		out = append(out, w)
	}
	return out
}

// sortProcesses sorts processes by ID, as snapshot.Snapshot promises.
func sortProcesses(ps []snapshot.Process) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
}
