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
// (level 1 past 3, level 2 past 6, ...). The Claim on each run's count
// decides on the store, in the same round trip, and answers OK to exactly
// one replica per new level. When the job succeeds, a Final claim resolves
// the alert once, only if the count calls for one, and forgets the count.
func Example_retries() {
	store := statestore.NewMemory(100_000)
	ctx := context.Background()
	const job = "sidekiq/HardJob/2f0c4e"
	alert := statestore.Claim{
		Set: "alert:" + job, Member: "level", Capacity: 1, TTL: 24 * time.Hour,
		Rule: statestore.Rule{Threshold: 3, Factor: 2, Base: 1}, // retries are runs - 1
	}
	var b statestore.Batch

	for run := 1; run <= 9; run++ {
		b.Reset()
		runs := b.Incr("runs:"+job, 1, 24*time.Hour)
		claim := alert
		claim.Final = run == 9 // the job succeeded
		fired := b.Claim(runs, claim)
		if err := store.Apply(ctx, &b); err != nil {
			panic(err)
		}
		switch {
		case b.OK(fired) && b.Value(fired) > 0:
			fmt.Printf("excessive_retries firing: %d retries (level %d)\n", b.Value(runs)-1, b.Value(fired))
		case b.OK(fired):
			fmt.Printf("excessive_retries resolved after %d retries\n", b.Value(runs)-1)
		}
	}
	// Output:
	// excessive_retries firing: 4 retries (level 1)
	// excessive_retries firing: 7 retries (level 2)
	// excessive_retries resolved after 8 retries
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
	rule := statestore.Rule{Threshold: 10, Factor: 2, Calm: 5} // resolve below half
	var b statestore.Batch

	// One incoming batch with 12 PaymentJob failures (one op per class and
	// error type: the processor sums its batch first), then the claim on the
	// window's new count: fire past 10, escalate at each doubling, with the
	// dominant error type listed when it fires.
	b.Reset()
	b.TopAdd("errors:PaymentJob", "Net::ReadTimeout", 9, 20, time.Hour)
	b.TopAdd("errors:PaymentJob", "PG::ConnectionBad", 3, 20, time.Hour)
	failures := b.WindowAdd("failures:PaymentJob", hour, clock.Now(), 12)
	active := b.Claim(failures, statestore.Claim{
		Set: "clusters", Member: "PaymentJob", Capacity: 10_000, TTL: 24 * time.Hour,
		Rule: rule,
		List: []string{"errors:PaymentJob"}, ListLimit: 1,
	})
	if err := store.Apply(ctx, &b); err != nil {
		panic(err)
	}
	if b.OK(active) {
		n, dominant := b.Value(failures), b.Entries(active)[0]
		fmt.Printf("failure_cluster firing: PaymentJob %d failures, %s %d%%\n",
			n, dominant.Member, 100*dominant.Score/n)
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
		if n := reads.Value(statestore.Ref(i)); rule.IsCalm(n, 0) {
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

// One execution reaching the store twice, as its span (in a traces
// pipeline) and as its log record (in a logs pipeline), both carrying its
// trace and span ids: marked with Dedupe, it counts once; the log record
// reads the count its span left.
func Example_dedupe() {
	store := statestore.NewMemory(100_000)
	ctx := context.Background()
	trace := [16]byte{0x4b, 0xf9, 0x2f, 0x35}
	span := [8]byte{0x00, 0xf0, 0x67, 0xaa}
	var b statestore.Batch
	for _, signal := range []string{"span", "log record"} {
		b.Reset()
		runs := b.Incr("runs:sidekiq/HardJob/2f0c4e", 0, 24*time.Hour)
		mark := b.Dedupe(string(statestore.AppendMark(nil, "x:", trace, span)), 10*time.Minute)
		b.CountOnce(runs, mark, 1)
		if err := store.Apply(ctx, &b); err != nil {
			panic(err)
		}
		fmt.Printf("%s: run %d\n", signal, b.Value(runs))
	}
	// Output:
	// span: run 1
	// log record: run 1
}
