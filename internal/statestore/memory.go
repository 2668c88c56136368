// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"cmp"
	"context"
	"errors"
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
// This file has the store's operations; the storage beneath them (LRU, TTL,
// the compact entry layout that gets to that size) is entries, in
// entries.go.
type Memory struct {
	clock clockwork.Clock

	mu sync.Mutex
	entries
	// applies numbers the Apply calls, for the marks of CountOnce.
	applies int64
}

var errWrongKind = errors.New("key holds another kind of value")

// NewMemory returns a local store holding at most maxEntries entries (at
// least 1, at most 2^30).
func NewMemory(maxEntries int, opts ...Option) *Memory {
	o := newOptions(opts)
	return &Memory{clock: o.clock, entries: newEntries(maxEntries)}
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

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
