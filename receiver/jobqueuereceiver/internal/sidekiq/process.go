// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// processInfo is what the snapshot uses of the `info` field of a process
// hash: JSON written once at start-up. Up to 8.0 it carries concurrency and
// queues; 8.0.9+ adds capsules, each with its own concurrency; 8.1.2+ also
// keeps concurrency as a top-level hash field (read separately, it wins).
type processInfo struct {
	hostname string
	pid      int64
	tag      string
	queues   []string
	// concurrency is info's own, else the sum over capsules; ok when
	// either is present.
	concurrency, capsules       int64
	hasConcurrency, hasCapsules bool
}

// parseInfo reads info with the same scanner as job payloads (no
// reflection, a few allocations). A member of the wrong type is skipped and
// reported (kindWrongType) while the others are kept; broken JSON gives
// nothing (kindInvalidJSON).
func parseInfo(raw string) (processInfo, string) {
	var info processInfo
	problem := ""
	o := rawjson.NewObject(raw)
	for {
		k, v, ok := o.Next()
		if !ok {
			break
		}
		if v == "null" {
			continue
		}
		good := true
		switch k {
		case "hostname":
			info.hostname, good = rawjson.String(v)
		case "tag":
			info.tag, good = rawjson.String(v)
		case "pid":
			info.pid, good = rawjson.Int(v)
		case "queues":
			info.queues, good = rawjson.Strings(v)
		case "concurrency":
			info.concurrency, good = rawjson.Int(v)
			info.hasConcurrency = good
		case "capsules":
			info.capsules, good = capsulesConcurrency(v)
			info.hasCapsules = good
		}
		if !good {
			problem = kindWrongType
		}
	}
	if o.Err() != nil {
		return processInfo{}, kindInvalidJSON
	}
	return info, problem
}

// capsulesConcurrency sums the concurrency of every capsule in
// {"default":{"concurrency":5,"mode":"strict",...},...}.
func capsulesConcurrency(raw string) (int64, bool) {
	var sum int64
	capsules := rawjson.NewObject(raw)
	for {
		_, capsule, ok := capsules.Next()
		if !ok {
			break
		}
		fields := rawjson.NewObject(capsule)
		for {
			k, v, ok := fields.Next()
			if !ok {
				break
			}
			if k == "concurrency" {
				n, ok := rawjson.Int(v)
				if !ok {
					return 0, false
				}
				sum += n
			}
		}
		if fields.Err() != nil {
			return 0, false
		}
	}
	return sum, capsules.Err() == nil
}

// concurrencyDeclared is the number of worker threads info declares: its
// concurrency, else the sum over capsules.
func (i *processInfo) concurrencyDeclared() (int64, bool) {
	if i.hasConcurrency {
		return i.concurrency, true
	}
	return i.capsules, i.hasCapsules
}

// parseWork reads one value of `<identity>:work` (`:workers` before 6.4.2):
// {"queue":"default","payload":<job>,"run_at":1700000000}. payload is a
// JSON string up to 7.x and may be an object in 8.x; it is skipped either way.
// run_at is zero when the entry has none (problem says why).
func parseWork(value string) (queue string, runAt time.Time, problem string) {
	var rawQueue, rawRunAt string
	o := rawjson.NewObject(value)
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
	if runAt, ok = epoch(rawRunAt); !ok {
		return queue, time.Time{}, kindInvalidTimestamp
	}
	return queue, runAt, ""
}

// process builds one process from its hash; live is false when the process
// is gone (its hash expired: the registry entry is stale) or unreadable.
func (sc *scrape) process(id, key string, hash *redis.SliceCmd) (p snapshot.Process, live bool) {
	if sc.problems.WrongType(hash, key) {
		return p, false
	}
	vals := hash.Val()
	info, _ := vals[0].(string)
	if info == "" {
		sc.snap.ProcessesStale++
		return p, false
	}
	p.ID = sc.problems.Name(id, sc.r.keys.processes, "process identity")
	pi, problem := parseInfo(info)
	if problem != "" {
		sc.problems.Add(problem, key, "info is not the JSON object Sidekiq writes")
	}
	p.PID = pi.pid
	p.Hostname = sc.problems.Name(pi.hostname, key, "info hostname")
	p.Tag = sc.problems.Name(pi.tag, key, "info tag")
	for i, q := range pi.queues {
		pi.queues[i] = sc.problems.Name(q, key, "info queue name")
	}
	p.Queues = pi.queues
	if n, ok := pi.concurrencyDeclared(); ok {
		p.Concurrency = sc.problems.NonNegative(n, key, "info concurrency")
	}
	if raw, ok := vals[5].(string); ok {
		p.Concurrency = sc.problems.Count(raw, key, "concurrency")
	}
	if raw, ok := vals[1].(string); ok {
		p.Busy = sc.problems.Count(raw, key, "busy")
	}
	if raw, ok := vals[2].(string); !ok || raw == "" {
		sc.problems.Add(kindMissingTimestamp, key, "no beat")
	} else if beat, ok := epoch(raw); !ok {
		sc.problems.Add(kindInvalidTimestamp, key, "beat is not an epoch time")
	} else {
		p.HeartbeatAge = snapshot.Age(sc.now, beat)
	}
	switch raw, _ := vals[3].(string); raw {
	case "true":
		p.Quiet = true
	case "false", "":
	default:
		sc.problems.Add(kindInvalidValue, key, "quiet is neither true nor false")
	}
	// rss is in KB; 0 means the platform does not measure it.
	if raw, ok := vals[4].(string); ok && raw != "" {
		if kb := sc.problems.Count(raw, key, "rss"); kb > 0 && kb <= maxInt64/1024 {
			p.MemoryBytes, p.MemoryKnown = kb*1024, true
		}
	}
	return p, true
}

const maxInt64 = 1<<63 - 1

// work counts one process's in-flight jobs into the queues they come from.
func (sc *scrape) work(byName map[string]*snapshot.Queue, cmd *redis.MapStringStringCmd, key string) {
	if sc.problems.WrongType(cmd, key) {
		return
	}
	for field, value := range cmd.Val() {
		name, runAt, problem := parseWork(value)
		if problem != "" {
			sc.problems.Add(problem, key, "thread "+field)
		}
		q := byName[name]
		if q == nil {
			continue
		}
		q.Running++
		if runAt.IsZero() {
			continue
		}
		a := snapshot.Age(sc.now, runAt)
		q.RunningMaxAge = max(q.RunningMaxAge, a)
		if sc.r.opts.StalledAfter > 0 && a > sc.r.opts.StalledAfter {
			q.Stalled++
		}
	}
}
