// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package queuealert

import (
	"testing"
	"time"
)

// BenchmarkEvaluate is one scrape of 500 queues (the receiver's default
// queue cap) and 50 processes through every default rule, with no
// transition: the common case. One op is one scrape.
func BenchmarkEvaluate(b *testing.B) {
	cfg := NewDefaultConfig()
	e := New(&cfg, 5*time.Minute, "redis:6379", "")
	snap := benchSnapshot(500, 50)
	e.Evaluate(snap) // the first scrape fires what is above its threshold
	b.ReportAllocs()
	for b.Loop() {
		snap.Time = snap.Time.Add(30 * time.Second)
		e.Evaluate(snap)
	}
}
