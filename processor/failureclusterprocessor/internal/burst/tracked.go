// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import "github.com/hashicorp/golang-lru/v2/simplelru"

// subject is the part of a tracked class or fingerprint that tracked
// needs: its hash and the alert level this replica knows it at.
type subject struct {
	hash  uint64
	level int64 // 0 = not firing
}

func (s *subject) known() *subject { return s }

// tracked holds the states of one kind of alert subject a replica knows,
// least recently seen forgotten first, and indexes those known to fire so
// that a sweep can update them without walking every state. Used with
// the detector's mutex held.
type tracked[S interface{ known() *subject }] struct {
	*simplelru.LRU[uint64, S]
	firing  map[uint64]S // level > 0
	evicted int64
}

func newTracked[S interface{ known() *subject }](size int) (*tracked[S], error) {
	t := &tracked[S]{firing: make(map[uint64]S)}
	lru, err := simplelru.NewLRU(size, func(h uint64, _ S) {
		t.evicted++
		delete(t.firing, h)
	})
	if err != nil {
		return nil, err
	}
	t.LRU = lru
	return t, nil
}

// setLevel records st's known level.
func (t *tracked[S]) setLevel(st S, level int64) {
	k := st.known()
	k.level = level
	if level <= 0 {
		delete(t.firing, k.hash)
		return
	}
	if _, ok := t.Peek(k.hash); ok {
		t.firing[k.hash] = st
	}
}

// refresh makes the known levels those of the registry, by hash: a state
// absent from it no longer fires.
func (t *tracked[S]) refresh(registry map[uint64]int64) {
	for h, st := range t.firing {
		if _, ok := registry[h]; !ok {
			st.known().level = 0
			delete(t.firing, h)
		}
	}
	for h, level := range registry {
		if st, ok := t.Peek(h); ok {
			st.known().level = level
			t.firing[h] = st
		}
	}
}
