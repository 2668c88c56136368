// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/redis/go-redis/v9"
)

// Redis is the store shared by collector replicas. Each op is a few plain
// commands on its own key under the key prefix, and a whole Batch is sent as
// one pipeline (one round trip):
//
//	Incr         INCRBY k d; PEXPIRE k ttl NX
//	Max          ZADD k GT CH v m; PEXPIRE k ttl; ZSCORE k m
//	MarkOnce     SET k 1 PX ttl NX
//	Delete       DEL k
//	WindowAdd    HINCRBY k bucket d; HDEL k <the N buckets before the window>; PEXPIRE k ttl; HMGET k <live buckets>
//	TopAdd       ZINCRBY k d m; ZREMRANGEBYRANK k 0 -(cap+1); PEXPIRE k ttl; ZSCORE k m
//	DistinctAdd  ZADD k GT t m; ZREMRANGEBYSCORE k -inf cutoff; ZREMRANGEBYRANK k 0 -(cap+1); PEXPIRE k ttl; ZCARD k
//	MemberMax    ZADD k GT CH v m; ZREMRANGEBYRANK k 0 -(cap+1); PEXPIRE k ttl; ZSCORE k m
//	Members      ZREVRANGE k 0 limit-1 WITHSCORES
//	RemoveMember ZREM k m
//	Claim        in EVALSHA claim.lua at the end: its op's commands, then ZADD GT CH or ZREM
//	CountOnce    in EVALSHA claim.lua at the end: SET mark token NX GET PX ttl, then its op's commands
//
// The pipeline is not a transaction: ops of concurrent replicas interleave
// between commands, which every op above tolerates (the exactly-once answers
// come from single commands: ZADD CH, SET NX, DEL, ZREM). The claims of a
// batch, each with its op, and the ops with gates (CountOnce) run at the
// end of the pipeline in calls of the claim script (up to entriesPerCall
// entries a call: one script call costs the server what several plain
// commands do), so each decision is taken on the count its op left, and
// each gated add on the marks it set. A gate's mark holds the token of the
// Apply that set it (random per store, numbered per Apply), so the same
// mark counts in every op of its batch, in any call, and in no other
// batch. Every key gets a TTL, so nothing outlives its use. Bucket numbers
// and cutoffs are computed from the store's clock, like the memory store's.
//
// The script is loaded (SCRIPT LOAD) in the first pipeline that needs it.
// A Redis that lost it (restarted, SCRIPT FLUSH) answers NOSCRIPT: the store
// loads it again and sends those calls once more, in a second round trip
// for that batch. The keys of a batch's claims must live on one server (no
// Redis Cluster).
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	clock   clockwork.Clock
	close   func() error
	// loaded is true once the server answered a SCRIPT LOAD of claim.lua.
	loaded atomic.Bool
	// id and applies make each Apply's token (see Batch.CountOnce): id is
	// random, so that replicas' tokens differ.
	id      string
	applies atomic.Uint64
}

//go:embed claim.lua
var claimSource string

var claimScript = redis.NewScript(claimSource)

// NewRedis returns a store over client and takes ownership of it (Close
// closes it). Every key is prefixed with keyPrefix. Each Apply gives up after
// timeout (0: only the caller's context bounds it).
func NewRedis(client redis.UniversalClient, keyPrefix string, timeout time.Duration, opts ...Option) *Redis {
	o := newOptions(opts)
	return &Redis{
		client:  client,
		prefix:  keyPrefix,
		timeout: timeout,
		clock:   o.clock,
		close:   sync.OnceValue(client.Close),
		id:      strconv.FormatUint(rand.Uint64(), 36) + ":",
	}
}

// Stats implements Store; a shared store holds nothing locally.
func (*Redis) Stats() Stats { return Stats{} }

// Close implements Store.
func (s *Redis) Close() error { return s.close() }

// Apply implements Store.
func (s *Redis) Apply(ctx context.Context, b *Batch) error {
	if err := b.validate(); err != nil {
		return err
	}
	if len(b.ops) == 0 {
		return nil
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	nowMs := s.clock.Now().UnixMilli()
	pipe := s.client.Pipeline()
	spans := make([]cmdSpan, len(b.ops))
	for i := range b.ops {
		if !b.scripted(i) {
			spans[i] = s.queue(ctx, pipe, &b.ops[i], nowMs)
		}
	}
	calls, load := s.queueScripted(ctx, pipe, b, nowMs)
	if pipe.Len() == 0 {
		return nil // only adds older than their window
	}
	cmds, err := pipe.Exec(ctx)
	if err := unavailableIn(cmds, err); err != nil {
		return err
	}
	if load != nil && load.Err() == nil {
		s.loaded.Store(true)
	}
	if err := s.resendClaims(ctx, cmds); err != nil {
		return err
	}
	var errs opErrors
	for i := range b.ops {
		if sp := spans[i]; sp.hi > sp.lo {
			if err := read(b, i, cmds[sp.lo:sp.hi], sp); err != nil {
				errs.add(&b.ops[i], err)
			}
		}
	}
	if calls >= 0 {
		readScripted(b, cmds[calls:], &errs)
	}
	return errs.err()
}

// unavailableIn returns an ErrUnavailable error when a pipeline failed for
// want of a usable server, rather than for some of its commands. An error
// that no command carries is the connection's set-up failing (AUTH with a
// wrong password, SELECT of a db the server lacks): then no command ran,
// whatever the error says.
func unavailableIn(cmds []redis.Cmder, err error) error {
	if err == nil {
		return nil
	}
	ran := false
	for _, c := range cmds {
		cerr := c.Err()
		if cerr != nil && !errors.Is(cerr, redis.Nil) && unavailable(cerr) {
			return fmt.Errorf("%w: redis: %w", ErrUnavailable, cerr)
		}
		ran = ran || errors.Is(cerr, err)
	}
	if !ran {
		return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
	}
	return nil
}

// resendClaims loads the claim script again when the server had lost it
// (restarted, SCRIPT FLUSH), and sends once more the calls it refused with
// NOSCRIPT (they ran nothing), replacing them in cmds: one more round trip,
// after which the claims have run where they belong, after the batch's
// other ops.
func (s *Redis) resendClaims(ctx context.Context, cmds []redis.Cmder) error {
	var pipe redis.Pipeliner
	for k, c := range cmds {
		if c.Name() != "evalsha" || !redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			continue
		}
		if pipe == nil {
			s.loaded.Store(false)
			pipe = s.client.Pipeline()
			pipe.ScriptLoad(ctx, claimSource)
		}
		cmds[k] = redis.NewCmd(ctx, c.Args()...)
		_ = pipe.Process(ctx, cmds[k])
	}
	if pipe == nil {
		return nil
	}
	again, err := pipe.Exec(ctx)
	if err := unavailableIn(again, err); err != nil {
		return err
	}
	if again[0].Err() == nil {
		s.loaded.Store(true)
	}
	return nil
}

// cmdSpan is where one op's commands sit in the pipeline.
type cmdSpan struct {
	lo, hi   int
	from, at int64 // WindowAdd: the live buckets read
}

// queue adds op o's commands to the pipeline.
func (s *Redis) queue(ctx context.Context, pipe redis.Pipeliner, o *op, nowMs int64) cmdSpan {
	sp := cmdSpan{lo: pipe.Len()}
	key := s.prefix + o.key
	switch o.kind {
	case opIncr:
		pipe.IncrBy(ctx, key, o.n)
		pipe.Process(ctx, redis.NewBoolCmd(ctx, "pexpire", key, o.ttl.Milliseconds(), "nx"))
	case opMax, opMemberMax:
		member := o.member
		if o.kind == opMax {
			member = maxMember
		}
		pipe.ZAddArgs(ctx, key, redis.ZAddArgs{GT: true, Ch: true, Members: []redis.Z{{Score: float64(o.n), Member: member}}})
		if o.kind == opMemberMax {
			pipe.ZRemRangeByRank(ctx, key, 0, -int64(o.limit)-1)
		}
		pipe.PExpire(ctx, key, o.ttl)
		pipe.ZScore(ctx, key, member)
	case opMarkOnce:
		pipe.Process(ctx, redis.NewBoolCmd(ctx, "set", key, 1, "px", o.ttl.Milliseconds(), "nx"))
	case opDelete:
		pipe.Del(ctx, key)
	case opWindowAdd:
		w := o.window()
		_, from, at := windowSpan(w, eventMs(o, nowMs), nowMs)
		if from > at {
			return sp // older than the window ending now: nothing to send
		}
		sp.from, sp.at = from, at
		// Buckets [at-2N+1, at-N] left the window of this add: they are
		// deleted so a long-lived counter does not collect dead buckets.
		n := int64(w.Buckets)
		fields := bucketFields(at-2*n+1, at)
		if o.n != 0 {
			pipe.HIncrBy(ctx, key, fields[len(fields)-1], o.n)
			pipe.HDel(ctx, key, fields[:n]...)
			pipe.Process(ctx, redis.NewBoolCmd(ctx, "pexpire", key, windowTTLMs(w)))
		}
		pipe.HMGet(ctx, key, fields[from-(at-2*n+1):]...)
	case opTopAdd:
		pipe.ZIncrBy(ctx, key, float64(o.n), o.member)
		pipe.ZRemRangeByRank(ctx, key, 0, -int64(o.limit)-1)
		pipe.PExpire(ctx, key, o.ttl)
		pipe.ZScore(ctx, key, o.member)
	case opDistinctAdd:
		cutoff := nowMs - o.ttl.Milliseconds()
		pipe.ZAddArgs(ctx, key, redis.ZAddArgs{GT: true, Members: []redis.Z{{Score: float64(eventMs(o, nowMs)), Member: o.member}}})
		pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(cutoff, 10))
		pipe.ZRemRangeByRank(ctx, key, 0, -int64(o.limit)-1)
		pipe.PExpire(ctx, key, o.ttl)
		pipe.ZCard(ctx, key)
	case opMembers:
		pipe.ZRevRangeWithScores(ctx, key, 0, int64(o.limit)-1)
	case opRemoveMember:
		pipe.ZRem(ctx, key, o.member)
	}
	sp.hi = pipe.Len()
	return sp
}

// entriesPerCall and gatesPerCall bound the entries (an op with its claim
// or its gates) and the gates of one script call, so that a call holds the
// server for about a millisecond at most.
const (
	entriesPerCall = 256
	gatesPerCall   = 1024
)

// entryHead says op i starts an entry of the script: a gated op or a
// claim's op (the claim is part of its op's entry).
func (b *Batch) entryHead(i int) bool { return b.ops[i].kind != opClaim && b.scripted(i) }

// scriptEntry is one entry of the script: op, its claim (-1: none) and its gates
// [from, to) in opGates. An op with more than gatesPerCall gates is split
// into entries of up to gatesPerCall gates, its own delta in the first, its
// claim in the last: its adds add up, and the claim sees the total.
type scriptEntry struct {
	op, claim, from, to int
}

// scriptEntries calls fn with the script's entries in order; endsCall says
// the call is full after it.
func (b *Batch) scriptEntries(fn func(e scriptEntry, endsCall bool)) {
	entries, gates := 0, 0
	for i := range b.ops {
		if !b.entryHead(i) {
			continue
		}
		claim := -1
		if i+1 < len(b.ops) && b.ops[i+1].kind == opClaim {
			claim = i + 1
		}
		n := int(b.ops[i].gates)
		for from := 0; from == 0 || from < n; from += gatesPerCall {
			e := scriptEntry{op: i, claim: -1, from: from, to: min(from+gatesPerCall, n)}
			if e.to == n {
				e.claim = claim
			}
			entries, gates = entries+1, gates+e.to-e.from
			full := entries == entriesPerCall || gates >= gatesPerCall
			if full {
				entries, gates = 0, 0
			}
			fn(e, full)
		}
	}
}

// queueScripted adds the calls of the script that run, after the other
// ops, in order, the claims with their ops and the ops with gates; first is
// the index of the first call in the pipeline (-1: none). load is the
// SCRIPT LOAD sent before them when the script may not be loaded yet.
func (s *Redis) queueScripted(ctx context.Context, pipe redis.Pipeliner, b *Batch, nowMs int64) (first int, load *redis.StringCmd) {
	if len(b.claims) == 0 && len(b.gates) == 0 {
		return -1, nil
	}
	if !s.loaded.Load() {
		load = pipe.ScriptLoad(ctx, claimSource)
	}
	first = pipe.Len()
	token := s.token()
	marks := markArgsOf{prefix: s.prefix, keys: make([]any, len(b.marks))}
	var keys, argv []any
	flush := func() {
		args := make([]any, 0, 4+len(keys)+len(argv))
		args = append(args, "evalsha", claimScript.Hash(), len(keys))
		args = append(append(append(args, keys...), token), argv...)
		_ = pipe.Process(ctx, redis.NewCmd(ctx, args...))
		keys, argv = keys[:0], argv[:0]
	}
	b.scriptEntries(func(e scriptEntry, endsCall bool) {
		keys, argv = s.appendEntry(keys, argv, b, e, nowMs, &marks)
		if endsCall {
			flush()
		}
	})
	if len(keys) > 0 {
		flush()
	}
	return first, load
}

// token is a value no other Apply uses, for the marks of a batch's gates.
func (s *Redis) token() string {
	return s.id + strconv.FormatUint(s.applies.Add(1), 36)
}

// markArgsOf makes the script arguments of a batch's marks, each once
// however many ops it gates.
type markArgsOf struct {
	prefix string
	keys   []any // by Mark, once made
	ttl    time.Duration
	ttlArg any
}

func (a *markArgsOf) key(b *Batch, m Mark) any {
	if a.keys[m] == nil {
		a.keys[m] = a.prefix + b.marks[m].key
	}
	return a.keys[m]
}

func (a *markArgsOf) ttlMs(b *Batch, m Mark) any {
	if ttl := b.marks[m].ttl; a.ttlArg == nil || ttl != a.ttl {
		a.ttl, a.ttlArg = ttl, ttl.Milliseconds()
	}
	return a.ttlArg
}

// appendEntry appends the keys and the ARGV values of the entry of op i:
// the op, its claim when one follows, its gates.
func (s *Redis) appendEntry(keys, argv []any, b *Batch, e scriptEntry, nowMs int64, marks *markArgsOf) ([]any, []any) {
	src := &b.ops[e.op]
	nkeys := len(keys)
	keys = append(keys, s.prefix+src.key)
	delta := src.n
	if e.from > 0 {
		delta = 0 // counted in the op's first entry
	}
	var c claimArgs
	var o op
	claimed := e.claim > 0
	if claimed {
		o, c = b.ops[e.claim], *b.claimOf(&b.ops[e.claim])
		keys = append(keys, s.prefix+o.key)
		if c.of != "" {
			keys = append(keys, s.prefix+c.of)
		}
		for _, key := range b.listed(&c) {
			keys = append(keys, s.prefix+key)
		}
	}
	r := c.rule
	argv = append(argv, len(keys)-nkeys, "", c.listLimit, c.of != "", o.member, o.limit, o.ttl.Milliseconds(), o.n, c.final,
		r.Threshold, r.Factor, r.Base, r.Calm, r.MinRatio, r.CalmRatio, r.MinOf)
	kind := len(argv) - 15
	switch src.kind {
	case opIncr:
		argv[kind] = "incr"
		argv = append(argv, delta, src.ttl.Milliseconds(), 0, 0, 0)
	case opWindowAdd:
		w := src.window()
		_, from, at := windowSpan(w, eventMs(src, nowMs), nowMs)
		argv[kind] = "window"
		argv = append(argv, delta, windowTTLMs(w), w.Buckets, at, from)
	case opDistinctAdd:
		argv[kind] = "distinct"
		argv = append(argv, src.member, eventMs(src, nowMs), nowMs-src.ttl.Milliseconds(), src.limit, src.ttl.Milliseconds())
	case opTopAdd:
		argv[kind] = "top"
		argv = append(argv, delta, src.member, src.limit, src.ttl.Milliseconds(), 0)
	}
	argv = append(argv, e.to-e.from, claimed)
	for _, k := range b.opGates(src)[e.from:e.to] {
		g := &b.gates[k]
		keys = append(keys, marks.key(b, g.mark))
		argv = append(argv, g.delta, marks.ttlMs(b, g.mark))
	}
	return keys, argv
}

// readScripted fills the results of the script's entries, in order, from
// the replies of its calls.
func readScripted(b *Batch, calls []redis.Cmder, errs *opErrors) {
	var reply []any
	var callErr error
	at, newCall, failed := 0, true, -1
	b.scriptEntries(func(e scriptEntry, endsCall bool) {
		if newCall {
			reply, callErr = calls[0].(*redis.Cmd).Slice()
			calls, at = calls[1:], 0
		}
		newCall = endsCall
		srcErr, claimErr := callErr, error(nil)
		if srcErr == nil {
			at, srcErr, claimErr = readEntry(b, e, reply, at)
		}
		if srcErr != nil {
			if failed != e.op { // once for an op of several entries
				failed = e.op
				errs.add(&b.ops[e.op], srcErr)
			}
			claimErr = srcErr
		}
		if claimErr != nil && e.claim > 0 {
			errs.add(&b.ops[e.claim], claimErr)
		}
	})
}

// readEntry reads the results of entry e's op, and of its claim, from
// reply[at:] and returns where the next entry starts.
func readEntry(b *Batch, e scriptEntry, reply []any, at int) (next int, srcErr, claimErr error) {
	const fixed = 6
	if len(reply) < at+fixed {
		return len(reply), errors.New("script reply too short"), nil
	}
	r := reply[at : at+fixed]
	listed, _ := r[5].(int64)
	next = at + fixed + 2*int(listed)
	if listed < 0 || len(reply) < next {
		return len(reply), errors.New("script reply too short"), nil
	}
	if msg, _ := r[3].(string); msg != "" {
		return next, errors.New(msg), nil
	}
	src := &b.ops[e.op]
	src.value, _ = r[0].(int64)
	if e.claim < 0 {
		ok, _ := r[1].(int64)
		src.ok = src.kind == opTopAdd && ok == 1
		return next, nil, nil
	}
	if msg, _ := r[4].(string); msg != "" {
		return next, nil, errors.New(msg)
	}
	o := &b.ops[e.claim]
	o.value, _ = r[1].(int64)
	ok, _ := r[2].(int64)
	o.ok = ok == 1
	first := len(b.entries)
	for k := at + fixed; k < next; k += 2 {
		member, _ := reply[k].(string)
		score, _ := reply[k+1].(string)
		f, err := strconv.ParseFloat(score, 64)
		if err != nil {
			return next, nil, fmt.Errorf("score is not a number: %q", score)
		}
		b.entries = append(b.entries, Entry{Member: member, Score: int64(f)})
	}
	b.setEntries(e.claim, first)
	return next, nil, nil
}

// maxMember is the one member of the sorted set that holds a Max.
const maxMember = "max"

func bucketFields(from, to int64) []string {
	fields := make([]string, 0, to-from+1)
	for i := from; i <= to; i++ {
		fields = append(fields, strconv.FormatInt(i, 10))
	}
	return fields
}

// read fills op i's results from its commands' replies.
func read(b *Batch, i int, cmds []redis.Cmder, sp cmdSpan) error {
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	o := &b.ops[i]
	first, last := cmds[0], cmds[len(cmds)-1]
	switch o.kind {
	case opIncr:
		o.value = first.(*redis.IntCmd).Val()
	case opMax, opMemberMax, opTopAdd:
		score, err := last.(*redis.FloatCmd).Result()
		if errors.Is(err, redis.Nil) {
			return nil // trimmed away
		}
		o.value = int64(score)
		switch o.kind {
		case opTopAdd:
			o.ok = true
		default:
			o.ok = first.(*redis.IntCmd).Val() == 1
		}
	case opMarkOnce:
		o.ok = first.(*redis.BoolCmd).Val()
	case opDelete, opRemoveMember:
		o.ok = first.(*redis.IntCmd).Val() > 0
	case opWindowAdd:
		for _, v := range last.(*redis.SliceCmd).Val() {
			if s, ok := v.(string); ok {
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("bucket is not an integer: %q", s)
				}
				o.value += n
			}
		}
	case opDistinctAdd:
		o.value = last.(*redis.IntCmd).Val()
	case opMembers:
		start := len(b.entries)
		for _, z := range first.(*redis.ZSliceCmd).Val() {
			member, _ := z.Member.(string)
			b.entries = append(b.entries, Entry{Member: member, Score: int64(z.Score)})
		}
		b.setEntries(i, start)
	}
	return nil
}

// unavailableReplies are the error replies of a server that cannot serve
// right now; any other reply is the op's own failure (e.g. WRONGTYPE).
var unavailableReplies = []string{
	"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY",
	"NOAUTH", "WRONGPASS", "NOPERM", "OOM", "MISCONF", "max number of clients",
}

// unavailable reports whether err means the server was not usable, as
// opposed to an answer about one command.
func unavailable(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true // network, timeout, closed client, exhausted pool
	}
	for _, prefix := range unavailableReplies {
		if redis.HasErrorPrefix(err, prefix) {
			return true
		}
	}
	return false
}
