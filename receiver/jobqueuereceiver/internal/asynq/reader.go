// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package asynq reads an asynq installation's state from its Redis: queues,
// tasks per state, per-queue totals, servers and the tasks their workers are
// running. It understands what asynq 0.22 to 0.26 write (the key layout and
// protobuf messages of internal/base and internal/rdb, unchanged across
// those releases), and never writes itself.
//
// Every figure is the one asynq's Inspector reports on the same Redis:
// GetQueueInfo's Pending (queue size), Active, Scheduled, Retry, Archived,
// Completed and Aggregating counts, Paused, Latency (age of the pending
// list's tail task, from its `pending_since` hash field), ProcessedTotal and
// FailedTotal (the all-time `processed` and `failed` counters, not the
// per-day ones), and Servers' concurrency and active workers. Unlike the
// Inspector, it sends no Lua (GetQueueInfo's scripts run EVALSHA and MEMORY)
// and removes nothing: Servers() deletes expired server entries, the reader
// counts them in ProcessesStale. Queue memory usage is not read.
//
// A snapshot costs three pipelined round trips whatever the number of
// queues and servers: the registries; every selected queue and every live
// server; the hash of each non-empty queue's pending tail task, read before
// the oldest ids again (so the tail is known to have stayed in place), and
// the size of each aggregation group. Only when workers dequeued a tail in
// between does a fourth read the hashes of the new oldest tasks. These are
// the only commands sent, all read-only:
//
//	SCARD, SRANDMEMBER     asynq:queues; SRANDMEMBER asynq:{<q>}:groups (bounded reads)
//	ZCARD, ZCOUNT,         asynq:servers (live entries: score >= now)
//	ZRANGEBYSCORE
//	LLEN, LINDEX, LRANGE   asynq:{<q>}:pending, asynq:{<q>}:active
//	ZCARD                  asynq:{<q>}:scheduled|retry|archived|completed, asynq:{<q>}:g:<group>
//	GET, EXISTS            asynq:{<q>}:processed|failed, asynq:{<q>}:paused
//	HMGET                  asynq:{<q>}:t:<id> (state, pending_since)
//	GET, HVALS             asynq:servers:{…}, asynq:workers:{…}
//
// Latency is measured against the reader's clock and never negative (the
// Inspector reports a negative one for a task enqueued by a clock ahead of
// it); a pending_since that is not decimal unix nanoseconds reads 0 (as
// the Inspector reads most such values) and is reported. A server's heartbeat age comes from its
// asynq:servers score (the expiry, heartbeat + 10 s, in whole seconds), so
// it may read up to a second high.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one of
// wrong_type, invalid_number, invalid_timestamp, missing_timestamp,
// missing_task, invalid_protobuf, invalid_value, registry_truncated,
// name_too_long, invalid_utf8, too_many_problems. Expired server entries
// (asynq prunes them lazily) and servers whose key expired between two
// reads are counted in ProcessesStale, not reported as problems.
//
// Every name reported (queues, server identities, hostnames, the queues a
// server works on) goes through snapshot.Name, each change counted as a
// name_too_long or invalid_utf8 problem; Redis is still read under the
// names as they are.
package asynq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/asynq"

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options struct {
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the age beyond which a running task counts as
	// stalled; 0 counts none.
	StalledAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// asynq's task states beyond those snapshot names (jobqueue.job.state).
const (
	StateArchived    = "archived"
	StateAggregating = "aggregating"
)

const (
	system = "asynq"

	keyQueues  = "asynq:queues"
	keyServers = "asynq:servers"
	// A server's info key is its asynq:servers member; its workers hash
	// has the same {host:pid:id} suffix.
	serverKeyPrefix  = "asynq:servers:"
	workersKeyPrefix = "asynq:workers:"

	// heartbeatTTL is how far ahead of a heartbeat a server's entry
	// expires: asynq writes its state every 5 s with a TTL of twice that,
	// and scores the asynq:servers entry with the expiry (unix seconds).
	heartbeatTTL = 10 * time.Second

	// Registries and group sets are read whole up to these sizes; beyond,
	// a random subset (queues, groups) or the first entries (servers) are
	// read and registry_truncated says so.
	maxQueueNames = 100_000
	maxServers    = 10_000
	maxGroups     = 1_000
)

// Problem kinds (snapshot.Problem.Kind) of this reader.
const (
	kindWrongType         = redisread.KindWrongType
	kindRegistryTruncated = redisread.KindRegistryTruncated
	kindInvalidTimestamp  = "invalid_timestamp"
	kindMissingTimestamp  = "missing_timestamp"
	kindMissingTask       = "missing_task"
	kindInvalidProtobuf   = "invalid_protobuf"
	kindInvalidValue      = "invalid_value"
)

// Reader takes snapshots of one asynq Redis.
type Reader struct {
	client redis.Cmdable
	opts   Options
	// from names the server in errors (" from host:port").
	from string
}

var _ snapshot.Reader = (*Reader)(nil)

// NewReader returns a reader that sends its commands through client.
func NewReader(client redis.Cmdable, opts Options) *Reader {
	return &Reader{client: client, opts: opts, from: redisread.From(client)}
}

// Snapshot reads asynq's state. It fails only when Redis cannot be read
// (unreachable, timeout, a refused command); bad data is skipped and listed
// in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now)}
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, DeadState: StateArchived}
	queues, servers, err := sc.readRegistries(ctx)
	if err != nil {
		return nil, err
	}
	qs, ss, err := sc.readQueuesAndServers(ctx, queues, servers)
	if err != nil {
		return nil, err
	}
	if err := sc.readTails(ctx, qs); err != nil {
		return nil, err
	}
	sc.report(qs, ss)
	sc.snap.Problems = sc.problems.List()
	return sc.snap, nil
}

// scrape is the state of one Snapshot call.
type scrape struct {
	r        *Reader
	now      time.Time
	snap     *snapshot.Snapshot
	problems redisread.Problems
}

// server is a live asynq:servers entry.
type server struct {
	member string // asynq:servers:{host:pid:id}, the info key
	expiry time.Time
}

// readRegistries runs round trip 1: the queue registry and the live
// entries of the server registry (score >= now, as the Inspector takes
// them), and how many are stale.
func (sc *scrape) readRegistries(ctx context.Context) ([]string, []server, error) {
	nowSec := strconv.FormatInt(sc.now.Unix(), 10)
	pipe := sc.r.client.Pipeline()
	queueCount := pipe.SCard(ctx, keyQueues)
	queues := pipe.SRandMemberN(ctx, keyQueues, maxQueueNames)
	serverCount := pipe.ZCard(ctx, keyServers)
	stale := pipe.ZCount(ctx, keyServers, "-inf", "("+nowSec)
	live := pipe.ZRangeByScoreWithScores(ctx, keyServers, &redis.ZRangeBy{Min: nowSec, Max: "+inf", Count: maxServers})
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read registries", sc.r.from, cmds, err); err != nil {
		return nil, nil, err
	}

	sc.snap.QueuesDiscovered = int(queueCount.Val())
	names := sc.problems.Members(queues, queueCount, keyQueues)
	if sc.problems.WrongType(live, keyServers) {
		return names, nil, nil
	}
	sc.snap.ProcessesStale = int(stale.Val())
	if n := serverCount.Val() - stale.Val(); n > int64(len(live.Val())) {
		sc.problems.Add(kindRegistryTruncated, keyServers,
			"read "+strconv.Itoa(len(live.Val()))+" of "+strconv.FormatInt(n, 10)+" live entries")
	}
	servers := make([]server, 0, len(live.Val()))
	for _, z := range live.Val() {
		member, _ := z.Member.(string)
		if !strings.HasPrefix(member, serverKeyPrefix) {
			sc.problems.Add(kindInvalidValue, keyServers, "an entry is not an asynq:servers:{…} key")
			continue
		}
		servers = append(servers, server{member: member, expiry: time.Unix(int64(z.Score), 0)})
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].member < servers[j].member })
	return names, servers, nil
}

// queueKeys are one queue's keys, all slices of one string.
type queueKeys struct {
	prefix                                                 string // asynq:{<q>}:
	pending, active, scheduled, retry, archived, completed string
	processed, failed, paused, groups                      string
}

var queueSuffixes = [...]string{
	"pending", "active", "scheduled", "retry", "archived", "completed",
	"processed", "failed", "paused", "groups",
}

func newQueueKeys(name string) queueKeys {
	prefix := "asynq:{" + name + "}:"
	n := 0
	for _, s := range queueSuffixes {
		n += len(prefix) + len(s)
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range queueSuffixes {
		b.WriteString(prefix)
		b.WriteString(s)
	}
	all, off := b.String(), 0
	k := queueKeys{prefix: all[:len(prefix)]}
	for i, p := range [...]*string{
		&k.pending, &k.active, &k.scheduled, &k.retry, &k.archived, &k.completed,
		&k.processed, &k.failed, &k.paused, &k.groups,
	} {
		l := len(prefix) + len(queueSuffixes[i])
		*p = all[off : off+l]
		off += l
	}
	return k
}

// queueRead is one selected queue: its commands, then its figures.
type queueRead struct {
	name string // as in the registry
	keys queueKeys

	pending, active, scheduled, retry, archived, completed, paused *redis.IntCmd
	processed, failed, tail                                        *redis.StringCmd
	groups                                                         *redis.StringSliceCmd

	// unlisted is true when the pending key is not a list: the queue is
	// not reported.
	unlisted bool
	// The pending tail task's hash key and hash, the oldest ids read after
	// it, their hashes when the tail moved on (see readTails), and the
	// latency found.
	taskKey    string
	task       *redis.SliceCmd
	oldest     *redis.StringSliceCmd
	candidates []*redis.SliceCmd
	latency    time.Duration

	groupSizes []groupSize
}

type groupSize struct {
	key  string
	size *redis.IntCmd
}

// serverRead is one live server's commands.
type serverRead struct {
	server
	workersKey string
	info       *redis.StringCmd
	workers    *redis.StringSliceCmd
}

// readQueuesAndServers runs round trip 2: the counts, totals, pause flag,
// pending tail and groups of every selected queue, the info and workers of
// every live server.
func (sc *scrape) readQueuesAndServers(ctx context.Context, names []string, servers []server) ([]queueRead, []serverRead, error) {
	kept, dropped := sc.r.opts.Selection.Apply(names)
	sc.snap.QueuesDropped = dropped
	pipe := sc.r.client.Pipeline()
	qs := make([]queueRead, len(kept))
	for i, name := range kept {
		q := &qs[i]
		q.name, q.keys = name, newQueueKeys(name)
		k := &q.keys
		q.pending = pipe.LLen(ctx, k.pending)
		q.active = pipe.LLen(ctx, k.active)
		q.scheduled = pipe.ZCard(ctx, k.scheduled)
		q.retry = pipe.ZCard(ctx, k.retry)
		q.archived = pipe.ZCard(ctx, k.archived)
		q.completed = pipe.ZCard(ctx, k.completed)
		q.processed = pipe.Get(ctx, k.processed)
		q.failed = pipe.Get(ctx, k.failed)
		q.paused = pipe.Exists(ctx, k.paused)
		q.tail = pipe.LIndex(ctx, k.pending, -1)
		// One more than is read tells whether there are more.
		q.groups = pipe.SRandMemberN(ctx, k.groups, maxGroups+1)
	}
	ss := make([]serverRead, len(servers))
	for i, s := range servers {
		r := &ss[i]
		r.server = s
		r.workersKey = workersKeyPrefix + s.member[len(serverKeyPrefix):]
		r.info = pipe.Get(ctx, s.member)
		r.workers = pipe.HVals(ctx, r.workersKey)
	}
	if pipe.Len() == 0 {
		return qs, ss, nil
	}
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read queues and servers", sc.r.from, cmds, err); err != nil {
		return nil, nil, err
	}
	return qs, ss, nil
}

// chaseWidth is how many of the oldest pending tasks are read again with
// the tail's hash, to be candidates when the tail was dequeued meanwhile.
const chaseWidth = 4

// readTails runs round trip 3: the hash (state, pending_since) of each
// queue's pending tail task, followed by the chaseWidth oldest ids again,
// and the size of every aggregation group. A tail still in place after its
// hash was read was the oldest pending task all along, so its
// pending_since is what the Inspector's atomic script would have read.
// When workers dequeued it in between, round trip 4 reads the hashes of the
// new oldest tasks and takes the oldest still pending.
func (sc *scrape) readTails(ctx context.Context, qs []queueRead) error {
	pipe := sc.r.client.Pipeline()
	for i := range qs {
		q := &qs[i]
		if sc.problems.WrongType(q.pending, q.keys.pending) {
			q.unlisted = true
			continue
		}
		sc.readGroups(ctx, pipe, q)
		id, ok := stringVal(q.tail)
		if !ok || id == "" {
			continue
		}
		q.taskKey = q.keys.prefix + "t:" + id
		q.task = pipe.HMGet(ctx, q.taskKey, "state", "pending_since")
		q.oldest = pipe.LRange(ctx, q.keys.pending, -chaseWidth, -1)
	}
	if pipe.Len() == 0 {
		return nil
	}
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read pending tails", sc.r.from, cmds, err); err != nil {
		return err
	}

	var chased []*queueRead
	for i := range qs {
		q := &qs[i]
		if q.task == nil {
			continue
		}
		oldest := q.oldest.Val() // tail last; empty when drained (or no longer a list)
		switch {
		case len(oldest) == 0:
		case q.taskKey == q.keys.prefix+"t:"+oldest[len(oldest)-1]:
			q.latency, _ = sc.pendingSince(q.taskKey, q.task, true)
		default:
			chased = append(chased, q)
		}
	}
	if len(chased) == 0 {
		return nil
	}

	pipe = sc.r.client.Pipeline()
	for _, q := range chased {
		ids := q.oldest.Val()
		q.candidates = make([]*redis.SliceCmd, len(ids))
		for i, id := range ids {
			q.candidates[i] = pipe.HMGet(ctx, q.keys.prefix+"t:"+id, "state", "pending_since")
		}
	}
	cmds, err = pipe.Exec(ctx)
	if err := redisread.Failure(system, "read pending tails again", sc.r.from, cmds, err); err != nil {
		return err
	}
	for _, q := range chased {
		// Tail first: the oldest task still pending. Those dequeued in
		// the meantime (no longer pending, or done and deleted) are
		// skipped; a race is not bad data. None left: 0, as for a
		// drained queue.
		for i := len(q.candidates) - 1; i >= 0; i-- {
			if latency, pending := sc.pendingSince("", q.candidates[i], false); pending {
				q.latency = latency
				break
			}
		}
	}
	return nil
}

// readGroups queues the ZCARD of each of q's aggregation groups.
func (sc *scrape) readGroups(ctx context.Context, pipe redis.Pipeliner, q *queueRead) {
	if sc.problems.WrongType(q.groups, q.keys.groups) {
		return
	}
	groups := q.groups.Val()
	if len(groups) > maxGroups {
		groups = groups[:maxGroups]
		sc.problems.Add(kindRegistryTruncated, q.keys.groups, "read "+strconv.Itoa(maxGroups)+" of more groups")
	}
	for _, g := range groups {
		key := q.keys.prefix + "g:" + g
		q.groupSizes = append(q.groupSizes, groupSize{key: key, size: pipe.ZCard(ctx, key)})
	}
}

// pendingSince is the latency of a tail task from its hash (HMGET state
// pending_since) read at key; pending is false when the task is no longer
// pending. judge says whether the task was still the tail after its hash
// was read, so that what is missing is bad data (recorded) rather than a
// task moving on.
func (sc *scrape) pendingSince(key string, cmd *redis.SliceCmd, judge bool) (latency time.Duration, pending bool) {
	if cmd.Err() != nil {
		if judge {
			sc.problems.WrongType(cmd, key)
		}
		return 0, false
	}
	vals := cmd.Val()
	state, _ := vals[0].(string)
	raw, ok := vals[1].(string)
	switch {
	case !ok && state == "":
		if judge {
			sc.problems.Add(kindMissingTask, key, "the pending tail task has no hash")
		}
		return 0, false
	case !judge && state != "pending":
		return 0, false
	case !ok:
		// A task requeued by a server shutting down has no pending_since:
		// the Inspector reads 0 until it is dequeued.
		return 0, true
	}
	since, ok := parsePendingSince(raw)
	if !ok {
		if judge {
			sc.problems.Add(kindInvalidTimestamp, key, "pending_since is not unix nanoseconds")
		}
		return 0, true
	}
	return snapshot.Age(sc.now, since), true
}

// parsePendingSince reads a task hash's pending_since: decimal unix
// nanoseconds, as asynq writes time.Now().UnixNano(). Anything else is not
// a time: the Inspector reads most of it as 0, and a leading 0 as octal.
func parsePendingSince(raw string) (time.Time, bool) {
	if raw == "" || raw[0] < '1' || raw[0] > '9' { // no sign, no leading 0
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || ns <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// report turns what was read into the snapshot's queues, jobs, totals and
// processes.
func (sc *scrape) report(qs []queueRead, ss []serverRead) {
	queues := make([]snapshot.Queue, 0, len(qs))
	// Running tasks are attributed by the queue name they carry: the raw
	// one, not the bounded one reported.
	byName := make(map[string]int, len(qs))
	for i := range qs {
		q := &qs[i]
		if q.unlisted {
			continue
		}
		name := sc.problems.Name(q.name, keyQueues, "queue name")
		byName[q.name] = len(queues)
		queues = append(queues, snapshot.Queue{
			Name:        name,
			Size:        q.pending.Val(),
			Latency:     q.latency,
			Paused:      q.paused.Val() == 1,
			PausedKnown: true,
		})
		sc.queueJobs(name, q)
	}

	processes := make([]snapshot.Process, 0, len(ss))
	for i := range ss {
		if p, ok := sc.process(&ss[i], queues, byName); ok {
			processes = append(processes, p)
		}
	}
	sc.snap.Queues = queues
	sc.snap.Processes = processes
}

// queueJobs records q's counts per state and its totals.
func (sc *scrape) queueJobs(name string, q *queueRead) {
	k := &q.keys
	for _, c := range [...]struct {
		state string
		cmd   *redis.IntCmd
		key   string
	}{
		{snapshot.StateActive, q.active, k.active},
		{snapshot.StateScheduled, q.scheduled, k.scheduled},
		{snapshot.StateRetry, q.retry, k.retry},
		{StateArchived, q.archived, k.archived},
		{snapshot.StateCompleted, q.completed, k.completed},
	} {
		if sc.problems.WrongType(c.cmd, c.key) {
			continue
		}
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: c.state, Queue: name, Count: c.cmd.Val()})
	}
	if q.groups.Err() == nil { // else recorded by readGroups
		var aggregating int64
		for _, g := range q.groupSizes {
			if !sc.problems.WrongType(g.size, g.key) {
				aggregating += g.size.Val()
			}
		}
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: StateAggregating, Queue: name, Count: aggregating})
	}
	processed, okP := sc.problems.Counter(q.processed, k.processed)
	failed, okF := sc.problems.Counter(q.failed, k.failed)
	if okP && okF {
		sc.snap.Totals = append(sc.snap.Totals, snapshot.Totals{Queue: name, Processed: processed, Failed: failed})
	}
}

// process builds one server; ok is false when its info is gone (it
// expired since the registry was read: stale) or unreadable. Its workers'
// tasks are counted into the queues they come from.
func (sc *scrape) process(s *serverRead, queues []snapshot.Queue, byName map[string]int) (snapshot.Process, bool) {
	raw, ok := stringVal(s.info)
	if !ok {
		sc.problems.WrongType(s.info, s.member)
		return snapshot.Process{}, false
	}
	if raw == "" {
		sc.snap.ProcessesStale++
		return snapshot.Process{}, false
	}
	info, err := parseServerInfo([]byte(raw))
	if err != nil {
		sc.problems.Add(kindInvalidProtobuf, s.member, "not a ServerInfo: "+err.Error())
		return snapshot.Process{}, false
	}
	id := strings.TrimSuffix(strings.TrimPrefix(s.member[len(serverKeyPrefix):], "{"), "}")
	p := snapshot.Process{
		ID:          sc.problems.Name(id, keyServers, "server identity"),
		Hostname:    sc.problems.Name(info.host, s.member, "host"),
		PID:         info.pid,
		Concurrency: sc.problems.NonNegative(info.concurrency, s.member, "concurrency"),
		// The entry's score is the expiry written with the heartbeat.
		HeartbeatAge: snapshot.Age(sc.now, s.expiry.Add(-heartbeatTTL)),
		// A stopped server (Server.Stop) finishes its tasks but takes no
		// new ones; a closed one is shutting down.
		Quiet: info.status == "stopped" || info.status == "closed",
	}
	sort.Strings(info.queues)
	for i, q := range info.queues {
		info.queues[i] = sc.problems.Name(q, s.member, "queue name")
	}
	p.Queues = info.queues

	if sc.problems.WrongType(s.workers, s.workersKey) {
		return p, true
	}
	for _, v := range s.workers.Val() {
		w, err := parseWorkerInfo([]byte(v))
		if err != nil {
			sc.problems.Add(kindInvalidProtobuf, s.workersKey, "a value is not a WorkerInfo: "+err.Error())
			continue
		}
		p.Busy++
		i, ok := byName[w.queue]
		if !ok {
			continue
		}
		q := &queues[i]
		q.Running++
		if w.started.IsZero() || w.started.Unix() == 0 {
			sc.problems.Add(kindMissingTimestamp, s.workersKey, "a worker has no start_time")
			continue
		}
		a := snapshot.Age(sc.now, w.started)
		q.RunningMaxAge = max(q.RunningMaxAge, a)
		if sc.r.opts.StalledAfter > 0 && a > sc.r.opts.StalledAfter {
			q.Stalled++
		}
	}
	return p, true
}

// stringVal returns a string reply; "" for a missing key, ok false for any
// other error (WRONGTYPE: the caller records it).
func stringVal(cmd *redis.StringCmd) (string, bool) {
	v, err := cmd.Result()
	switch {
	case err == nil:
		return v, true
	case errors.Is(err, redis.Nil):
		return "", true
	}
	return "", false
}
