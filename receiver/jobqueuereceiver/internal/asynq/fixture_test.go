// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// fixture writes keys exactly as asynq 0.26 does: each method is one of
// internal/rdb's operations (its Lua script's commands, run here in a MULTI
// transaction, so as atomically) with the same keys, values, scores and
// TTLs, and the protobuf messages of internal/base encoded by the protobuf
// runtime (asynqpb_test.go). The real library is not a dependency of this
// module (not an approved release here), so its layout is reproduced from
// its source; the time is the fixture's, passed in, as asynq's clock.
type fixture struct {
	tb  testing.TB
	c   *redis.Client
	now time.Time
	// serverTTL is the TTL of server and workers keys: asynq's 10 s by
	// default; large tests that take longer to write set more.
	serverTTL time.Duration
	seq       int
	tasks     map[string]map[string]any // task id -> TaskMessage fields
}

func newFixture(tb testing.TB, c *redis.Client, now time.Time) *fixture {
	return &fixture{tb: tb, c: c, now: now, serverTTL: heartbeatTTL, tasks: map[string]map[string]any{}}
}

func (f *fixture) ago(d time.Duration) time.Time { return f.now.Add(-d) }

func qkey(q, suffix string) string { return "asynq:{" + q + "}:" + suffix }

func (f *fixture) tx(fn func(p redis.Pipeliner)) {
	f.tb.Helper()
	_, err := f.c.TxPipelined(context.Background(), func(p redis.Pipeliner) error {
		fn(p)
		return nil
	})
	require.NoError(f.tb, err)
}

// newTask composes a TaskMessage as Client.Enqueue does with default
// options: 25 retries, a 30-minute timeout, a UUID id.
func (f *fixture) newTask(queue, typ string, payload []byte) string {
	f.seq++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", f.seq, f.seq)
	f.tasks[id] = map[string]any{
		"type": typ, "payload": payload, "id": id, "queue": queue,
		"retry": int32(25), "timeout": int64(1800),
	}
	return id
}

func (f *fixture) msg(id string) string { return marshal(f.tb, pb.task, f.tasks[id]) }

// enqueue is Client.Enqueue: rdb.Enqueue (SADD asynq:queues, enqueueCmd).
func (f *fixture) enqueue(queue, typ string, payload []byte) string {
	id := f.newTask(queue, typ, payload)
	f.tx(func(p redis.Pipeliner) {
		p.SAdd(context.Background(), "asynq:queues", queue)
		p.HSet(context.Background(), qkey(queue, "t:"+id), "msg", f.msg(id), "state", "pending", "pending_since", f.now.UnixNano())
		p.LPush(context.Background(), qkey(queue, "pending"), id)
	})
	return id
}

// schedule is Client.Enqueue with ProcessAt/ProcessIn: rdb.Schedule.
func (f *fixture) schedule(queue, typ string, at time.Time) string {
	id := f.newTask(queue, typ, nil)
	f.tx(func(p redis.Pipeliner) {
		p.SAdd(context.Background(), "asynq:queues", queue)
		p.HSet(context.Background(), qkey(queue, "t:"+id), "msg", f.msg(id), "state", "scheduled")
		p.ZAdd(context.Background(), qkey(queue, "scheduled"), redis.Z{Score: float64(at.Unix()), Member: id})
	})
	return id
}

// group is Client.Enqueue with Group: rdb.AddToGroup.
func (f *fixture) group(queue, group, typ string) string {
	id := f.newTask(queue, typ, nil)
	f.tasks[id]["group_key"] = group
	f.tx(func(p redis.Pipeliner) {
		p.SAdd(context.Background(), "asynq:queues", queue)
		p.HSet(context.Background(), qkey(queue, "t:"+id), "msg", f.msg(id), "state", "aggregating", "group", group)
		p.ZAdd(context.Background(), qkey(queue, "g:"+group), redis.Z{Score: float64(f.now.Unix()), Member: id})
		p.SAdd(context.Background(), qkey(queue, "groups"), group)
	})
	return id
}

// dequeue is a server's processor taking the oldest pending task
// (dequeueCmd): RPOPLPUSH pending active, state active, pending_since
// dropped, a 30 s lease. It returns "" for an empty queue.
func (f *fixture) dequeue(queue string) string {
	ctx := context.Background()
	id, err := f.c.LIndex(ctx, qkey(queue, "pending"), -1).Result()
	if err == redis.Nil {
		return ""
	}
	require.NoError(f.tb, err)
	f.tx(func(p redis.Pipeliner) {
		p.RPopLPush(ctx, qkey(queue, "pending"), qkey(queue, "active"))
		p.HSet(ctx, qkey(queue, "t:"+id), "state", "active")
		p.HDel(ctx, qkey(queue, "t:"+id), "pending_since")
		p.ZAdd(ctx, qkey(queue, "lease"), redis.Z{Score: float64(f.now.Add(30 * time.Second).Unix()), Member: id})
	})
	return id
}

// count adds the processed (and failed) counters as the done, retry and
// archive scripts do: per UTC day (expiring 90 days on) and all-time.
func (f *fixture) count(p redis.Pipeliner, queue string, failed bool) {
	ctx := context.Background()
	day := f.now.UTC().Format("2006-01-02")
	expire := f.now.Add(90 * 24 * time.Hour)
	names := []string{"processed"}
	if failed {
		names = append(names, "failed")
	}
	for _, n := range names {
		p.Incr(ctx, qkey(queue, n+":"+day))
		p.ExpireAt(ctx, qkey(queue, n+":"+day), expire) // asynq: only when the INCR gave 1; same effect
		p.Incr(ctx, qkey(queue, n))
	}
}

// done is a task succeeding without retention (doneCmd): the task is gone.
func (f *fixture) done(queue, id string) {
	ctx := context.Background()
	f.tx(func(p redis.Pipeliner) {
		p.LRem(ctx, qkey(queue, "active"), 0, id)
		p.ZRem(ctx, qkey(queue, "lease"), id)
		p.Del(ctx, qkey(queue, "t:"+id))
		f.count(p, queue, false)
	})
}

// complete is a task with Retention succeeding (markAsCompleteCmd).
func (f *fixture) complete(queue, id string, retention time.Duration) {
	ctx := context.Background()
	f.tasks[id]["retention"] = int64(retention.Seconds())
	f.tasks[id]["completed_at"] = f.now.Unix()
	f.tx(func(p redis.Pipeliner) {
		p.LRem(ctx, qkey(queue, "active"), 0, id)
		p.ZRem(ctx, qkey(queue, "lease"), id)
		p.ZAdd(ctx, qkey(queue, "completed"), redis.Z{Score: float64(f.now.Add(retention).Unix()), Member: id})
		p.HSet(ctx, qkey(queue, "t:"+id), "msg", f.msg(id), "state", "completed")
		f.count(p, queue, false)
	})
}

// retry is a failed task with retries left (retryCmd); isFailure false is
// an error for which IsFailure says no: nothing is counted.
func (f *fixture) retry(queue, id, errMsg string, at time.Time, isFailure bool) {
	ctx := context.Background()
	m := f.tasks[id]
	if isFailure {
		retried, _ := m["retried"].(int32)
		m["retried"] = retried + 1
	}
	m["error_msg"], m["last_failed_at"] = errMsg, f.now.Unix()
	f.tx(func(p redis.Pipeliner) {
		p.LRem(ctx, qkey(queue, "active"), 0, id)
		p.ZRem(ctx, qkey(queue, "lease"), id)
		p.ZAdd(ctx, qkey(queue, "retry"), redis.Z{Score: float64(at.Unix()), Member: id})
		p.HSet(ctx, qkey(queue, "t:"+id), "msg", f.msg(id), "state", "retry")
		if isFailure {
			f.count(p, queue, true)
		}
	})
}

// archive is a task out of retries (archiveCmd; the 90-day and 10,000-task
// trimming is not reproduced: no test reaches it).
func (f *fixture) archive(queue, id, errMsg string) {
	ctx := context.Background()
	m := f.tasks[id]
	m["error_msg"], m["last_failed_at"] = errMsg, f.now.Unix()
	f.tx(func(p redis.Pipeliner) {
		p.LRem(ctx, qkey(queue, "active"), 0, id)
		p.ZRem(ctx, qkey(queue, "lease"), id)
		p.ZAdd(ctx, qkey(queue, "archived"), redis.Z{Score: float64(f.now.Unix()), Member: id})
		p.HSet(ctx, qkey(queue, "t:"+id), "msg", f.msg(id), "state", "archived")
		f.count(p, queue, true)
	})
}

// requeue is a server shutting down with the task unfinished (requeueCmd):
// RPUSH, so the task is next out, with no pending_since.
func (f *fixture) requeue(queue, id string) {
	ctx := context.Background()
	f.tx(func(p redis.Pipeliner) {
		p.LRem(ctx, qkey(queue, "active"), 0, id)
		p.ZRem(ctx, qkey(queue, "lease"), id)
		p.RPush(ctx, qkey(queue, "pending"), id)
		p.HSet(ctx, qkey(queue, "t:"+id), "state", "pending")
	})
}

// pause is Inspector.PauseQueue (rdb.Pause: SETNX paused <unix s>).
func (f *fixture) pause(queue string) {
	require.NoError(f.tb, f.c.SetNX(context.Background(), qkey(queue, "paused"), f.now.Unix(), 0).Err())
}

// fakeServer is one asynq Server as its heartbeater describes it.
type fakeServer struct {
	host        string
	pid         int32
	id          string
	concurrency int32
	queues      map[string]int32
	status      string
	started     time.Time
	workers     []fakeWorker
}

type fakeWorker struct {
	taskID, taskType, queue string
	started                 time.Time
}

func (s *fakeServer) key(prefix string) string {
	return prefix + "{" + s.host + ":" + strconv.Itoa(int(s.pid)) + ":" + s.id + "}"
}

// beat is the heartbeater's write (rdb.WriteServerState): both registries
// scored with the expiry, the ServerInfo with a TTL, the workers hash
// rewritten (task id -> WorkerInfo) with the same TTL.
func (f *fixture) beat(s *fakeServer) {
	ctx := context.Background()
	info := marshal(f.tb, pb.server, map[string]any{
		"host": s.host, "pid": s.pid, "server_id": s.id, "concurrency": s.concurrency,
		"queues": s.queues, "strict_priority": false, "status": s.status, "start_time": s.started,
		"active_worker_count": int32(len(s.workers)),
	})
	exp := float64(f.now.Add(heartbeatTTL).Unix())
	skey, wkey := s.key("asynq:servers:"), s.key("asynq:workers:")
	require.NoError(f.tb, f.c.ZAdd(ctx, "asynq:servers", redis.Z{Score: exp, Member: skey}).Err())
	require.NoError(f.tb, f.c.ZAdd(ctx, "asynq:workers", redis.Z{Score: exp, Member: wkey}).Err())
	f.tx(func(p redis.Pipeliner) {
		p.SetEx(ctx, skey, info, f.serverTTL)
		p.Del(ctx, wkey)
		for _, w := range s.workers {
			p.HSet(ctx, wkey, w.taskID, marshal(f.tb, pb.worker, map[string]any{
				"host": s.host, "pid": s.pid, "server_id": s.id, "task_id": w.taskID, "task_type": w.taskType,
				"task_payload": []byte(`{"n":1}`), "queue": w.queue, "start_time": w.started,
				"deadline": w.started.Add(30 * time.Minute),
			}))
		}
		p.Expire(ctx, wkey, f.serverTTL)
	})
}

// populate writes a large dataset in a few pipelines: queues q0000.. with
// tasksPerQueue pending tasks each (plus a scheduled, a retry and an archived
// one and counters), and servers with busyPerServer running tasks each.
func (f *fixture) populate(queues, tasksPerQueue, servers, busyPerServer int) []string {
	ctx := context.Background()
	names := make([]string, queues)
	pipe := f.c.Pipeline()
	flush := func() {
		_, err := pipe.Exec(ctx)
		require.NoError(f.tb, err)
	}
	for q := range queues {
		name := "q" + strconv.Itoa(10000 + q)[1:]
		names[q] = name
		pipe.SAdd(ctx, "asynq:queues", name)
		for j := range tasksPerQueue {
			id := f.newTask(name, "email:send", []byte(`{"to":"a@b.c"}`))
			pipe.HSet(ctx, qkey(name, "t:"+id), "msg", f.msg(id), "state", "pending",
				"pending_since", f.ago(time.Duration(tasksPerQueue-j)*time.Second).UnixNano())
			pipe.LPush(ctx, qkey(name, "pending"), id)
		}
		for _, set := range []string{"scheduled", "retry", "archived"} {
			id := f.newTask(name, "email:send", nil)
			pipe.HSet(ctx, qkey(name, "t:"+id), "msg", f.msg(id), "state", set)
			pipe.ZAdd(ctx, qkey(name, set), redis.Z{Score: float64(f.now.Unix()), Member: id})
		}
		pipe.Set(ctx, qkey(name, "processed"), 1000+q, 0)
		pipe.Set(ctx, qkey(name, "failed"), q, 0)
		if q%50 == 49 {
			flush()
		}
	}
	flush()
	for s := range servers {
		srv := &fakeServer{
			host: "worker-" + strconv.Itoa(s), pid: int32(1000 + s), id: fmt.Sprintf("%08d-0000-4000-8000-000000000000", s),
			concurrency: int32(busyPerServer + 5), queues: map[string]int32{names[s%queues]: 1},
			status: "active", started: f.ago(time.Hour),
		}
		for b := range busyPerServer {
			srv.workers = append(srv.workers, fakeWorker{
				taskID: fmt.Sprintf("run-%d-%d", s, b), taskType: "email:send",
				queue: names[(s+b)%queues], started: f.ago(time.Duration(b+1) * time.Minute),
			})
		}
		f.beat(srv)
	}
	return names
}
