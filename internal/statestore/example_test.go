// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// A retry detector for jobs without an attempt number: the same job id seen
// again within 24h is a retry. Past 3 retries it fires once per doubling
// (level 1 past 3, level 2 past 6, ...): Max answers OK to exactly one
// replica per new level. When the job succeeds, Delete claims the resolution
// once, and only if an alert had fired.
func Example_retries() {
	store := statestore.NewMemory(100_000)
	ctx := context.Background()
	const job, maxRetries = "sidekiq/HardJob/2f0c4e", 3
	var b statestore.Batch

	for run := 1; run <= 8; run++ {
		b.Reset()
		runs := b.Incr("runs:"+job, 1, 24*time.Hour)
		if err := store.Apply(ctx, &b); err != nil {
			panic(err)
		}
		retries := b.Value(runs) - 1
		level := int64(0)
		for limit := int64(maxRetries); retries > limit; limit *= 2 {
			level++
		}
		if level == 0 {
			continue
		}
		b.Reset()
		fired := b.Max("fired:"+job, level, 24*time.Hour)
		if err := store.Apply(ctx, &b); err != nil {
			panic(err)
		}
		if b.OK(fired) {
			fmt.Printf("excessive_retries firing: %d retries (level %d)\n", retries, level)
		}
	}

	b.Reset()
	resolved := b.Delete("fired:" + job) // the job succeeded
	if err := store.Apply(ctx, &b); err != nil {
		panic(err)
	}
	fmt.Println("resolved:", b.OK(resolved))
	// Output:
	// excessive_retries firing: 4 retries (level 1)
	// excessive_retries firing: 7 retries (level 2)
	// resolved: true
}

// A failure-cluster detector: failures per class in a 1h window of 12
// buckets, the dominant error types in a bounded top-K, and a registry of
// active clusters that a timer walks to resolve them (with hysteresis: below
// half the threshold) exactly once across replicas.
func Example_failureCluster() {
	clock := clockwork.NewFakeClockAt(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	store := statestore.NewMemory(100_000, statestore.WithClock(clock))
	ctx := context.Background()
	hour := statestore.Window{Length: time.Hour, Buckets: 12}
	const threshold = 10
	var b statestore.Batch

	// One incoming batch with 12 PaymentJob failures (one op per class and
	// error type: the processor sums its batch first).
	b.Reset()
	failures := b.WindowAdd("failures:PaymentJob", hour, clock.Now(), 12)
	b.TopAdd("errors:PaymentJob", "Net::ReadTimeout", 9, 20, time.Hour)
	b.TopAdd("errors:PaymentJob", "PG::ConnectionBad", 3, 20, time.Hour)
	top := b.Members("errors:PaymentJob", 1)
	if err := store.Apply(ctx, &b); err != nil {
		panic(err)
	}
	if n := b.Value(failures); n > threshold {
		dominant := b.Entries(top)[0]
		b.Reset()
		active := b.MemberMax("clusters", "PaymentJob", 1, 10_000, 24*time.Hour)
		if err := store.Apply(ctx, &b); err != nil {
			panic(err)
		}
		if b.OK(active) {
			fmt.Printf("failure_cluster firing: PaymentJob %d failures, %s %d%%\n",
				n, dominant.Member, 100*dominant.Score/n)
		}
	}

	// The resolution timer, an hour later: list the active clusters, read
	// their windows (delta 0 only reads), then claim the ones that calmed
	// down: RemoveMember answers OK to one replica only.
	clock.Advance(time.Hour)
	b.Reset()
	list := b.Members("clusters", 100)
	if err := store.Apply(ctx, &b); err != nil {
		panic(err)
	}
	var reads, claims statestore.Batch
	for _, cl := range b.Entries(list) {
		reads.WindowAdd("failures:"+cl.Member, hour, time.Time{}, 0)
	}
	if err := store.Apply(ctx, &reads); err != nil {
		panic(err)
	}
	var calm []statestore.Entry // cluster and its failures in the window
	for i, cl := range b.Entries(list) {
		if n := reads.Value(statestore.Ref(i)); n < threshold/2 {
			claims.RemoveMember("clusters", cl.Member)
			calm = append(calm, statestore.Entry{Member: cl.Member, Score: n})
		}
	}
	if err := store.Apply(ctx, &claims); err != nil {
		panic(err)
	}
	for i, cl := range calm {
		if claims.OK(statestore.Ref(i)) {
			fmt.Printf("failure_cluster resolved: %s, %d failures in the last hour\n", cl.Member, cl.Score)
		}
	}
	// Output:
	// failure_cluster firing: PaymentJob 12 failures, Net::ReadTimeout 75%
	// failure_cluster resolved: PaymentJob, 0 failures in the last hour
}
