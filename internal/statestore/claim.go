// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Rule is how a count decides an alert. The count calls for a level:
// escalationLevel(count-Base, Threshold, Factor), so 0 up to Threshold, 1
// past it, one more each time it passes Threshold times another Factor
// (claim.lua computes the same on the server). With MinRatio above 0 a level also needs count/of (the ratio over
// a second count, at most 1) above MinRatio, with of at least MinOf.
//
// A count below Calm, or with MinRatio a ratio below CalmRatio, is calm: an
// alert that fires resolves only then (hysteresis).
type Rule struct {
	Threshold, Factor float64
	// Base is taken from the count first: 1 when the count is of runs and
	// the rule is about retries.
	Base int64
	// Calm and CalmRatio are the thresholds of the resolution.
	Calm float64

	MinRatio, CalmRatio float64
	MinOf               int64
}

// Level is the alert level count (and of, with MinRatio) calls for.
func (r Rule) Level(count, of int64) int64 {
	if r.MinRatio > 0 && (of < r.MinOf || Ratio(count, of) <= r.MinRatio) {
		return 0
	}
	return escalationLevel(float64(count-r.Base), r.Threshold, r.Factor)
}

// maxLevel caps escalationLevel.
const maxLevel = 64

// escalationLevel is how far value is past threshold when each level is
// factor times the previous: the number of k >= 0 with
// value > threshold * factor^k (at most 64). With threshold 3 and factor 2,
// 4..6 is level 1, 7..12 level 2, 13..24 level 3. 0 means below the
// threshold. A threshold <= 0 or a factor <= 1 has one level only.
//
// Detectors fire when the level first becomes 1 and escalate each time it
// grows; a Claim answers which replica saw it grow first.
func escalationLevel(value, threshold, factor float64) int64 {
	if !(value > threshold) {
		return 0
	}
	if threshold <= 0 || !(factor > 1) {
		return 1
	}
	level := int64(1)
	for limit := threshold * factor; value > limit && level < maxLevel; limit *= factor {
		level++
	}
	return level
}

// IsCalm says whether count (and of, with MinRatio) lets a firing alert
// resolve.
func (r Rule) IsCalm(count, of int64) bool {
	return float64(count) < r.Calm || (r.MinRatio > 0 && Ratio(count, of) < r.CalmRatio)
}

// Ratio is count/of as Rule weighs it: at most 1, and 0 without an of.
func Ratio(count, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return min(1, float64(count)/float64(of))
}

func (r Rule) validate() error {
	for _, f := range [...]float64{r.Threshold, r.Factor, r.Calm, r.MinRatio, r.CalmRatio} {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("rule values must be finite, got %v", f)
		}
	}
	return nil
}

// Claim is an alert decision taken by the store on the count an op leaves,
// atomically with that op: see Batch.Claim. The alert is Member of the
// registry Set, its level as score, as MemberMax keeps it (at most Capacity
// alerts, TTL extended by each raise).
type Claim struct {
	Set, Member string
	Capacity    int
	TTL         time.Duration
	Rule        Rule
	// Known is the alert's level as the caller knows it: only a higher level
	// is raised, and only an alert known to fire (Known > 0) resolves when
	// the count is calm.
	Known int64
	// Final says the count is complete (e.g. the job succeeded): nothing is
	// raised, the alert's resolution is claimed if the count calls for a
	// level, and the counted key is deleted.
	Final bool
	// Of names the window (same Window as the op) whose sum over the op's
	// buckets is the second count of Rule.MinRatio; WindowAdd only.
	Of string
	// List names sets (up to ListLimit members each, highest first) that the
	// claim lists when it raised or resolved the alert, for the record.
	List      []string
	ListLimit int
}

// claimArgs is what a Batch keeps of a Claim; the op holds the rest (Set as
// key, Member, Capacity as limit, TTL, Known as n).
type claimArgs struct {
	rule             Rule
	of               string
	final            bool
	listFrom, listTo int32 // in Batch.lists
	listLimit        int
}

// Claim decides the alert c on the count left by r, which must be the op
// added just before and an Incr, a WindowAdd or a DistinctAdd. In the same
// round trip, and atomically with r (a Lua script on Redis), the store
// raises the alert to the level the count calls for when it is above
// c.Known (as MemberMax), or claims its resolution (as RemoveMember) when
// c.Known > 0 and the count is calm, or when c.Final and the count calls
// for a level.
//
// A batch runs its claims, each with its op, after its other ops, in the
// order they were added: so a claim sees the batch's other adds (e.g. the
// executions of its Of window, the top-K it lists).
//
// OK is true when this call raised or resolved the alert, for exactly one
// caller across replicas. Value is the alert's level after the call: read
// from the registry when the claim raised or resolved it or tried to (0:
// not registered), c.Known when the count called for neither. Entries are
// the members of c.List's sets when OK.
func (b *Batch) Claim(r Ref, c Claim) Ref {
	from := len(b.lists)
	b.lists = append(b.lists, c.List...)
	b.claims = append(b.claims, claimArgs{
		rule: c.Rule, of: c.Of, final: c.Final,
		listFrom: int32(from), listTo: int32(len(b.lists)), listLimit: c.ListLimit,
	})
	return b.add(op{
		kind: opClaim, claim: int32(len(b.claims) - 1), src: r,
		key: c.Set, member: c.Member, n: c.Known, limit: c.Capacity, ttl: c.TTL,
	})
}

func (b *Batch) claimOf(o *op) *claimArgs { return &b.claims[o.claim] }

// claimed says op i runs with the claims: it is one, or the next op claims
// on it.
func (b *Batch) claimed(i int) bool {
	return b.ops[i].kind == opClaim || i+1 < len(b.ops) && b.ops[i+1].kind == opClaim
}

func (b *Batch) listed(c *claimArgs) []string { return b.lists[c.listFrom:c.listTo] }

// validateClaim checks claim op i against the op it follows.
func (b *Batch) validateClaim(i int) error {
	o := &b.ops[i]
	c := b.claimOf(o)
	if int(o.src) != i-1 {
		return errors.New("a claim must follow the op it claims on")
	}
	switch src := &b.ops[i-1]; {
	case src.kind != opIncr && src.kind != opWindowAdd && src.kind != opDistinctAdd:
		return fmt.Errorf("cannot claim on %s", src.kind)
	case c.of != "" && src.kind != opWindowAdd:
		return errors.New("of needs a WindowAdd")
	}
	if o.limit < 1 {
		return fmt.Errorf("capacity must be >= 1, got %d", o.limit)
	}
	for _, key := range b.listed(c) {
		if key == "" {
			return errors.New("empty key in list")
		}
		if c.listLimit < 1 {
			return fmt.Errorf("list limit must be >= 1, got %d", c.listLimit)
		}
	}
	if err := c.rule.validate(); err != nil {
		return err
	}
	return positiveTTL(o.ttl)
}

// claimAction is what a claim does with its count.
type claimAction uint8

const (
	claimNothing claimAction = iota
	claimRaise
	claimResolve
)

// decide is the claim's action and the level the count calls for. The Lua
// script of the Redis store decides the same way.
func (c *claimArgs) decide(known, count, of int64) (claimAction, int64) {
	level := c.rule.Level(count, of)
	switch {
	case c.final:
		if level > 0 {
			return claimResolve, level
		}
	case level > known:
		return claimRaise, level
	case known > 0 && c.rule.IsCalm(count, of):
		return claimResolve, level
	}
	return claimNothing, level
}
