// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
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
//
// The pipeline is not a transaction: ops of concurrent replicas interleave
// between commands, which every op above tolerates (the exactly-once answers
// come from single commands: ZADD CH, SET NX, DEL, ZREM). Every key gets a
// TTL, so nothing outlives its use. Bucket numbers and cutoffs are computed
// from the store's clock, like the memory store's.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	clock   clockwork.Clock
	close   func() error
}

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
		spans[i] = s.queue(ctx, pipe, &b.ops[i], nowMs)
	}
	if pipe.Len() == 0 {
		return nil // only adds older than their window
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		for _, c := range cmds {
			if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) && unavailable(err) {
				return fmt.Errorf("%w: redis: %w", ErrUnavailable, err)
			}
		}
	}
	var errs opErrors
	for i := range b.ops {
		if sp := spans[i]; sp.hi > sp.lo {
			if err := read(b, i, cmds[sp.lo:sp.hi], sp); err != nil {
				errs.add(&b.ops[i], err)
			}
		}
	}
	return errs.err()
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
