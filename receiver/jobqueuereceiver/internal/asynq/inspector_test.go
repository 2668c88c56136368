// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// inspector computes what asynq 0.26's Inspector reports, the way it
// computes it (inspector.go, internal/rdb/inspect.go), as the reference the
// reader is compared with and benchmarked against. It shares no code with
// the reader: queue figures come from one Lua script per queue doing what
// rdb.CurrentStats's script does (plus the SISMEMBER before it and the
// memory-usage script after it, as GetQueueInfo runs them), servers from
// the listing scripts of rdb.ListServers/ListWorkers (which delete expired
// entries: a write) and one GET or HVALS per server, decoded by the
// protobuf runtime.
type inspector struct {
	c   *redis.Client
	now time.Time
	// memory runs GetQueueInfo's memory-usage script as the Inspector
	// does; the figure itself is not compared.
	memory bool
}

type inspectedQueue struct {
	Pending, Active, Scheduled, Retry, Archived, Completed, Aggregating int64
	Groups                                                              int64
	ProcessedToday, FailedToday, ProcessedTotal, FailedTotal            int64
	Paused                                                              bool
	Latency                                                             time.Duration
	MemoryUsage                                                         int64
}

// currentStats follows rdb.CurrentStats's script: counts, the day's and the
// all-time counters, the pause flag, the tail task's pending_since, and the
// groups with the sum of their sizes.
var currentStats = redis.NewScript(`
local out = {}
local pending = redis.call("LLEN", KEYS[1])
out[1] = pending
out[2] = redis.call("LLEN", KEYS[2])
for i = 3, 6 do out[i] = redis.call("ZCARD", KEYS[i]) end
for i = 7, 10 do
  local v = redis.call("GET", KEYS[i])
  if v then out[i] = tonumber(v) else out[i] = 0 end
end
out[11] = redis.call("EXISTS", KEYS[11])
out[12] = 0
if pending > 0 then
  local tail = redis.call("LRANGE", KEYS[1], -1, -1)[1]
  out[12] = redis.call("HGET", ARGV[1] .. tail, "pending_since")
end
local groups = redis.call("SMEMBERS", KEYS[12])
out[13] = #groups
local aggregating = 0
for _, g in ipairs(groups) do aggregating = aggregating + redis.call("ZCARD", ARGV[2] .. g) end
out[14] = aggregating
return out`)

// memoryUsage follows rdb.memoryUsage's script: per list or sorted set,
// the average MEMORY USAGE of up to 20 task hashes times its length, plus
// the key's own; groups likewise over the first 5 groups.
var memoryUsage = redis.NewScript(`
local total = 0
local function sample(ids, n)
  if #ids == 0 then return 0 end
  local sum = 0
  for _, id in ipairs(ids) do sum = sum + (redis.call("MEMORY", "USAGE", ARGV[1] .. id) or 0) end
  return sum / #ids * n
end
for i = 1, 2 do
  total = total + sample(redis.call("LRANGE", KEYS[i], 0, 19), redis.call("LLEN", KEYS[i]))
  total = total + (redis.call("MEMORY", "USAGE", KEYS[i]) or 0)
end
for i = 3, 6 do
  total = total + sample(redis.call("ZRANGE", KEYS[i], 0, 19), redis.call("ZCARD", KEYS[i]))
  total = total + (redis.call("MEMORY", "USAGE", KEYS[i]) or 0)
end
local groups = redis.call("SMEMBERS", KEYS[7])
if #groups > 0 then
  local n, sum, sampled = 0, 0, 0
  for i, g in ipairs(groups) do
    n = n + redis.call("ZCARD", ARGV[2] .. g)
    if i <= 5 then
      for _, id in ipairs(redis.call("ZRANGE", ARGV[2] .. g, 0, 19)) do
        sum = sum + (redis.call("MEMORY", "USAGE", ARGV[1] .. id) or 0)
        sampled = sampled + 1
      end
    end
  end
  if sampled > 0 then total = total + sum / sampled * n end
end
return math.floor(total)`)

// listLive follows listServerKeysCmd/listWorkersCmd: live members, and the
// expired ones removed.
var listLive = redis.NewScript(`
local keys = redis.call("ZRANGEBYSCORE", KEYS[1], ARGV[1], "+inf")
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1] - 1)
return keys`)

func (in *inspector) queues(ctx context.Context) ([]string, error) {
	return in.c.SMembers(ctx, "asynq:queues").Result()
}

// getQueueInfo is Inspector.GetQueueInfo; ok is false for a queue not in
// the registry (QueueNotFound).
func (in *inspector) getQueueInfo(ctx context.Context, q string) (info inspectedQueue, ok bool, err error) {
	if ok, err = in.c.SIsMember(ctx, "asynq:queues", q).Result(); err != nil || !ok {
		return info, ok, err
	}
	day := in.now.UTC().Format("2006-01-02")
	keys := []string{
		qkey(q, "pending"), qkey(q, "active"), qkey(q, "scheduled"), qkey(q, "retry"), qkey(q, "archived"),
		qkey(q, "completed"), qkey(q, "processed:"+day), qkey(q, "failed:"+day), qkey(q, "processed"),
		qkey(q, "failed"), qkey(q, "paused"), qkey(q, "groups"),
	}
	res, err := currentStats.Run(ctx, in.c, keys, qkey(q, "t:"), qkey(q, "g:")).Slice()
	if err != nil {
		return info, true, err
	}
	n := func(i int) int64 { return castInt(res[i]) }
	info = inspectedQueue{
		Pending: n(0), Active: n(1), Scheduled: n(2), Retry: n(3), Archived: n(4), Completed: n(5),
		ProcessedToday: n(6), FailedToday: n(7), ProcessedTotal: n(8), FailedTotal: n(9),
		Paused: n(10) != 0, Groups: n(12), Aggregating: n(13),
	}
	if since := n(11); since != 0 {
		info.Latency = in.now.Sub(time.Unix(0, since))
	}
	if in.memory {
		mkeys := []string{
			qkey(q, "active"), qkey(q, "pending"), qkey(q, "scheduled"), qkey(q, "retry"),
			qkey(q, "archived"), qkey(q, "completed"), qkey(q, "groups"),
		}
		if info.MemoryUsage, err = memoryUsage.Run(ctx, in.c, mkeys, qkey(q, "t:"), qkey(q, "g:")).Int64(); err != nil {
			return info, true, err
		}
	}
	return info, true, nil
}

// castInt converts a script reply as asynq 0.26 does (spf13/cast 1.10's
// ToInt): a number, or a string's integer part parsed with base prefixes (a
// leading 0 is octal), else 0.
func castInt(v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case string:
		if m := decimal.FindStringSubmatch(v); m != nil {
			v = m[1]
			if v == "" || v == "-" || v == "+" {
				v += "0"
			}
		}
		n, err := strconv.ParseInt(v, 0, 0)
		if err != nil {
			return 0
		}
		return n
	}
	return 0
}

// decimal is a number with a fractional part, whose integer part cast reads.
var decimal = regexp.MustCompile(`^([-+]?\d*)\.\d*$`)

type inspectedServer struct {
	Host          string
	PID           int64
	ServerID      string
	Concurrency   int64
	Queues        []string
	Status        string
	ActiveWorkers []workerSeen
}

type workerSeen struct {
	Queue   string
	Started time.Time
}

// servers is Inspector.Servers: live servers (expired entries deleted),
// bad data skipped, workers attached by their server_id.
func (in *inspector) servers(ctx context.Context) ([]inspectedServer, error) {
	now := in.now.Unix()
	keys, err := listLive.Run(ctx, in.c, []string{"asynq:servers"}, now).StringSlice()
	if err != nil {
		return nil, err
	}
	byID := map[string]*inspectedServer{}
	var order []string
	for _, k := range keys {
		data, err := in.c.Get(ctx, k).Result()
		if err != nil {
			continue
		}
		m, err := unmarshal(pb.server, []byte(data))
		if err != nil {
			continue
		}
		s := &inspectedServer{
			Host: get(m, "host").String(), PID: get(m, "pid").Int(), ServerID: get(m, "server_id").String(),
			Concurrency: get(m, "concurrency").Int(), Status: get(m, "status").String(),
		}
		get(m, "queues").Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			s.Queues = append(s.Queues, k.String())
			return true
		})
		byID[s.ServerID] = s
		order = append(order, s.ServerID)
	}
	wkeys, err := listLive.Run(ctx, in.c, []string{"asynq:workers"}, now).StringSlice()
	if err != nil {
		return nil, err
	}
	for _, k := range wkeys {
		vals, err := in.c.HVals(ctx, k).Result()
		if err != nil {
			continue
		}
		for _, v := range vals {
			m, err := unmarshal(pb.worker, []byte(v))
			if err != nil {
				continue
			}
			if s := byID[get(m, "server_id").String()]; s != nil {
				s.ActiveWorkers = append(s.ActiveWorkers, workerSeen{Queue: get(m, "queue").String(), Started: timestampOf(m, "start_time")})
			}
		}
	}
	out := make([]inspectedServer, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	return out, nil
}
