// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package idhash is the one hash of the project's stable ids and store
// keys: 64-bit FNV-1a, written into without allocating. Alert ids, job keys
// and execution marks must come out the same on every replica and in every
// release, so the function never changes (FNV-1a is fixed by its spec, has
// no seed, and is what alert ids have always been).
package idhash // import "github.com/otelcol-jobs/otelcol-jobs/internal/idhash"

const (
	offset64 = 14695981039346656037
	prime64  = 1099511628211
)

// Hash is a running FNV-1a hash; the zero value is not one: start with New.
type Hash uint64

// New starts a hash.
func New() Hash { return offset64 }

// String adds s.
func (h Hash) String(s string) Hash {
	for i := 0; i < len(s); i++ {
		h = (h ^ Hash(s[i])) * prime64
	}
	return h
}

// Bytes adds b.
func (h Hash) Bytes(b []byte) Hash {
	for _, c := range b {
		h = (h ^ Hash(c)) * prime64
	}
	return h
}

// Byte adds c: a separator between parts.
func (h Hash) Byte(c byte) Hash { return (h ^ Hash(c)) * prime64 }

// Sum64 is the hash so far.
func (h Hash) Sum64() uint64 { return uint64(h) }
