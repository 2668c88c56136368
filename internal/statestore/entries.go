// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"hash/maphash"
	"strings"
)

// entries is the storage beneath the memory store's operations: keyed
// entries with a TTL, at most max of them, the least recently used evicted
// first. Entries live in fixed-size chunks (no slack from slice growth, no
// big copy) and are linked into the LRU list by index; the index maps a
// 64-bit hash of the key to the first entry with that hash, entries with the
// same hash being chained. So a scalar entry is one entry slot, one small
// map slot and its key. Windows and sets keep their buckets or members in a
// side slice (aux). The caller (Memory) holds the lock.
type entries struct {
	max       int
	hash      func(key string) uint64
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
}

func newEntries(maxEntries int) entries {
	return entries{
		max:   min(max(maxEntries, 1), 1<<30),
		hash:  seededHash(maphash.MakeSeed()),
		index: map[uint64]int32{},
		free:  none,
		head:  none,
		tail:  none,
	}
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

// get returns the live entry for key, nil when there is none, or an error
// when the key holds another kind of value.
func (s *entries) get(key string, k kind, now int64) (*entry, error) {
	i := s.lookup(key, now)
	if i == none {
		return nil, nil
	}
	e := s.at(i)
	if e.kind != k {
		return nil, errWrongKind
	}
	return e, nil
}

// lookup finds a live entry and marks it used; an expired one is removed.
// It returns none when there is no live entry.
func (s *entries) lookup(key string, now int64) int32 {
	i := s.find(key)
	if i == none {
		return none
	}
	if now > s.at(i).expires {
		s.remove(i)
		return none
	}
	s.unlink(i)
	s.pushFront(i)
	return i
}

// find returns the entry holding key, or none.
func (s *entries) find(key string) int32 {
	i, found := s.index[s.hash(key)]
	if !found {
		return none
	}
	for ; i != none; i = s.at(i).chain {
		if s.at(i).key == key {
			return i
		}
	}
	return none
}

func seededHash(seed maphash.Seed) func(string) uint64 {
	return func(key string) uint64 { return maphash.String(seed, key) }
}

func (s *entries) at(i int32) *entry { return &s.chunks[i/chunkSize][i%chunkSize] }

// create adds an entry, evicting the least recently used one when full.
func (s *entries) create(key string, k kind, expires int64) *entry {
	if s.count >= s.max {
		s.remove(s.tail)
		s.evictions++
	}
	i := s.free
	if i != none {
		s.free = s.at(i).next
	} else {
		if int(s.used) == len(s.chunks)*chunkSize {
			s.chunks = append(s.chunks, make([]entry, chunkSize))
		}
		i = s.used
		s.used++
	}
	h := s.hash(key)
	chain, found := s.index[h]
	if !found {
		chain = none
	}
	e := s.at(i)
	*e = entry{key: strings.Clone(key), expires: expires, chain: chain, kind: k}
	s.index[h] = i
	s.count++
	s.pushFront(i)
	s.bytes += entryBytes + int64(len(key))
	switch k {
	case kindWindow:
		e.value = s.newAux(auxValue{})
		s.bytes += windowBytes
	case kindSet:
		e.value = s.newAux(auxValue{members: map[string]int64{}})
	}
	return e
}

func (s *entries) remove(i int32) {
	e := s.at(i)
	s.unlink(i)
	s.unindex(i, e)
	s.count--
	s.bytes -= entryBytes + int64(len(e.key))
	switch e.kind {
	case kindWindow:
		s.bytes -= windowBytes + int64(len(s.aux[e.value].buckets))*bucketBytes
		s.freeAux(e.value)
	case kindSet:
		for member := range s.aux[e.value].members {
			s.bytes -= memberBytes + int64(len(member))
		}
		s.freeAux(e.value)
	}
	*e = entry{next: s.free}
	s.free = i
}

// unindex takes entry i out of its hash chain.
func (s *entries) unindex(i int32, e *entry) {
	h := s.hash(e.key)
	first := s.index[h]
	if first == i {
		if e.chain == none {
			delete(s.index, h)
		} else {
			s.index[h] = e.chain
		}
		return
	}
	for p := s.at(first); p.chain != none; p = s.at(p.chain) {
		if p.chain == i {
			p.chain = e.chain
			return
		}
	}
}

func (s *entries) newAux(v auxValue) int64 {
	if n := len(s.auxFree); n > 0 {
		i := s.auxFree[n-1]
		s.auxFree = s.auxFree[:n-1]
		s.aux[i] = v
		return int64(i)
	}
	s.aux = append(s.aux, v)
	return int64(len(s.aux) - 1)
}

func (s *entries) freeAux(i int64) {
	s.aux[i] = auxValue{}
	s.auxFree = append(s.auxFree, int32(i))
}

// sweep removes up to budget expired entries from the least recently used
// end, so entries nobody touches again do not wait for eviction to go.
func (s *entries) sweep(now int64, budget int) {
	for ; budget > 0 && s.tail != none && now > s.at(s.tail).expires; budget-- {
		s.remove(s.tail)
	}
}

func (s *entries) unlink(i int32) {
	e := s.at(i)
	if e.prev != none {
		s.at(e.prev).next = e.next
	} else {
		s.head = e.next
	}
	if e.next != none {
		s.at(e.next).prev = e.prev
	} else {
		s.tail = e.prev
	}
}

func (s *entries) pushFront(i int32) {
	e := s.at(i)
	e.prev, e.next = none, s.head
	if s.head != none {
		s.at(s.head).prev = i
	}
	s.head = i
	if s.tail == none {
		s.tail = i
	}
}
