// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package celery reads the broker state of Celery 5.x on kombu's Redis
// transport: queues, their sizes over every priority list, and the messages
// delivered to workers but not yet acknowledged. It never writes.
//
// Kombu keeps no queue registry: a queue exists because a producer or a
// worker bound it to an exchange, which kombu records in a SET
// `_kombu.binding.<exchange>` (members `<routing_key><sep><pattern><sep><queue>`)
// and never removes. Unless the queue names are given (Options.Names), the
// reader finds those sets with SCAN and remembers them: a discovery pass
// starts every Options.DiscoveryInterval and takes one bounded SCAN step
// (COUNT scanCount) per snapshot, so a database of N keys is walked in
// ceil(N/scanCount) snapshots (one, below scanCount keys) and a snapshot
// never costs more round trips for it; a binding set gone at the end of a
// pass is forgotten. Celery's own control and event exchanges (`*.pidbox`,
// `celeryev`) route broadcasts, not jobs: their bindings are not queues.
// With Names, the binding sets read are those of the exchanges named like
// the queues, as Celery declares them by default.
//
// A queue's size is, like kombu's own Channel._size, the sum of LLEN over its
// priority lists: the queue's list for step 0 and `<queue><sep><step>` for
// every other step of the broker's priority_steps (default 0, 3, 6, 9).
//
// A worker moves every message it fetches into the hash `unacked` (field:
// delivery tag, value: JSON [message, exchange, routing_key]) and the sorted
// set `unacked_index` (score: the delivery time), and deletes both on ack.
// The reader reads the oldest maxUnacked entries of the index with their
// messages and routes each to its queue as kombu would restore it (the
// exchange's bindings for its routing key; the routing key itself on the
// default exchange; not at all when the exchange has no binding set, or its
// set was not read). Per queue that gives the `unacked` count, how long the
// oldest has been delivered (RunningMaxAge) and how many were delivered more
// than StalledAfter ago. Unacked messages are prefetched (reserved), held for
// their ETA or countdown, or, with acks_late, executing.
//
// Celery messages carry no enqueue time, so no queue latency can be told:
// queues carry LatencyUnknown. Workers register nothing in Redis (the pidbox
// is a broadcast channel), so the snapshot has no processes.
//
// A snapshot costs three pipelined round trips whatever the number of
// queues: the SCAN step and the unacked index; the binding sets and the
// unacked messages; the priority lists. These are the only commands sent, all
// of them read-only (an ACL user needs nothing beyond them):
//
//	SCAN                _kombu.binding.* (one step, while a pass runs)
//	SCARD, SRANDMEMBER  _kombu.binding.<exchange> (bounded read)
//	HMGET               unacked
//	ZCARD, ZRANGE       unacked_index (the oldest maxUnacked entries)
//	LLEN                <queue>, <queue><sep><step>
//	SCAN, GETRANGE      celery-task-meta-* (only with Options.Results)
//
// With Options.Results the reader also counts the result backend's task
// states (jobqueue.jobs{state=success|failure|retry|started|revoked}, no
// queue) when the backend shares the broker's database: one bounded SCAN
// step of its `celery-task-meta-*` keys per snapshot, the first 128 bytes of
// each key found (the backend writes status first), the states remembered
// per key (at most Options.Results keys) until a pass no longer finds the
// key. Counts lag the backend by up to one pass.
//
// Bad data is skipped and reported as a snapshot.Problem whose Kind is one of
// wrong_type, invalid_json, invalid_value, missing_queue, registry_truncated,
// name_too_long, invalid_utf8, too_many_problems.
package celery // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/celery"

import (
	"context"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Options says what to read and how to judge it.
type Options struct {
	// Prefix is kombu's global_keyprefix ("" for none): it starts every key.
	Prefix string
	// Names, when not empty, are the queues to read: no SCAN is made.
	Names []string
	// DiscoveryInterval is how often a discovery pass starts; 0 starts one
	// as soon as the last ended.
	DiscoveryInterval time.Duration
	// PrioritySteps are the broker's priority_steps; nil means kombu's
	// default 0, 3, 6, 9.
	PrioritySteps []int
	// Sep is kombu's separator in binding members and priority list names;
	// "" means kombu's default "\x06\x16".
	Sep string
	// Selection picks the queues to report.
	Selection snapshot.Selection
	// StalledAfter is the delivery age beyond which an unacked message
	// counts as stalled; 0 counts none.
	StalledAfter time.Duration
	// Results > 0 also counts the result backend's task states when it
	// lives in the same database, remembering at most this many results.
	Results int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Kombu's defaults (kombu.transport.redis.Channel).
var (
	DefaultPrioritySteps = []int{0, 3, 6, 9}
	DefaultSep           = "\x06\x16"
)

// StateUnacked is the jobqueue.job.state of messages delivered to a worker
// and not yet acknowledged, kombu's own word for them.
const StateUnacked = "unacked"

const (
	system = "celery"

	bindingPrefix = "_kombu.binding."
	// scanCount is the COUNT of the one SCAN step a snapshot takes.
	scanCount = 10_000
	// maxBindingKeys bounds the binding sets remembered and read; beyond it
	// the rest are ignored and registry_truncated says so.
	maxBindingKeys = 10_000
	// maxBindings bounds the members read from one binding set.
	maxBindings = 10_000
	// maxUnacked bounds the unacked messages read, oldest first: beyond it
	// the newest are not counted per queue (ages and stalled counts, which
	// the oldest decide, stay right).
	maxUnacked = 10_000
)

// Problem kinds (snapshot.Problem.Kind).
const (
	kindInvalidJSON       = "invalid_json"
	kindInvalidValue      = "invalid_value"
	kindMissingQueue      = "missing_queue"
	kindRegistryTruncated = redisread.KindRegistryTruncated
)

// Reader takes snapshots of one Celery broker on Redis.
type Reader struct {
	client redis.Cmdable
	opts   Options
	from   string

	unackedKey, unackedIndexKey string

	// mu guards what successive snapshots share: discovery and results.
	mu sync.Mutex
	// cursor is where the next SCAN step starts; passStart is when the
	// pass under way (cursor != 0) or the last one started.
	cursor    uint64
	passStart time.Time
	// known are the binding set keys seen by the last complete SCAN pass,
	// passing those seen by the pass under way.
	known, passing map[string]struct{}
	// results are the result backend's states (nil unless Options.Results).
	results *results
}

var _ snapshot.Reader = (*Reader)(nil)

// NewReader returns a reader that sends its commands through client.
func NewReader(client redis.Cmdable, opts Options) *Reader {
	if opts.PrioritySteps == nil {
		opts.PrioritySteps = DefaultPrioritySteps
	}
	if opts.Sep == "" {
		opts.Sep = DefaultSep
	}
	r := &Reader{
		client:          client,
		opts:            opts,
		from:            redisread.From(client),
		unackedKey:      opts.Prefix + "unacked",
		unackedIndexKey: opts.Prefix + "unacked_index",
		known:           map[string]struct{}{},
		passing:         map[string]struct{}{},
	}
	if opts.Results > 0 {
		r.results = &results{max: opts.Results, states: map[string]resultEntry{}}
	}
	return r
}

// Snapshot reads Celery's broker state. It fails only when Redis cannot be
// read (unreachable, timeout, a refused command); bad data is skipped and
// listed in Problems.
func (r *Reader) Snapshot(ctx context.Context) (*snapshot.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := &scrape{r: r, now: snapshot.Now(r.opts.Now)}
	// Workers register nothing in Redis: the pidbox is a broadcast channel.
	sc.snap = &snapshot.Snapshot{System: system, Time: sc.now, ProcessesUnknown: true}

	bindingKeys, unacked, err := sc.discover(ctx)
	if err != nil {
		return nil, err
	}
	routes, values, err := sc.readBindings(ctx, bindingKeys, unacked)
	if err != nil {
		return nil, err
	}
	if err := sc.readQueues(ctx, routes, unacked, values); err != nil {
		return nil, err
	}
	if sc.results != nil {
		sc.countResults(r.results, sc.results)
	}
	sc.snap.Problems = sc.problems.List()
	return sc.snap, nil
}

// scrape is the state of one Snapshot call.
type scrape struct {
	r        *Reader
	now      time.Time
	snap     *snapshot.Snapshot
	problems redisread.Problems
	// results is this snapshot's share of the result backend's pass.
	results *resultReads
}

// delivery is one unacked message: its delivery tag and time.
type delivery struct {
	tag string
	at  float64
}

// discover runs round trip 1: one SCAN step for binding sets while a pass
// runs, and the oldest unacked deliveries. It returns every binding set key
// to read, sorted.
func (sc *scrape) discover(ctx context.Context) ([]string, []delivery, error) {
	r := sc.r
	pipe := r.client.Pipeline()
	var scan *redis.ScanCmd
	if len(r.opts.Names) == 0 && (r.cursor != 0 || r.passStart.IsZero() || sc.now.Sub(r.passStart) >= r.opts.DiscoveryInterval) {
		if r.cursor == 0 {
			r.passStart = sc.now
		}
		scan = pipe.Scan(ctx, r.cursor, globEscape(r.opts.Prefix+bindingPrefix)+"*", scanCount)
	}
	indexCount := pipe.ZCard(ctx, r.unackedIndexKey)
	oldest := pipe.ZRangeWithScores(ctx, r.unackedIndexKey, 0, maxUnacked-1)
	if r.results != nil {
		sc.results = r.results.step(ctx, pipe)
	}
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "discover queues", r.from, cmds, err); err != nil {
		return nil, nil, err
	}

	if scan != nil {
		r.scanned(scan)
	}
	keys := r.bindingKeys()
	if len(keys) > maxBindingKeys {
		sc.problems.Add(kindRegistryTruncated, r.opts.Prefix+bindingPrefix+"*",
			"read "+strconv.Itoa(maxBindingKeys)+" of "+strconv.Itoa(len(keys))+" binding sets")
		keys = keys[:maxBindingKeys]
	}

	if sc.problems.WrongType(indexCount, r.unackedIndexKey) || sc.problems.WrongType(oldest, r.unackedIndexKey) {
		return keys, nil, nil
	}
	if n := indexCount.Val(); n > maxUnacked {
		sc.problems.Add(kindRegistryTruncated, r.unackedIndexKey,
			"read the oldest "+strconv.Itoa(maxUnacked)+" of "+strconv.FormatInt(n, 10)+" unacked messages")
	}
	zs := oldest.Val()
	unacked := make([]delivery, len(zs))
	for i, z := range zs {
		tag, _ := z.Member.(string)
		unacked[i] = delivery{tag: tag, at: z.Score}
	}
	return keys, unacked, nil
}

// globEscape quotes the characters SCAN's MATCH pattern gives a meaning.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(`*?[]\`, c) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// scanned remembers the binding sets one SCAN step found.
func (r *Reader) scanned(scan *redis.ScanCmd) {
	found, cursor := scan.Val()
	for _, k := range found {
		if len(r.passing) > maxBindingKeys { // one more, to tell truncation
			break
		}
		r.passing[k] = struct{}{}
	}
	r.cursor = cursor
	if cursor == 0 { // the pass is complete: it is the truth until the next one
		r.known, r.passing = r.passing, make(map[string]struct{}, len(r.passing))
	}
}

// bindingKeys returns the binding sets to read, sorted: those of the queues
// named, or those the last pass and the pass under way found.
func (r *Reader) bindingKeys() []string {
	if len(r.opts.Names) > 0 {
		keys := make([]string, len(r.opts.Names))
		for i, q := range r.opts.Names {
			keys[i] = r.opts.Prefix + bindingPrefix + q
		}
		sort.Strings(keys)
		return keys
	}
	keys := make([]string, 0, len(r.known)+len(r.passing))
	prefixLen := len(r.opts.Prefix) + len(bindingPrefix)
	for k := range r.known {
		if !isControlExchange(k[prefixLen:]) {
			keys = append(keys, k)
		}
	}
	for k := range r.passing {
		if _, dup := r.known[k]; !dup && !isControlExchange(k[prefixLen:]) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// routes maps a binding (exchange, routing key) to the queues bound by it.
type routes struct {
	byBinding map[binding][]string
	// read are the exchanges whose binding sets were read: a message of
	// another exchange cannot be routed, but is no bad data.
	read   map[string]struct{}
	queues []string // every queue name, each once
}

type binding struct{ exchange, routingKey string }

// readBindings runs round trip 2: every binding set, and the messages of the
// unacked deliveries (one HMGET, values in the deliveries' order).
func (sc *scrape) readBindings(ctx context.Context, keys []string, unacked []delivery) (routes, *redis.SliceCmd, error) {
	r := sc.r
	pipe := r.client.Pipeline()
	type setCmds struct {
		count   *redis.IntCmd
		members *redis.StringSliceCmd
	}
	sets := make([]setCmds, len(keys))
	for i, k := range keys {
		sets[i] = setCmds{pipe.SCard(ctx, k), pipe.SRandMemberN(ctx, k, maxBindings)}
	}
	var values *redis.SliceCmd
	if len(unacked) > 0 {
		tags := make([]string, len(unacked))
		for i := range unacked {
			tags[i] = unacked[i].tag
		}
		values = pipe.HMGet(ctx, r.unackedKey, tags...)
	}
	if sc.results != nil {
		sc.results.read(ctx, pipe)
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read bindings", r.from, cmds, err); err != nil {
			return routes{}, nil, err
		}
	}

	rt := routes{byBinding: map[binding][]string{}, read: make(map[string]struct{}, len(keys))}
	seen := map[string]struct{}{}
	prefixLen := len(r.opts.Prefix) + len(bindingPrefix)
	for i, k := range keys {
		exchange := k[prefixLen:]
		rt.read[exchange] = struct{}{}
		for _, m := range sc.problems.Members(sets[i].members, sets[i].count, k) {
			routingKey, queue, ok := parseBinding(m, r.opts.Sep)
			if !ok {
				sc.problems.Add(kindInvalidValue, k, "binding is not <routing_key><sep><pattern><sep><queue>")
				continue
			}
			b := binding{exchange, routingKey}
			rt.byBinding[b] = append(rt.byBinding[b], queue)
			if _, dup := seen[queue]; !dup {
				seen[queue] = struct{}{}
				rt.queues = append(rt.queues, queue)
			}
		}
	}
	return rt, values, nil
}

// isControlExchange tells Celery's broadcast exchanges: the remote control
// (`<app>.pidbox`, and `reply.<app>.pidbox` for its replies) and events
// (`celeryev`). Their bound "queues" are per-worker mailboxes, not job queues.
func isControlExchange(exchange string) bool {
	return strings.HasSuffix(exchange, ".pidbox") || exchange == "celeryev"
}

// parseBinding splits a binding member into its routing key and queue.
func parseBinding(member, sep string) (routingKey, queue string, ok bool) {
	routingKey, rest, ok := strings.Cut(member, sep)
	if !ok {
		return "", "", false
	}
	_, queue, ok = strings.Cut(rest, sep) // the pattern, unused by direct exchanges
	if !ok || queue == "" || strings.Contains(queue, sep) {
		return "", "", false
	}
	return routingKey, queue, true
}

// readQueues runs round trip 3: every priority list of every selected queue,
// then attributes the unacked messages to the queues.
func (sc *scrape) readQueues(ctx context.Context, rt routes, unacked []delivery, values *redis.SliceCmd) error {
	r := sc.r
	names := rt.queues
	if len(r.opts.Names) > 0 {
		names = r.opts.Names
	}
	sc.snap.QueuesDiscovered = len(names)
	kept, dropped := r.opts.Selection.Apply(names)
	sc.snap.QueuesDropped = dropped

	steps := r.opts.PrioritySteps
	pipe := r.client.Pipeline()
	sizes := make([]*redis.IntCmd, 0, len(kept)*len(steps))
	for _, q := range kept {
		for _, step := range steps {
			sizes = append(sizes, pipe.LLen(ctx, r.priorityList(q, step)))
		}
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read queues", r.from, cmds, err); err != nil {
			return err
		}
	}

	// Unacked messages are attributed to the reported queues by the raw
	// name they are bound under, not the bounded one reported.
	queues := make([]snapshot.Queue, 0, len(kept))
	byName := make(map[string]*snapshot.Queue, len(kept))
	for i, raw := range kept {
		q := snapshot.Queue{LatencyUnknown: true}
		good := true
		for j, step := range steps {
			c := sizes[i*len(steps)+j]
			if sc.problems.WrongType(c, r.priorityList(raw, step)) {
				good = false
				continue
			}
			q.Size += c.Val()
		}
		if !good { // a partial size would be a wrong one
			continue
		}
		q.Name = sc.problems.Name(raw, r.opts.Prefix+bindingPrefix+"*", "queue name")
		queues = append(queues, q) // within capacity: earlier pointers stay valid
		byName[raw] = &queues[len(queues)-1]
	}
	sc.snap.Queues = queues
	if values != nil {
		sc.unacked(rt, byName, unacked, values)
	}

	jobs := make([]snapshot.StateCount, len(queues))
	for i := range queues {
		jobs[i] = snapshot.StateCount{State: StateUnacked, Queue: queues[i].Name, Count: queues[i].Running}
	}
	sc.snap.Jobs = jobs
	return nil
}

// priorityList is the list holding queue's messages of one priority step,
// as kombu's Channel._q_for_pri names it.
func (r *Reader) priorityList(queue string, step int) string {
	if step == 0 {
		return r.opts.Prefix + queue
	}
	return r.opts.Prefix + queue + r.opts.Sep + strconv.Itoa(step)
}

// unacked counts each unacked message into the queues kombu would restore
// it to.
func (sc *scrape) unacked(rt routes, byName map[string]*snapshot.Queue, unacked []delivery, values *redis.SliceCmd) {
	key := sc.r.unackedKey
	if sc.problems.WrongType(values, key) {
		return
	}
	for i, v := range values.Val() {
		d := &unacked[i]
		raw, ok := v.(string)
		if !ok { // acked between the two round trips
			continue
		}
		exchange, routingKey, err := parseUnacked(raw)
		if err != nil {
			sc.problems.Add(kindInvalidJSON, key, "field "+d.tag+": "+err.Error())
			continue
		}
		queues := []string{routingKey} // the default exchange routes by queue name
		if exchange != "" {
			if _, read := rt.read[exchange]; !read {
				continue
			}
			queues = rt.byBinding[binding{exchange, routingKey}]
		}
		if len(queues) == 0 {
			sc.problems.Add(kindMissingQueue, key, "field "+d.tag+": no queue is bound to its exchange and routing key")
			continue
		}
		if math.IsNaN(d.at) || math.IsInf(d.at, 0) {
			sc.problems.Add(kindInvalidValue, sc.r.unackedIndexKey, "member "+d.tag+": delivery time is not a number")
			continue
		}
		sec, frac := math.Modf(d.at)
		a := snapshot.Age(sc.now, time.Unix(int64(sec), int64(frac*1e9)))
		for _, name := range queues {
			q := byName[name]
			if q == nil {
				continue
			}
			q.Running++
			q.RunningMaxAge = max(q.RunningMaxAge, a)
			if sc.r.opts.StalledAfter > 0 && a > sc.r.opts.StalledAfter {
				q.Stalled++
			}
		}
	}
}
