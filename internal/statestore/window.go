// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import "time"

// Both backends do the window and time arithmetic here, in milliseconds, so
// they agree to the bucket.

// eventMs is the op's event time, with "unset" and "in the future" read as now.
func eventMs(o *op, nowMs int64) int64 {
	if o.atMs == 0 || o.atMs > nowMs {
		return nowMs
	}
	return o.atMs
}

// windowSpan locates an add in a window of fixed buckets. Bucket i covers
// [i*width, (i+1)*width) ms. The buckets that count for the add are
// [from, at]: those of the window ending in the add's bucket that are still
// live, i.e. within the window ending now. from > at means the add is older
// than the window ending now and is dropped.
func windowSpan(w Window, atMs, nowMs int64) (width, from, at int64) {
	width = w.width()
	at = floorDiv(atMs, width)
	from = floorDiv(nowMs, width) - int64(w.Buckets) + 1
	return width, from, at
}

// windowTTLMs is how long a windowed counter is kept after its last add: one
// bucket more than the window, so a bucket never outlives its key.
func windowTTLMs(w Window) int64 { return w.width() * int64(w.Buckets+1) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Bucket is the index of the bucket of w that holds time ms.
func (w Window) Bucket(ms int64) int64 { return floorDiv(ms, w.width()) }

// Live reports whether an add at ms still counts in the window ending at
// nowMs: its bucket is one of the window's (see windowSpan).
func (w Window) Live(ms, nowMs int64) bool {
	_, from, at := windowSpan(w, ms, nowMs)
	return at >= from
}

// Epoch is the window-long period that holds ms: period i covers
// [i*Length, (i+1)*Length) ms. Sets that rotate once a window (a top-K of
// the window's errors) are keyed by it.
func (w Window) Epoch(ms int64) int64 { return floorDiv(ms, w.Length.Milliseconds()) }

// TTL is how long a key that follows w is kept after its last add.
func (w Window) TTL() time.Duration { return time.Duration(windowTTLMs(w)) * time.Millisecond }
