// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

const (
	// asynqHeartbeat is asynq's fixed heartbeat interval; server state is
	// written with twice that as TTL and as the registry score's offset.
	asynqHeartbeat = 5 * time.Second
	// asynqLease is rdb.LeaseDuration: a dequeued task's lease, extended
	// by each heartbeat.
	asynqLease = 30 * time.Second
	// asynqRecoverInterval is how often a server's recoverer retries the
	// tasks whose lease expired more than asynqLease ago.
	asynqRecoverInterval = time.Minute
	// asynqStatsTTL is how long the per-day counters live.
	asynqStatsTTL = 90 * 24 * time.Hour
	// asynqDefaultTimeout is the task timeout Client.Enqueue sets when
	// neither a timeout nor a deadline is given (30 minutes, in seconds).
	asynqDefaultTimeout = 1800
)

// Asynq plays a Scenario as an asynq 0.26 deployment against one Redis
// database, writing the keys asynq writes (internal/base's key layout and
// protobuf messages, internal/rdb's scripts, each run here as one MULTI):
// Client.Enqueue (SADD asynq:queues, the task hash with pending_since,
// LPUSH pending) or with ProcessIn (ZADD scheduled); a server's processor
// dequeuing (RPOPLPUSH pending active, state active, HDEL pending_since,
// a 30 s lease), succeeding (done: the task deleted, processed counters),
// failing (retry with asynq's default back-off, or archive once out of
// retries, both counted in processed and failed, all-time and per UTC day);
// the forwarder moving due scheduled and retry tasks back to pending; the
// heartbeater (asynq:servers and asynq:workers scored with the expiry,
// ServerInfo and the WorkerInfo hash with a 10 s TTL, lease extension); the
// recoverer retrying tasks whose lease expired; and Server.Shutdown
// (unfinished tasks RPUSHed back without pending_since, the server's
// entries removed).
//
// Scenario notions map as follows: a Process is an asynq Server (host,
// pid, a UUID) with Concurrency workers and strict priority over its
// Queues in order; a class is a task type; Retry is the MaxRetry option
// (RetryDefault: asynq's 25; RetryNever: 0, archived on the first
// failure); quieting is Server.Stop (status "stopped": no new tasks); a
// crash stops the heartbeats, so the server's entries expire and its tasks'
// leases run out until another server's recoverer retries them. Heartbeat
// and PollInterval are asynq's (5 s each); CleanupInterval is unused: asynq
// prunes expired registry entries only when its Inspector lists servers.
//
// Report: Retried counts failures moved to retry, Died those archived;
// StatProcessed and StatFailed what the all-time processed and failed
// counters gained (asynq counts at once).
//
// It is not safe for concurrent use.
type Asynq struct {
	rdb     *redis.Client
	sc      Scenario
	rng     *rand.Rand
	classes map[string]*Class
	servers []*asynqServer
	tasks   map[string]*asynqTask // by id, while in Redis
	// queues are the queues Client.Enqueue has added to asynq:queues.
	queues map[string]bool

	start, last  time.Time
	nextForward  time.Time
	nextRecovery time.Time
}

// asynqServer is what one asynq Server keeps in memory.
type asynqServer struct {
	spec     *Process
	pid      int
	id       string
	started  time.Time
	workers  []*asynqTask // running tasks
	nextBeat time.Time
	stopped  bool // Server.Stop: takes no new tasks
	waiting  bool // not started yet
	gone     bool // crashed or shut down
}

func (s *asynqServer) suffix() string {
	return "{" + s.spec.Hostname + ":" + strconv.Itoa(s.pid) + ":" + s.id + "}"
}

// asynqTask is a task message (base.TaskMessage) and, while a worker runs
// it, its execution.
type asynqTask struct {
	id, queue    string
	class        *Class
	payload      []byte
	retry        int
	retried      int
	errorMsg     string
	lastFailedAt int64
	// running: when the worker started it and when it finishes (zero:
	// never).
	startedAt, finishAt time.Time
}

// NewAsynq prepares a simulator that writes to rdb. Nothing is written
// before the first Step.
func NewAsynq(rdb *redis.Client, sc Scenario, seed uint64) (*Asynq, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	a := &Asynq{
		rdb:     rdb,
		sc:      sc,
		rng:     rand.New(rand.NewPCG(seed, seed^0xa5e9)),
		classes: make(map[string]*Class, len(sc.Classes)),
		tasks:   map[string]*asynqTask{},
		queues:  map[string]bool{},
	}
	for i := range a.sc.Classes {
		a.classes[a.sc.Classes[i].Name] = &a.sc.Classes[i]
	}
	return a, nil
}

func asynqKey(queue, suffix string) string { return "asynq:{" + queue + "}:" + suffix }

// uuid is a random version 4 UUID, as asynq's task and server ids.
func (a *Asynq) uuid() string {
	h := randomHex(a.rng, 16)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

// Step advances the simulation to now: servers start, stop or crash,
// running tasks finish, clients enqueue, idle workers dequeue, the
// forwarder and the recoverer run when due, servers heartbeat when due.
// The first Step also seeds the backlogs, the servers and the long tasks.
func (a *Asynq) Step(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	if a.start.IsZero() {
		if err := a.begin(ctx, now, &rep); err != nil {
			return rep, err
		}
	}
	dt := min(max(now.Sub(a.last), 0), maxStep)
	a.last = now
	a.lifecycle(now)
	for _, step := range []struct {
		name string
		run  func() error
	}{
		{"finish tasks", func() error { return a.finish(ctx, now, &rep) }},
		{"enqueue", func() error { return a.enqueue(ctx, now, dt, &rep) }},
		{"forward", func() error { return a.forward(ctx, now, &rep) }},
		{"recover", func() error { return a.recover(ctx, now, &rep) }},
		{"dequeue", func() error { return a.dequeue(ctx, now, &rep) }},
		{"heartbeat", func() error { return a.heartbeat(ctx, now) }},
	} {
		if err := step.run(); err != nil {
			return rep, fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return rep, nil
}

// Stop shuts the live servers down as Server.Shutdown does: unfinished
// tasks go back to the head of their queue (requeue), the servers' entries
// are removed (ClearServerState).
func (a *Asynq) Stop(ctx context.Context, _ time.Time) (Report, error) {
	var rep Report
	for _, s := range a.servers {
		if s.gone || s.waiting {
			continue
		}
		s.gone = true
		if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, t := range s.workers {
				p.LRem(ctx, asynqKey(t.queue, "active"), 0, t.id)
				p.ZRem(ctx, asynqKey(t.queue, "lease"), t.id)
				p.RPush(ctx, asynqKey(t.queue, "pending"), t.id)
				p.HSet(ctx, asynqKey(t.queue, "t:"+t.id), "state", "pending")
				rep.Requeued++
			}
			s.workers = nil
			p.ZRem(ctx, "asynq:servers", "asynq:servers:"+s.suffix())
			p.ZRem(ctx, "asynq:workers", "asynq:workers:"+s.suffix())
			p.Del(ctx, "asynq:servers:"+s.suffix(), "asynq:workers:"+s.suffix())
			return nil
		}); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// begin seeds the backlogs (pending since evenly over their age) and the
// servers, with their long tasks running.
func (a *Asynq) begin(ctx context.Context, now time.Time, rep *Report) error {
	a.start, a.last = now, now
	a.nextForward, a.nextRecovery = now.Add(a.sc.PollInterval), now.Add(asynqRecoverInterval)
	for _, bl := range a.sc.Backlogs {
		c := a.classes[bl.Class]
		for i := range bl.Jobs {
			since := now.Add(-bl.Oldest + time.Duration(i)*bl.Oldest/time.Duration(bl.Jobs))
			if err := a.enqueueOne(ctx, c, since); err != nil {
				return err
			}
		}
		rep.Enqueued += bl.Jobs
	}
	pid := 4000
	for i := range a.sc.Processes {
		spec := &a.sc.Processes[i]
		pid++
		s := &asynqServer{spec: spec, pid: pid, id: a.uuid(), started: now, waiting: spec.StartAfter > 0}
		a.servers = append(a.servers, s)
		if s.waiting {
			continue
		}
		if lj := spec.LongJob; lj != nil {
			c := a.classes[lj.Class]
			t := a.newTask(c)
			a.tasks[t.id] = t
			t.startedAt = now.Add(-lj.RunningFor)
			if lj.FinishAfter > 0 {
				t.finishAt = now.Add(lj.FinishAfter)
			}
			if err := a.publish(ctx, c.Queue); err != nil {
				return err
			}
			if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, asynqKey(t.queue, "t:"+t.id), "msg", t.encode(), "state", "active")
				p.LPush(ctx, asynqKey(t.queue, "active"), t.id)
				p.ZAdd(ctx, asynqKey(t.queue, "lease"), redis.Z{Score: float64(now.Add(asynqLease).Unix()), Member: t.id})
				return nil
			}); err != nil {
				return err
			}
			s.workers = append(s.workers, t)
			rep.Enqueued++
			rep.Fetched++
		}
	}
	return nil
}

// lifecycle starts, stops and crashes servers whose time has come.
func (a *Asynq) lifecycle(now time.Time) {
	elapsed := now.Sub(a.start)
	for _, s := range a.servers {
		if s.waiting && elapsed >= s.spec.StartAfter {
			s.waiting, s.started = false, now
		}
		if s.gone || s.waiting {
			continue
		}
		if s.spec.CrashAfter > 0 && elapsed >= s.spec.CrashAfter {
			s.gone = true // its entries expire, its tasks' leases run out
			continue
		}
		if s.spec.QuietAfter > 0 && elapsed >= s.spec.QuietAfter {
			s.stopped = true
		}
	}
}

func (a *Asynq) newTask(c *Class) *asynqTask {
	t := &asynqTask{
		id: a.uuid(), queue: c.Queue, class: c,
		payload: []byte(`{"account":"acct_` + randomHex(a.rng, 4) + `","n":` + strconv.Itoa(a.rng.IntN(1_000_000)) + `}`),
		retry:   25,
	}
	switch c.Retry {
	case RetryNever:
		t.retry = 0
	case RetryDefault:
	default:
		t.retry = int(c.Retry)
	}
	return t
}

// publish adds a queue to asynq:queues once, as each Client caches it.
func (a *Asynq) publish(ctx context.Context, queue string) error {
	if a.queues[queue] {
		return nil
	}
	if err := a.rdb.SAdd(ctx, "asynq:queues", queue).Err(); err != nil {
		return err
	}
	a.queues[queue] = true
	return nil
}

// enqueueOne is Client.Enqueue of one task of class c (rdb.Enqueue).
func (a *Asynq) enqueueOne(ctx context.Context, c *Class, now time.Time) error {
	t := a.newTask(c)
	if err := a.publish(ctx, t.queue); err != nil {
		return err
	}
	a.tasks[t.id] = t
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, asynqKey(t.queue, "t:"+t.id), "msg", t.encode(), "state", "pending", "pending_since", now.UnixNano())
		p.LPush(ctx, asynqKey(t.queue, "pending"), t.id)
		return nil
	})
	return err
}

// enqueue plays the clients over the last dt: tasks go to pending, or
// with ProcessIn to scheduled (rdb.Schedule).
func (a *Asynq) enqueue(ctx context.Context, now time.Time, dt time.Duration, rep *Report) error {
	elapsed := now.Sub(a.start).Seconds()
	for i := range a.sc.Classes {
		c := &a.sc.Classes[i]
		for range poisson(a.rng, c.rateAt(elapsed)*dt.Seconds()) {
			if c.ScheduledShare == 0 || a.rng.Float64() >= c.ScheduledShare {
				if err := a.enqueueOne(ctx, c, now); err != nil {
					return err
				}
				rep.Enqueued++
				continue
			}
			t := a.newTask(c)
			if err := a.publish(ctx, t.queue); err != nil {
				return err
			}
			a.tasks[t.id] = t
			at := now.Add(c.ScheduleMin + time.Duration(a.rng.Int64N(int64(c.ScheduleMax-c.ScheduleMin)+1)))
			if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, asynqKey(t.queue, "t:"+t.id), "msg", t.encode(), "state", "scheduled")
				p.ZAdd(ctx, asynqKey(t.queue, "scheduled"), redis.Z{Score: float64(at.Unix()), Member: t.id})
				return nil
			}); err != nil {
				return err
			}
			rep.Scheduled++
		}
	}
	return nil
}

// dequeue has every idle worker of every live, active server take the
// oldest pending task of its queues, in priority order (dequeueCmd).
func (a *Asynq) dequeue(ctx context.Context, now time.Time, rep *Report) error {
	empty := map[string]bool{}
	for _, s := range a.servers {
		if s.gone || s.waiting || s.stopped {
			continue
		}
		for len(s.workers) < s.spec.Concurrency {
			t, err := a.dequeueOne(ctx, s, now, empty)
			if err != nil {
				return err
			}
			if t == nil {
				break
			}
			s.workers = append(s.workers, t)
			rep.Fetched++
		}
	}
	return nil
}

func (a *Asynq) dequeueOne(ctx context.Context, s *asynqServer, now time.Time, empty map[string]bool) (*asynqTask, error) {
	for _, q := range s.spec.Queues {
		if empty[q] {
			continue
		}
		id, err := a.rdb.LIndex(ctx, asynqKey(q, "pending"), -1).Result()
		if errors.Is(err, redis.Nil) {
			empty[q] = true
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPopLPush(ctx, asynqKey(q, "pending"), asynqKey(q, "active"))
			p.HSet(ctx, asynqKey(q, "t:"+id), "state", "active")
			p.HDel(ctx, asynqKey(q, "t:"+id), "pending_since")
			p.ZAdd(ctx, asynqKey(q, "lease"), redis.Z{Score: float64(now.Add(asynqLease).Unix()), Member: id})
			return nil
		}); err != nil {
			return nil, err
		}
		t := a.tasks[id]
		if t == nil { // a task this simulator did not write
			t = &asynqTask{id: id, queue: q}
			a.tasks[id] = t
		}
		t.startedAt, t.finishAt = now, now.Add(runTime(a.rng, t.class))
		return t, nil
	}
	return nil, nil
}

// finish ends the executions due by now on live servers: success (done),
// or failure (retry or archive).
func (a *Asynq) finish(ctx context.Context, now time.Time, rep *Report) error {
	for _, s := range a.servers {
		if s.gone || s.waiting {
			continue
		}
		running := s.workers[:0]
		for _, t := range s.workers {
			if t.finishAt.IsZero() || t.finishAt.After(now) {
				running = append(running, t)
				continue
			}
			var err error
			if t.class != nil && a.rng.Float64() < t.class.FailRate {
				e := t.class.Errors[a.rng.IntN(len(t.class.Errors))]
				err = a.fail(ctx, t, e.Class+": "+e.Message, now, rep)
			} else {
				err = a.done(ctx, t, now)
				rep.Succeeded++
			}
			if err != nil {
				return err
			}
			rep.StatProcessed++
		}
		s.workers = running
	}
	return nil
}

// asynqCount adds one execution to the processed (and failed) counters, per
// UTC day (expiring 90 days on, set with the day's first increment) and
// all-time.
func asynqCount(ctx context.Context, p redis.Pipeliner, queue string, failed bool, now time.Time) {
	day := now.UTC().Format("2006-01-02")
	names := []string{"processed"}
	if failed {
		names = append(names, "failed")
	}
	for _, n := range names {
		p.Incr(ctx, asynqKey(queue, n+":"+day))
		p.ExpireAt(ctx, asynqKey(queue, n+":"+day), now.Add(asynqStatsTTL))
		p.Incr(ctx, asynqKey(queue, n))
	}
}

// done is doneCmd: the task leaves active and its lease, and is deleted.
func (a *Asynq) done(ctx context.Context, t *asynqTask, now time.Time) error {
	delete(a.tasks, t.id)
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LRem(ctx, asynqKey(t.queue, "active"), 0, t.id)
		p.ZRem(ctx, asynqKey(t.queue, "lease"), t.id)
		p.Del(ctx, asynqKey(t.queue, "t:"+t.id))
		asynqCount(ctx, p, t.queue, false, now)
		return nil
	})
	return err
}

// fail is handleFailedMessage: archive once out of retries (archiveCmd),
// else retry after asynq's default back-off (retryCmd), counted as a
// failure either way.
func (a *Asynq) fail(ctx context.Context, t *asynqTask, errMsg string, now time.Time, rep *Report) error {
	rep.Failed++
	rep.StatFailed++
	t.errorMsg, t.lastFailedAt, t.startedAt, t.finishAt = errMsg, now.Unix(), time.Time{}, time.Time{}
	archive := t.retried >= t.retry
	var retryAt time.Time
	if archive {
		rep.Died++
	} else {
		// DefaultRetryDelayFunc: n^4 + 15 + rand(30)*(n+1) seconds.
		n := t.retried
		retryAt = now.Add(time.Duration(int(math.Pow(float64(n), 4))+15+a.rng.IntN(30)*(n+1)) * time.Second)
		t.retried++
		rep.Retried++
	}
	_, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LRem(ctx, asynqKey(t.queue, "active"), 0, t.id)
		p.ZRem(ctx, asynqKey(t.queue, "lease"), t.id)
		if archive {
			p.ZAdd(ctx, asynqKey(t.queue, "archived"), redis.Z{Score: float64(now.Unix()), Member: t.id})
			p.HSet(ctx, asynqKey(t.queue, "t:"+t.id), "msg", t.encode(), "state", "archived")
		} else {
			p.ZAdd(ctx, asynqKey(t.queue, "retry"), redis.Z{Score: float64(retryAt.Unix()), Member: t.id})
			p.HSet(ctx, asynqKey(t.queue, "t:"+t.id), "msg", t.encode(), "state", "retry")
		}
		asynqCount(ctx, p, t.queue, true, now)
		return nil
	})
	return err
}

// forward is the forwarder (forwardCmd), every PollInterval: due
// scheduled and retry tasks go back to pending with a new pending_since.
func (a *Asynq) forward(ctx context.Context, now time.Time, rep *Report) error {
	if now.Before(a.nextForward) {
		return nil
	}
	a.nextForward = now.Add(a.sc.PollInterval)
	for _, q := range a.knownQueues() {
		for _, set := range []string{"scheduled", "retry"} {
			ids, err := a.rdb.ZRangeByScore(ctx, asynqKey(q, set), &redis.ZRangeBy{
				Min: "-inf", Max: strconv.FormatInt(now.Unix(), 10),
			}).Result()
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				continue
			}
			if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for _, id := range ids {
					p.LPush(ctx, asynqKey(q, "pending"), id)
					p.ZRem(ctx, asynqKey(q, set), id)
					p.HSet(ctx, asynqKey(q, "t:"+id), "state", "pending", "pending_since", now.UnixNano())
				}
				return nil
			}); err != nil {
				return err
			}
			rep.Requeued += len(ids)
		}
	}
	return nil
}

// recover is the recoverer, every minute: tasks whose lease expired more
// than 30 s ago (their server crashed) are retried or archived with
// ErrLeaseExpired, a failure.
func (a *Asynq) recover(ctx context.Context, now time.Time, rep *Report) error {
	if now.Before(a.nextRecovery) {
		return nil
	}
	a.nextRecovery = now.Add(asynqRecoverInterval)
	cutoff := strconv.FormatInt(now.Add(-asynqLease).Unix(), 10)
	for _, q := range a.knownQueues() {
		ids, err := a.rdb.ZRangeByScore(ctx, asynqKey(q, "lease"), &redis.ZRangeBy{Min: "-inf", Max: cutoff}).Result()
		if err != nil {
			return err
		}
		for _, id := range ids {
			t := a.tasks[id]
			if t == nil {
				continue
			}
			for _, s := range a.servers {
				s.workers = slices.DeleteFunc(s.workers, func(w *asynqTask) bool { return w == t })
			}
			if err := a.fail(ctx, t, "asynq: task lease expired", now, rep); err != nil {
				return err
			}
			rep.StatProcessed++
		}
	}
	return nil
}

// knownQueues are the queues in asynq:queues, in a stable order.
func (a *Asynq) knownQueues() []string {
	qs := make([]string, 0, len(a.queues))
	for q := range a.queues {
		qs = append(qs, q)
	}
	slices.Sort(qs)
	return qs
}

// heartbeat writes the state of every live server whose beat is due
// (WriteServerState) and extends its tasks' leases (ExtendLease).
func (a *Asynq) heartbeat(ctx context.Context, now time.Time) error {
	for _, s := range a.servers {
		if s.gone || s.waiting || now.Before(s.nextBeat) {
			continue
		}
		s.nextBeat = now.Add(a.sc.Heartbeat)
		status := "active"
		if s.stopped {
			status = "stopped"
		}
		exp := float64(now.Add(2 * asynqHeartbeat).Unix())
		skey, wkey := "asynq:servers:"+s.suffix(), "asynq:workers:"+s.suffix()
		if _, err := a.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, "asynq:servers", redis.Z{Score: exp, Member: skey})
			p.ZAdd(ctx, "asynq:workers", redis.Z{Score: exp, Member: wkey})
			p.SetEx(ctx, skey, a.serverInfo(s, status), 2*asynqHeartbeat)
			p.Del(ctx, wkey)
			for _, t := range s.workers {
				p.HSet(ctx, wkey, t.id, a.workerInfo(s, t))
			}
			p.Expire(ctx, wkey, 2*asynqHeartbeat)
			for _, t := range s.workers {
				p.ZAddXX(ctx, asynqKey(t.queue, "lease"), redis.Z{Score: float64(now.Add(asynqLease).Unix()), Member: t.id})
			}
			return nil
		}); err != nil {
			return err
		}
	}
	return nil
}

// The messages below are encoded field by field in field-number order, as
// proto.Marshal encodes asynq's generated types (internal/proto/asynq.proto);
// proto3 leaves zero values out.

// encode is the TaskMessage (base.EncodeMessage).
func (t *asynqTask) encode() string {
	var b []byte
	typ := ""
	if t.class != nil {
		typ = t.class.Name
	}
	b = appendString(b, 1, typ)
	b = appendBytes(b, 2, t.payload)
	b = appendString(b, 3, t.id)
	b = appendString(b, 4, t.queue)
	b = appendInt(b, 5, int64(t.retry))
	b = appendInt(b, 6, int64(t.retried))
	b = appendString(b, 7, t.errorMsg)
	b = appendInt(b, 8, asynqDefaultTimeout)
	b = appendInt(b, 11, t.lastFailedAt)
	return string(b)
}

// serverInfo is the ServerInfo (base.EncodeServerInfo); queue priorities
// fall with the order of the process's queues.
func (a *Asynq) serverInfo(s *asynqServer, status string) string {
	var b []byte
	b = appendString(b, 1, s.spec.Hostname)
	b = appendInt(b, 2, int64(s.pid))
	b = appendString(b, 3, s.id)
	b = appendInt(b, 4, int64(s.spec.Concurrency))
	for i, q := range s.spec.Queues {
		var entry []byte
		entry = appendString(entry, 1, q)
		entry = appendInt(entry, 2, int64(len(s.spec.Queues)-i))
		b = appendBytes(b, 5, entry)
	}
	b = appendInt(b, 6, 1) // strict_priority
	b = appendString(b, 7, status)
	b = appendBytes(b, 8, timestamp(s.started))
	b = appendInt(b, 9, int64(len(s.workers)))
	return string(b)
}

// workerInfo is the WorkerInfo (base.EncodeWorkerInfo) of a running task.
func (a *Asynq) workerInfo(s *asynqServer, t *asynqTask) string {
	var b []byte
	typ := ""
	if t.class != nil {
		typ = t.class.Name
	}
	b = appendString(b, 1, s.spec.Hostname)
	b = appendInt(b, 2, int64(s.pid))
	b = appendString(b, 3, s.id)
	b = appendString(b, 4, t.id)
	b = appendString(b, 5, typ)
	b = appendBytes(b, 6, t.payload)
	b = appendString(b, 7, t.queue)
	b = appendBytes(b, 8, timestamp(t.startedAt))
	b = appendBytes(b, 9, timestamp(t.startedAt.Add(asynqDefaultTimeout*time.Second)))
	return string(b)
}

// timestamp is a google.protobuf.Timestamp.
func timestamp(t time.Time) []byte {
	b := appendInt(nil, 1, t.Unix())
	return appendInt(b, 2, int64(t.Nanosecond()))
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendInt(b []byte, num protowire.Number, v int64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}
