// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"cmp"
	"context"
	"errors"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/jonboulle/clockwork"
)

// Memory is the local store: every entry has a TTL, and at most maxEntries
// entries are kept, the least recently used going first. One scalar entry
// (a counter, a max, a mark) with a 40-byte key costs about 135 bytes of heap
// (TestMemoryBytesPerEntry, BenchmarkMemoryBytesPerEntry).
//
// To get there, entries live in fixed-size chunks (no slack from slice
// growth, no big copy) and are linked into the LRU list by index; the index
// maps a 64-bit hash of the key to the first entry with that hash, entries
// with the same hash being chained. So a scalar entry is one entry slot, one
// small map slot and its key. Windows and sets keep their buckets or members
// in a side slice.
type Memory struct {
	clock clockwork.Clock
	max   int
	hash  func(key string) uint64

	mu        sync.Mutex
	index     map[uint64]int32
	chunks    [][]entry
	count     int   // live entries
	used      int32 // entry slots handed out so far
	free      int32 // head of the list of free entries, linked by next
	head      int32 // most recently used
	tail      int32 // least recently used
	aux       []auxValue
	auxFree   []int32
	bytes     int64
	evictions int64
	// applies numbers the Apply calls, for the marks of CountOnce.
	applies int64
}

// chunkSize entries are allocated at a time.
const chunkSize = 1024

type kind uint8

const (
	kindString kind = iota + 1 // Incr and MarkOnce (a Redis string)
	kindMax                    // Max (a one-member sorted set)
	kindWindow                 // WindowAdd (a hash of buckets)
	kindSet                    // TopAdd, DistinctAdd, MemberMax (a sorted set)
)

type entry struct {
	key string
	// value is the scalar, or for windows and sets the index of the aux value.
	value int64
	// expires is in Unix nanoseconds; the entry is gone once the clock passes it.
	expires    int64
	prev, next int32
	// chain is the next entry whose key has the same hash.
	chain int32
	kind  kind
}

type auxValue struct {
	buckets []bucket         // kindWindow, a ring indexed by bucket number
	members map[string]int64 // kindSet
}

type bucket struct{ idx, n int64 }

// Estimated sizes for Stats.Bytes (plus the bytes of keys and members): an
// entry slot, its map slot and the key's allocation rounding (measured by
// TestMemoryBoundedByMaxEntries); a window and its buckets; a set member's
// map slot.
const (
	entryBytes  = 88
	windowBytes = 48
	bucketBytes = 16
	memberBytes = 64
)

const none = int32(-1)

var errWrongKind = errors.New("key holds another kind of value")

// NewMemory returns a local store holding at most maxEntries entries (at
// least 1, at most 2^30).
func NewMemory(maxEntries int, opts ...Option) *Memory {
	o := newOptions(opts)
	return &Memory{
		clock: o.clock,
		max:   min(max(maxEntries, 1), 1<<30),
		hash:  seededHash(maphash.MakeSeed()),
		index: map[uint64]int32{},
		free:  none,
		head:  none,
		tail:  none,
	}
}

// Apply implements Store.
func (m *Memory) Apply(_ context.Context, b *Batch) error {
	if err := b.validate(); err != nil {
		return err
	}
	now := m.clock.Now()
	t := times{ns: now.UnixNano(), ms: now.UnixMilli()}

	m.mu.Lock()
	defer m.mu.Unlock()
	m.applies++
	m.sweep(t.ns, len(b.ops)+len(b.gates)+16)
	var errs opErrors
	for i := range b.ops {
		if b.scripted(i) {
			continue
		}
		if err := m.apply(b, i, t); err != nil {
			errs.add(&b.ops[i], err)
		}
	}
	// Then, in order, what the Redis store runs in its script: the ops
	// with gates and the claims, each with its op.
	for i := range b.ops {
		o := &b.ops[i]
		if o.kind == opClaim || !b.scripted(i) {
			continue
		}
		claim := i + 1
		if claim == len(b.ops) || b.ops[claim].kind != opClaim {
			claim = -1
		}
		err := m.countGates(b, o, t)
		if err == nil {
			err = m.apply(b, i, t)
		}
		switch {
		case err != nil:
			errs.add(o, err)
			if claim > 0 {
				errs.add(&b.ops[claim], err)
			}
		case claim > 0:
			if err := m.claim(b, claim, t); err != nil {
				errs.add(&b.ops[claim], err)
			}
		}
	}
	return errs.err()
}

// countGates sets o.gain, the deltas of o's gates whose mark this Apply set
// first (a mark's value is the number of the Apply that set it).
func (m *Memory) countGates(b *Batch, o *op, t times) error {
	o.gain = 0
	for _, k := range b.opGates(o) {
		g := &b.gates[k]
		mark := &b.marks[g.mark]
		e, err := m.get(mark.key, kindString, t.ns)
		switch {
		case err != nil:
			return err
		case e == nil:
			m.create(mark.key, kindString, t.ns+int64(mark.ttl)).value = m.applies
		case e.value != m.applies:
			continue
		}
		o.gain += g.delta
	}
	return nil
}

// Stats implements Store.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Stats{Entries: int64(m.count), Bytes: m.bytes, Evictions: m.evictions}
}

// Close implements Store; the memory is released with the Memory itself.
func (*Memory) Close() error { return nil }

type times struct{ ns, ms int64 }

func (m *Memory) apply(b *Batch, i int, t times) error {
	o := &b.ops[i]
	switch o.kind {
	case opIncr:
		e, err := m.get(o.key, kindString, t.ns)
		if err != nil {
			return err
		}
		if e == nil {
			e = m.create(o.key, kindString, t.ns+int64(o.ttl))
		}
		e.value += o.n + o.gain
		o.value = e.value
	case opMax:
		e, err := m.get(o.key, kindMax, t.ns)
		if err != nil {
			return err
		}
		if e == nil {
			e = m.create(o.key, kindMax, 0)
			e.value, o.ok = o.n, true
		} else if o.n > e.value {
			e.value, o.ok = o.n, true
		}
		e.expires = t.ns + int64(o.ttl)
		o.value = e.value
	case opMarkOnce:
		if m.lookup(o.key, t.ns) == none {
			m.create(o.key, kindString, t.ns+int64(o.ttl)).value = 1
			o.ok = true
		}
	case opDelete:
		if i := m.lookup(o.key, t.ns); i != none {
			m.remove(i)
			o.ok = true
		}
	case opWindowAdd:
		return m.windowAdd(o, t)
	case opTopAdd, opDistinctAdd, opMemberMax:
		return m.setAdd(o, t)
	case opMembers:
		first := len(b.entries)
		if err := m.list(b, o.key, o.limit, t.ns); err != nil {
			return err
		}
		b.setEntries(i, first)
	case opRemoveMember:
		var err error
		o.ok, err = m.removeMember(o.key, o.member, t.ns)
		return err
	}
	return nil
}

// list appends up to limit members of the set key to b.entries, highest
// score first.
func (m *Memory) list(b *Batch, key string, limit int, now int64) error {
	e, err := m.get(key, kindSet, now)
	if e == nil || err != nil {
		return err
	}
	first := len(b.entries)
	for member, score := range m.aux[e.value].members {
		b.entries = append(b.entries, Entry{Member: member, Score: score})
	}
	listed := b.entries[first:]
	slices.SortFunc(listed, func(x, y Entry) int { return compareMembers(y, x) })
	clear(listed[min(limit, len(listed)):])
	b.entries = b.entries[:first+min(limit, len(listed))]
	return nil
}

// removeMember removes member from the set key and reports whether it was
// there; the emptied set goes.
func (m *Memory) removeMember(key, member string, now int64) (bool, error) {
	e, err := m.get(key, kindSet, now)
	if e == nil || err != nil {
		return false, err
	}
	members := m.aux[e.value].members
	if _, ok := members[member]; !ok {
		return false, nil
	}
	m.deleteMember(members, member)
	if len(members) == 0 {
		m.remove(m.find(key))
	}
	return true, nil
}

// claim applies claim op i to the count left by the op before it (see
// Batch.Claim). Every key it touches is checked before anything changes, so
// a failed claim changes nothing, as on Redis.
func (m *Memory) claim(b *Batch, i int, t times) error {
	o, src := &b.ops[i], &b.ops[i-1]
	c := b.claimOf(o)
	var of int64
	if c.of != "" {
		w := src.window()
		if _, from, at := windowSpan(w, eventMs(src, t.ms), t.ms); from <= at {
			var err error
			if of, err = m.windowSum(c.of, from, at, t.ns); err != nil {
				return err
			}
		}
	}
	action, level := c.decide(o.n, src.value, of)
	if action != claimNothing {
		for _, key := range b.listed(c) {
			if _, err := m.get(key, kindSet, t.ns); err != nil {
				return err
			}
		}
	}
	value, ok := o.n, false
	switch action {
	case claimRaise:
		raise := op{kind: opMemberMax, key: o.key, member: o.member, n: level, limit: o.limit, ttl: o.ttl}
		if err := m.setAdd(&raise, t); err != nil {
			return err
		}
		value, ok = raise.value, raise.ok
	case claimResolve:
		removed, err := m.removeMember(o.key, o.member, t.ns)
		if err != nil {
			return err
		}
		value, ok = 0, removed
	}
	if c.final {
		if j := m.lookup(src.key, t.ns); j != none {
			m.remove(j)
		}
	}
	o.value, o.ok = value, ok
	if ok {
		first := len(b.entries)
		for _, key := range b.listed(c) {
			_ = m.list(b, key, c.listLimit, t.ns) // kinds checked above
		}
		b.setEntries(i, first)
	}
	return nil
}

func (m *Memory) windowAdd(o *op, t times) error {
	delta := o.n + o.gain
	w := o.window()
	_, from, at := windowSpan(w, eventMs(o, t.ms), t.ms)
	if from > at {
		return nil // older than the window ending now
	}
	e, err := m.get(o.key, kindWindow, t.ns)
	if err != nil {
		return err
	}
	if e == nil {
		if delta == 0 {
			return nil
		}
		e = m.create(o.key, kindWindow, 0)
	}
	ring := m.aux[e.value].buckets
	if len(ring) != w.Buckets {
		// A new counter, or one whose window changed: start afresh.
		m.bytes += int64(w.Buckets-len(ring)) * bucketBytes
		ring = make([]bucket, w.Buckets)
		for j := range ring {
			ring[j].idx = math.MinInt64
		}
		m.aux[e.value].buckets = ring
	}
	if delta != 0 {
		slot := &ring[floorMod(at, int64(w.Buckets))]
		if slot.idx < at {
			*slot = bucket{idx: at}
		}
		if slot.idx == at {
			slot.n += delta
		}
		e.expires = t.ns + windowTTLMs(w)*1e6
	}
	o.value = sumBuckets(ring, from, at)
	return nil
}

// windowSum is the sum of the window key's buckets [from, at].
func (m *Memory) windowSum(key string, from, at, now int64) (int64, error) {
	e, err := m.get(key, kindWindow, now)
	if e == nil || err != nil {
		return 0, err
	}
	return sumBuckets(m.aux[e.value].buckets, from, at), nil
}

func sumBuckets(ring []bucket, from, at int64) int64 {
	var sum int64
	for _, bk := range ring {
		if bk.idx >= from && bk.idx <= at {
			sum += bk.n
		}
	}
	return sum
}

func (m *Memory) setAdd(o *op, t times) error {
	e, err := m.get(o.key, kindSet, t.ns)
	if err != nil {
		return err
	}
	var cutoff int64 // DistinctAdd forgets members last seen at or before it
	value := o.n
	if o.kind == opDistinctAdd {
		value = eventMs(o, t.ms)
		cutoff = t.ms - o.ttl.Milliseconds()
		if e == nil && value <= cutoff {
			return nil
		}
	}
	if e == nil {
		e = m.create(o.key, kindSet, 0)
	}
	members := m.aux[e.value].members
	old, present := members[o.member]
	changed := false
	switch {
	case o.kind == opTopAdd:
		value, changed = old+o.n+o.gain, true
	case !present || value > old:
		changed = true
	}
	if changed {
		if !present {
			m.bytes += memberBytes + int64(len(o.member))
			members[strings.Clone(o.member)] = value
		} else {
			members[o.member] = value
		}
	}
	if o.kind == opDistinctAdd {
		for member, seen := range members {
			if seen <= cutoff {
				m.deleteMember(members, member)
			}
		}
	}
	for len(members) > o.limit {
		m.deleteMember(members, lowestMember(members))
	}
	if len(members) == 0 {
		m.remove(m.find(o.key))
		return nil
	}
	e.expires = t.ns + int64(o.ttl)
	if o.kind == opDistinctAdd {
		o.value = int64(len(members))
		return nil
	}
	o.value, o.ok = members[o.member]
	o.ok = o.ok && changed
	return nil
}

func (m *Memory) deleteMember(members map[string]int64, member string) {
	m.bytes -= memberBytes + int64(len(member))
	delete(members, member)
}

// compareMembers orders set members as Redis orders a sorted set: by score,
// then by member bytes.
func compareMembers(x, y Entry) int {
	if c := cmp.Compare(x.Score, y.Score); c != 0 {
		return c
	}
	return strings.Compare(x.Member, y.Member)
}

// lowestMember is the member ZREMRANGEBYRANK 0 0 would remove.
func lowestMember(members map[string]int64) string {
	var low Entry
	first := true
	for member, score := range members {
		if e := (Entry{member, score}); first || compareMembers(e, low) < 0 {
			low, first = e, false
		}
	}
	return low.Member
}

// get returns the live entry for key, nil when there is none, or an error
// when the key holds another kind of value.
func (m *Memory) get(key string, k kind, now int64) (*entry, error) {
	i := m.lookup(key, now)
	if i == none {
		return nil, nil
	}
	e := m.at(i)
	if e.kind != k {
		return nil, errWrongKind
	}
	return e, nil
}

// lookup finds a live entry and marks it used; an expired one is removed.
// It returns none when there is no live entry.
func (m *Memory) lookup(key string, now int64) int32 {
	i := m.find(key)
	if i == none {
		return none
	}
	if now > m.at(i).expires {
		m.remove(i)
		return none
	}
	m.unlink(i)
	m.pushFront(i)
	return i
}

// find returns the entry holding key, or none.
func (m *Memory) find(key string) int32 {
	i, found := m.index[m.hash(key)]
	if !found {
		return none
	}
	for ; i != none; i = m.at(i).chain {
		if m.at(i).key == key {
			return i
		}
	}
	return none
}

func seededHash(seed maphash.Seed) func(string) uint64 {
	return func(key string) uint64 { return maphash.String(seed, key) }
}

func (m *Memory) at(i int32) *entry { return &m.chunks[i/chunkSize][i%chunkSize] }

// create adds an entry, evicting the least recently used one when full.
func (m *Memory) create(key string, k kind, expires int64) *entry {
	if m.count >= m.max {
		m.remove(m.tail)
		m.evictions++
	}
	i := m.free
	if i != none {
		m.free = m.at(i).next
	} else {
		if int(m.used) == len(m.chunks)*chunkSize {
			m.chunks = append(m.chunks, make([]entry, chunkSize))
		}
		i = m.used
		m.used++
	}
	h := m.hash(key)
	chain, found := m.index[h]
	if !found {
		chain = none
	}
	e := m.at(i)
	*e = entry{key: strings.Clone(key), expires: expires, chain: chain, kind: k}
	m.index[h] = i
	m.count++
	m.pushFront(i)
	m.bytes += entryBytes + int64(len(key))
	switch k {
	case kindWindow:
		e.value = m.newAux(auxValue{})
		m.bytes += windowBytes
	case kindSet:
		e.value = m.newAux(auxValue{members: map[string]int64{}})
	}
	return e
}

func (m *Memory) remove(i int32) {
	e := m.at(i)
	m.unlink(i)
	m.unindex(i, e)
	m.count--
	m.bytes -= entryBytes + int64(len(e.key))
	switch e.kind {
	case kindWindow:
		m.bytes -= windowBytes + int64(len(m.aux[e.value].buckets))*bucketBytes
		m.freeAux(e.value)
	case kindSet:
		for member := range m.aux[e.value].members {
			m.bytes -= memberBytes + int64(len(member))
		}
		m.freeAux(e.value)
	}
	*e = entry{next: m.free}
	m.free = i
}

// unindex takes entry i out of its hash chain.
func (m *Memory) unindex(i int32, e *entry) {
	h := m.hash(e.key)
	first := m.index[h]
	if first == i {
		if e.chain == none {
			delete(m.index, h)
		} else {
			m.index[h] = e.chain
		}
		return
	}
	for p := m.at(first); p.chain != none; p = m.at(p.chain) {
		if p.chain == i {
			p.chain = e.chain
			return
		}
	}
}

func (m *Memory) newAux(v auxValue) int64 {
	if n := len(m.auxFree); n > 0 {
		i := m.auxFree[n-1]
		m.auxFree = m.auxFree[:n-1]
		m.aux[i] = v
		return int64(i)
	}
	m.aux = append(m.aux, v)
	return int64(len(m.aux) - 1)
}

func (m *Memory) freeAux(i int64) {
	m.aux[i] = auxValue{}
	m.auxFree = append(m.auxFree, int32(i))
}

// sweep removes up to budget expired entries from the least recently used
// end, so entries nobody touches again do not wait for eviction to go.
func (m *Memory) sweep(now int64, budget int) {
	for ; budget > 0 && m.tail != none && now > m.at(m.tail).expires; budget-- {
		m.remove(m.tail)
	}
}

func (m *Memory) unlink(i int32) {
	e := m.at(i)
	if e.prev != none {
		m.at(e.prev).next = e.next
	} else {
		m.head = e.next
	}
	if e.next != none {
		m.at(e.next).prev = e.prev
	} else {
		m.tail = e.prev
	}
}

func (m *Memory) pushFront(i int32) {
	e := m.at(i)
	e.prev, e.next = none, m.head
	if m.head != none {
		m.at(m.head).prev = i
	}
	m.head = i
	if m.tail == none {
		m.tail = i
	}
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
