// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/idhash"
)

// Batch collects ops, then holds their results once a Store applied it.
// Stores copy the keys and members they keep, so a key cut from a large
// payload does not pin it. A Batch is reused with Reset; it is not safe for
// concurrent use.
//
// A key belongs to one family of ops: counters (Incr, MarkOnce and the
// marks of Dedupe), Max, WindowAdd, or sets (TopAdd, DistinctAdd,
// MemberMax, Members, RemoveMember, and the registries of Claim); Delete
// takes any. Mixing families on a key fails the op. Scores and counters are
// int64 and must stay within ±2^53 (Redis keeps sorted set scores as
// float64).
type Batch struct {
	ops     []op
	entries []Entry
	claims  []claimArgs
	lists   []string   // the sets the claims list
	marks   []markArgs // by Mark
	// gates in the order added, and their indexes grouped by op (see
	// groupGates), so that a store reads an op's gates in one slice.
	gates   []gate
	byOp    []int32
	grouped bool
}

// Mark names one event's mark in a Batch (see Batch.Dedupe).
type Mark int32

type markArgs struct {
	key string
	ttl time.Duration
}

// gate is one CountOnce: op's add counts delta more when this Apply set
// mark (or found it set by this Apply).
type gate struct {
	op    Ref
	mark  Mark
	delta int64
}

// Ref names one op of a Batch; it reads that op's results after Apply.
type Ref int

type opKind uint8

const (
	opIncr opKind = iota + 1
	opMax
	opMarkOnce
	opDelete
	opWindowAdd
	opTopAdd
	opDistinctAdd
	opMemberMax
	opMembers
	opRemoveMember
	opClaim
)

var opNames = [...]string{
	opIncr:         "Incr",
	opMax:          "Max",
	opMarkOnce:     "MarkOnce",
	opDelete:       "Delete",
	opWindowAdd:    "WindowAdd",
	opTopAdd:       "TopAdd",
	opDistinctAdd:  "DistinctAdd",
	opMemberMax:    "MemberMax",
	opMembers:      "Members",
	opRemoveMember: "RemoveMember",
	opClaim:        "Claim",
}

func (k opKind) String() string { return opNames[k] }

type op struct {
	kind opKind
	// claim indexes Batch.claims (opClaim).
	claim  int32
	key    string
	member string
	// n is the delta or the value.
	n int64
	// atMs is the event time in Unix milliseconds; 0 means now.
	atMs int64
	// ttl is the key's time to live, or the window length.
	ttl time.Duration
	// limit is the set capacity, the number of members to list, or the
	// number of window buckets.
	limit int
	// src is the op a claim decides on.
	src Ref

	// gateFrom and gates locate the op's gates in Batch.byOp.
	gateFrom, gates int32

	value        int64
	ok           bool
	first, count int32
	// gain is what the op's gates added in this Apply (memory store).
	gain int64
}

func (o *op) window() Window { return Window{Length: o.ttl, Buckets: o.limit} }

// Reset empties the batch and keeps its memory for the next one.
func (b *Batch) Reset() {
	b.ops = b.ops[:0]
	clear(b.entries)
	b.entries = b.entries[:0]
	clear(b.claims)
	b.claims = b.claims[:0]
	clear(b.lists)
	b.lists = b.lists[:0]
	clear(b.marks)
	b.marks = b.marks[:0]
	b.gates = b.gates[:0]
	b.byOp = b.byOp[:0]
	b.grouped = false
}

// Len is the number of ops in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Value is the op's numeric result (see each op for its meaning); 0 before
// Apply or when the op failed.
func (b *Batch) Value(r Ref) int64 { return b.ops[r].value }

// OK is the op's yes/no result (see each op for its meaning); false before
// Apply or when the op failed.
func (b *Batch) OK(r Ref) bool { return b.ops[r].ok }

// Entries is the result of a Members op. The slice belongs to the batch and is
// valid until Reset.
func (b *Batch) Entries(r Ref) []Entry {
	o := &b.ops[r]
	return b.entries[o.first : o.first+o.count : o.first+o.count]
}

// Incr adds delta to a counter and returns Ref whose Value is the counter
// after the add. The TTL starts when the counter is created and is not
// extended by later adds (INCRBY + PEXPIRE NX), so the counter counts within
// a fixed window from its first add.
func (b *Batch) Incr(key string, delta int64, ttl time.Duration) Ref {
	return b.add(op{kind: opIncr, key: key, n: delta, ttl: ttl})
}

// Max keeps the highest value seen under key. Value is the highest value after
// the call; OK is true when this call created or raised it, which is true for
// exactly one caller per new high across replicas. Every call extends the TTL.
func (b *Batch) Max(key string, value int64, ttl time.Duration) Ref {
	return b.add(op{kind: opMax, key: key, n: value, ttl: ttl})
}

// MarkOnce sets a mark that lives for ttl. OK is true for exactly one caller
// while the mark lives (SET NX PX); the TTL is not extended.
func (b *Batch) MarkOnce(key string, ttl time.Duration) Ref {
	return b.add(op{kind: opMarkOnce, key: key, ttl: ttl})
}

// Delete removes key, whatever its kind. OK is true when the key existed, for
// exactly one of several concurrent callers: use it to claim a resolution.
func (b *Batch) Delete(key string) Ref {
	return b.add(op{kind: opDelete, key: key})
}

// WindowAdd adds delta to the bucket of event time at (the zero time means now;
// later than now counts as now) and returns Ref whose Value is the sum of the
// window that ends in at's bucket. Buckets older than the window ending now
// count as zero: an add to one of them is dropped. delta 0 only reads and
// creates nothing. Use the same Window for a key every time.
func (b *Batch) WindowAdd(key string, w Window, at time.Time, delta int64) Ref {
	return b.add(op{kind: opWindowAdd, key: key, n: delta, atMs: unixMilli(at), ttl: w.Length, limit: w.Buckets})
}

// TopAdd adds delta to member's count in the bounded set key and keeps only
// the capacity highest counts (ties: the lexicographically smaller member goes
// first), so a set of error types per class stays small. Value is member's
// count after the add; OK is false when member did not make the cut (a new
// member starts from its own delta, so give the set room beyond the top you
// report: e.g. capacity 20 for a top 5). Every call extends the TTL. Read the
// top with Members.
func (b *Batch) TopAdd(key, member string, delta int64, capacity int, ttl time.Duration) Ref {
	return b.add(op{kind: opTopAdd, key: key, member: member, n: delta, limit: capacity, ttl: ttl})
}

// DistinctAdd records member as seen at event time at (zero means now; later
// than now counts as now) in the set key, forgets members not seen within
// window, keeps at most the capacity most recently seen, and returns Ref
// whose Value is the number of distinct members left (e.g. the classes one
// error fingerprint hit in the last 5 minutes). Members lists them, most
// recent first, with their last-seen time in Unix milliseconds as Score.
func (b *Batch) DistinctAdd(key, member string, at time.Time, window time.Duration, capacity int) Ref {
	return b.add(op{kind: opDistinctAdd, key: key, member: member, atMs: unixMilli(at), ttl: window, limit: capacity})
}

// MemberMax raises member's value in the set key to value if it is higher
// (or adds member), then keeps only the capacity highest values. Value is
// member's value after the call (0 when it did not make the cut); OK is true
// when this call added or raised member and it was kept, for exactly one
// caller per new high across replicas. Every call extends the TTL.
//
// It is the registry of active alerts: MemberMax(set, alertID, level) fires
// and escalates exactly once per level, Members lists what is active (for a
// timer that resolves), RemoveMember claims the resolution exactly once.
func (b *Batch) MemberMax(key, member string, value int64, capacity int, ttl time.Duration) Ref {
	return b.add(op{kind: opMemberMax, key: key, member: member, n: value, limit: capacity, ttl: ttl})
}

// Members lists up to limit members of the set key (written by TopAdd,
// DistinctAdd or MemberMax), highest score first (ties: the lexicographically
// greater member first). Read them with Entries.
func (b *Batch) Members(key string, limit int) Ref {
	return b.add(op{kind: opMembers, key: key, limit: limit})
}

// RemoveMember removes member from the set key. OK is true when this call
// removed it, for exactly one of several concurrent callers.
func (b *Batch) RemoveMember(key, member string) Ref {
	return b.add(op{kind: opRemoveMember, key: key, member: member})
}

// Dedupe names one event for CountOnce: key (e.g. a hash of a job
// execution's trace and span ids, see AppendMark) is its mark, which the
// store keeps for ttl once it counted the event.
func (b *Batch) Dedupe(key string, ttl time.Duration) Mark {
	b.marks = append(b.marks, markArgs{key: key, ttl: ttl})
	return Mark(len(b.marks) - 1)
}

// CountOnce counts event m once in op r, an Incr, a WindowAdd or a TopAdd:
// the op adds delta more (to its own delta, which then leaves the event
// out) only when this Apply is the first to see m's mark while it lives
// (SET NX PX). So an event reaching the store twice, from two signals (a
// job's span and its log record), two pipelines or two replicas, counts
// once. One mark may gate several ops of a batch, and counts in each (an
// execution in a failures and an executions window): the caller leaves
// out the repeats of an event within its batch. An op with gates still
// reads its count when none counts (delta 0 reads, as WindowAdd's).
//
// The ops with gates run, in the order added, after the batch's other ops,
// with the claims (a Lua script on Redis); so does a claim's op. A gate
// whose mark is a key of another kind fails its op, and the marks set
// before it in that op stay set.
func (b *Batch) CountOnce(r Ref, m Mark, delta int64) {
	b.gates = append(b.gates, gate{op: r, mark: m, delta: delta})
	b.grouped = false
}

// AppendMark appends the CountOnce mark of one execution to dst: prefix,
// then the id hash (internal/idhash) of its trace and span ids in 16 hex
// digits, so that the key is short and the same on every replica.
func AppendMark(dst []byte, prefix string, traceID [16]byte, spanID [8]byte) []byte {
	sum := idhash.New().Bytes(traceID[:]).Bytes(spanID[:]).Sum64()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], sum)
	return hex.AppendEncode(append(dst, prefix...), b[:])
}

// gated says the op has gates (once grouped).
func (o *op) gated() bool { return o.gates > 0 }

// scripted says op i runs after the plain ops, in order: it has gates, or a
// claim decides on it, or it is a claim.
func (b *Batch) scripted(i int) bool { return b.ops[i].gated() || b.claimed(i) }

// opGates are op i's gates.
func (b *Batch) opGates(o *op) []int32 { return b.byOp[o.gateFrom : o.gateFrom+o.gates] }

// groupGates indexes the gates by op (a counting sort: gates of different
// ops may be added interleaved), once per batch.
func (b *Batch) groupGates() {
	if b.grouped {
		return
	}
	b.grouped = true
	for i := range b.ops {
		b.ops[i].gateFrom, b.ops[i].gates = 0, 0
	}
	for _, g := range b.gates {
		if int(g.op) >= 0 && int(g.op) < len(b.ops) {
			b.ops[g.op].gates++
		}
	}
	var at int32
	for i := range b.ops {
		o := &b.ops[i]
		o.gateFrom, at = at, at+o.gates
		o.gates = 0
	}
	b.byOp = slices.Grow(b.byOp[:0], int(at))[:at]
	for k, g := range b.gates {
		if int(g.op) >= 0 && int(g.op) < len(b.ops) {
			o := &b.ops[g.op]
			b.byOp[o.gateFrom+o.gates] = int32(k)
			o.gates++
		}
	}
}

func (b *Batch) add(o op) Ref {
	b.ops = append(b.ops, o)
	return Ref(len(b.ops) - 1)
}

// clearResults forgets the results of a failed attempt before the batch is
// applied elsewhere.
func (b *Batch) clearResults() {
	for i := range b.ops {
		o := &b.ops[i]
		o.value, o.ok, o.first, o.count, o.gain = 0, false, 0, 0, 0
	}
	clear(b.entries)
	b.entries = b.entries[:0]
}

// setEntries records b.entries[first:] as the entries of op i.
func (b *Batch) setEntries(i, first int) {
	b.ops[i].first = int32(first)
	b.ops[i].count = int32(len(b.entries) - first)
}

// validate checks every op before a store runs any, so both backends reject
// the same batches.
func (b *Batch) validate() error {
	for _, m := range b.marks {
		if m.key == "" {
			return errors.New("Dedupe: empty mark")
		}
		if err := positiveTTL(m.ttl); err != nil {
			return fmt.Errorf("Dedupe %q: %w", m.key, err)
		}
	}
	for _, g := range b.gates {
		if err := b.validateGate(g); err != nil {
			return fmt.Errorf("CountOnce on op %d: %w", g.op, err)
		}
	}
	b.groupGates()
	for i := range b.ops {
		err := b.ops[i].validate()
		if err == nil && b.ops[i].kind == opClaim {
			err = b.validateClaim(i)
		}
		if err != nil {
			return fmt.Errorf("op %d (%s %q): %w", i, b.ops[i].kind, b.ops[i].key, err)
		}
	}
	return nil
}

func (o *op) validate() error {
	if o.key == "" {
		return errors.New("empty key")
	}
	switch o.kind {
	case opIncr, opMax, opMarkOnce:
		return positiveTTL(o.ttl)
	case opWindowAdd:
		return o.window().Validate()
	case opTopAdd, opMemberMax, opDistinctAdd:
		if o.limit < 1 {
			return fmt.Errorf("capacity must be >= 1, got %d", o.limit)
		}
		return positiveTTL(o.ttl)
	case opMembers:
		if o.limit < 1 {
			return fmt.Errorf("limit must be >= 1, got %d", o.limit)
		}
	}
	return nil
}

func (b *Batch) validateGate(g gate) error {
	if int(g.op) < 0 || int(g.op) >= len(b.ops) {
		return errors.New("no such op")
	}
	if k := b.ops[g.op].kind; k != opIncr && k != opWindowAdd && k != opTopAdd {
		return fmt.Errorf("cannot count once on %s", k)
	}
	if int(g.mark) < 0 || int(g.mark) >= len(b.marks) {
		return errors.New("no such mark")
	}
	return nil
}

// maxTTL keeps expiry times far from int64 overflow.
const maxTTL = 100 * 365 * 24 * time.Hour

// positiveTTL requires a TTL Redis can express (whole milliseconds): an entry
// without one would never leave a shared store.
func positiveTTL(ttl time.Duration) error {
	if ttl < time.Millisecond || ttl > maxTTL {
		return fmt.Errorf("ttl must be between 1ms and %v, got %v", maxTTL, ttl)
	}
	return nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// opErrors keeps the first per-op failure and counts the others, so a batch
// of a million bad ops makes one short error.
type opErrors struct {
	n     int
	first error
}

func (e *opErrors) add(o *op, err error) {
	if e.n == 0 {
		e.first = fmt.Errorf("%s %q: %w", o.kind, o.key, err)
	}
	e.n++
}

func (e *opErrors) err() error {
	switch e.n {
	case 0:
		return nil
	case 1:
		return e.first
	}
	return fmt.Errorf("%d ops failed, first: %w", e.n, e.first)
}
