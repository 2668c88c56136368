// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package statestore keeps the detectors' state: counters, sliding windows,
// dedup marks, bounded top-K and distinct sets, and registries of active
// alerts. It has one small interface, [Store], and two backends with the same
// semantics, op for op:
//
//   - [Memory] (the default): local to one collector, bounded by max_entries
//     with least-recently-used eviction, every entry with a TTL, memory use
//     estimated and reported in [Stats].
//   - [Redis]: shared by collector replicas, so N replicas behind a load
//     balancer count, dedup and alert as one collector would. Every op is
//     made of plain Redis commands (INCRBY, PEXPIRE NX, SET NX PX, ZADD GT CH,
//     HINCRBY, ...), a Claim and the op it decides on are one Lua script,
//     and a whole [Batch] goes out in ONE pipeline. It needs Redis 7.0 or
//     newer (PEXPIRE NX, ZADD GT), and EVALSHA and SCRIPT LOAD.
//
// [WithFallback] wraps a Redis store so that data keeps flowing while Redis is
// unreachable: batches go to local memory, the outage and the recovery are
// logged once each, and Redis is tried again after a back-off.
//
// The API is batch-shaped because a processor handles a batch of spans at a
// time: it collects the ops for the whole batch, applies them once, then
// reads the results.
//
//	b.Reset()
//	for _, ev := range events {
//		refs = append(refs, b.Incr("retry:"+ev.Key, 1, 24*time.Hour))
//	}
//	if err := store.Apply(ctx, &b); err != nil { ... }
//	for _, r := range refs {
//		retries := b.Value(r) - 1
//		...
//	}
//
// Exactly-once decisions across replicas come from the ops that report
// whether THIS call changed the state: [Batch.MarkOnce], [Batch.Max] and
// [Batch.MemberMax] (fire once per level, escalate once per level),
// [Batch.Delete] and [Batch.RemoveMember] (claim a resolution once). When the
// decision depends on a count the same batch changes, [Batch.Claim] takes it
// on the store, on the new count, so that the batch still costs one round
// trip. [Batch.CountOnce] makes a count skip an event the store has seen
// (e.g. a job execution as a span and as a log record), in the same round
// trip.
//
// Nothing here knows pdata or job systems; keys are opaque strings chosen by
// the callers.
package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"
)

// Store applies batches of ops. Implementations are safe for concurrent use.
type Store interface {
	// Apply runs every op of b and fills in its results. An error that wraps
	// ErrUnavailable means the store could not be reached and no result can
	// be trusted; any other error names the ops that failed, and the results
	// of the other ops are valid.
	Apply(ctx context.Context, b *Batch) error
	// Stats reports the store's size for the caller's own telemetry.
	Stats() Stats
	// Close releases the store's connections; it is safe to call twice.
	Close() error
}

// Stats describes a store's local state.
type Stats struct {
	// Entries is the number of keys held in local memory.
	Entries int64
	// Bytes is the estimated memory those entries use.
	Bytes int64
	// Evictions counts entries dropped by the max-entries bound so far
	// (expired entries are not counted).
	Evictions int64
	// Fallback is true while a shared store is unreachable and local memory
	// stands in for it.
	Fallback bool
}

// ErrUnavailable marks errors where the store could not be reached (network,
// timeout, a server that is loading, read-only or out of memory, ...).
var ErrUnavailable = errors.New("state store unavailable")

// Window is a sliding window of fixed buckets: Length split into Buckets
// buckets of equal width, a whole number of milliseconds (rounded down). A
// counter over a window costs Buckets integers whatever the traffic.
type Window struct {
	Length  time.Duration
	Buckets int
}

// maxBuckets bounds the memory and the Redis reply of one windowed counter.
const maxBuckets = 1000

// Validate reports an unusable window.
func (w Window) Validate() error {
	switch {
	case w.Buckets < 1 || w.Buckets > maxBuckets:
		return fmt.Errorf("window buckets must be between 1 and %d, got %d", maxBuckets, w.Buckets)
	case w.Length < time.Duration(w.Buckets)*time.Millisecond:
		return fmt.Errorf("window %v is too short for %d buckets of at least 1ms", w.Length, w.Buckets)
	case w.Length > maxTTL:
		return fmt.Errorf("window %v is longer than %v", w.Length, maxTTL)
	}
	return nil
}

// width is the bucket width in milliseconds (both backends count in ms).
func (w Window) width() int64 { return w.Length.Milliseconds() / int64(w.Buckets) }

// Entry is one member of a set and its score.
type Entry struct {
	Member string
	Score  int64
}

// Option changes how a store is built.
type Option func(*options)

type options struct {
	clock  clockwork.Clock
	outage func(err error)
}

// WithClock sets the clock used for TTLs, windows and retry back-off
// (tests use clockwork.NewFakeClock).
func WithClock(c clockwork.Clock) Option { return func(o *options) { o.clock = c } }

// WithOutageReport has a shared store with a local fallback call report
// with the error when an outage starts, and with nil when it ends (a
// component reports them as its status).
func WithOutageReport(report func(err error)) Option { return func(o *options) { o.outage = report } }

func newOptions(opts []Option) options {
	o := options{clock: clockwork.NewRealClock()}
	for _, apply := range opts {
		apply(&o)
	}
	return o
}
