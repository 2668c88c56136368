// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/celery"

import (
	"context"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

const (
	// resultPattern matches the result backend's keys (Celery's
	// RedisBackend, which kombu's global_keyprefix does not prefix).
	resultPattern = "celery-task-meta-*"
	// resultHead is how many bytes of a result are read: the backend
	// writes status first, and results can be megabytes.
	resultHead = 128
)

// results counts the result backend's task states over SCAN passes of one
// bounded step per snapshot. Each key's state is remembered from the last
// time a pass read it; a pass that ends forgets the keys it did not see
// (expired, result_expires). So counts lag the backend by up to one pass.
type results struct {
	max    int
	cursor uint64
	pass   uint64
	states map[string]resultEntry
}

type resultEntry struct {
	state string
	pass  uint64 // the last pass that read the key
}

// resultReads are one snapshot's reads of the keys its SCAN step found.
type resultReads struct {
	scan  *redis.ScanCmd
	keys  []string
	heads []*redis.StringCmd
}

// step queues round trip 1's SCAN step.
func (rs *results) step(ctx context.Context, pipe redis.Pipeliner) *resultReads {
	return &resultReads{scan: pipe.Scan(ctx, rs.cursor, resultPattern, scanCount)}
}

// read queues round trip 2's reads of the keys the step found.
func (rr *resultReads) read(ctx context.Context, pipe redis.Pipeliner) {
	rr.keys, _ = rr.scan.Val()
	rr.heads = make([]*redis.StringCmd, len(rr.keys))
	for i, k := range rr.keys {
		rr.heads[i] = pipe.GetRange(ctx, k, 0, resultHead-1)
	}
}

// count remembers what round trip 2 read, ends the pass when the cursor
// came back to 0, and adds the counts per state to the snapshot.
func (sc *scrape) countResults(rs *results, rr *resultReads) {
	truncated := 0
	for i, k := range rr.keys {
		c := rr.heads[i]
		if sc.problems.WrongType(c, k) || c.Val() == "" { // expired since the SCAN
			continue
		}
		state, ok := parseResultState(c.Val())
		if !ok {
			sc.problems.Add(kindInvalidJSON, k, "no status at the start of the result")
			continue
		}
		if _, known := rs.states[k]; !known && len(rs.states) >= rs.max {
			truncated++
			continue
		}
		rs.states[strings.Clone(k)] = resultEntry{state: state, pass: rs.pass}
	}
	if truncated > 0 {
		sc.problems.Add(kindRegistryTruncated, resultPattern,
			strconv.Itoa(truncated)+" results beyond the "+strconv.Itoa(rs.max)+" remembered not counted")
	}
	_, rs.cursor = rr.scan.Val()
	if rs.cursor == 0 {
		for k, e := range rs.states {
			if e.pass != rs.pass {
				delete(rs.states, k)
			}
		}
		rs.pass++
	}

	counts := map[string]int64{}
	for _, e := range rs.states {
		counts[e.state]++
	}
	states := make([]string, 0, len(counts))
	for s := range counts {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: s, Count: counts[s]})
	}
}

// parseResultState reads the status a result starts with (the backend's
// meta: {"status": "SUCCESS", "result": ...}), lowercased as Celery's state
// names are reported; head may be cut anywhere after it.
func parseResultState(head string) (string, bool) {
	o := rawjson.NewObject(head)
	k, v, ok := o.Next()
	if !ok || k != "status" {
		return "", false
	}
	s, ok := rawjson.String(v)
	if !ok || s == "" || len(s) > 32 {
		return "", false
	}
	return strings.ToLower(s), true
}
