// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// planOps adds the batch's ops: window adds, error types, failure times and
// the classes of each fingerprint, and the claims on the new counts of the
// classes that failed or fire and of the fingerprints that failed in some
// class within the dependency window.
func (b *Batch) planOps() {
	d := b.d
	ops := &b.ops
	ops.Reset()
	ttl := d.window.TTL()
	for i := range b.classes {
		c := &b.classes[i]
		st := c.state
		claim := c.failures > 0 || c.level > 0
		for k := range c.adds {
			a := &c.adds[k]
			at := time.UnixMilli(a.atMs)
			a.execRef = ops.WindowAdd(st.executionsKey, d.window, at, a.executions)
			c.execRef, a.failRef = a.execRef, -1
			if (a.failures > 0 || a.markedFailures > 0) && (!claim || k < len(c.adds)-1) {
				a.failRef = ops.WindowAdd(st.failuresKey, d.window, at, a.failures)
			}
		}
		if c.failures > 0 {
			for k := range c.types {
				t := &c.types[k]
				t.ref = ops.TopAdd(c.topKey, t.typ, t.n, errorTypesKept, 2*d.cfg.Window)
			}
			c.lastRef = ops.Max(st.lastFailureKey, c.lastMs, ttl)
			c.firstRef = ops.Max(st.firstFailureKey, -c.firstMs, ttl)
		}
		if !claim {
			continue
		}
		// The claim on the failures of the window ending in the last
		// bucket, over its executions; with the error types for the record.
		last := &c.adds[len(c.adds)-1]
		c.failRef = ops.WindowAdd(st.failuresKey, d.window, time.UnixMilli(last.atMs), last.failures)
		last.failRef = c.failRef
		b.lists = [2]string{c.topKey, c.prevKey}
		c.claimRef = ops.Claim(c.failRef, statestore.Claim{
			Set: activeClassesKey, Member: st.member, Capacity: d.cfg.MaxClasses, TTL: d.regTTL,
			Rule: d.classRule, Known: c.level, Of: st.executionsKey, List: b.lists[:], ListLimit: errorTypesKept,
		})
	}
	b.countOnce()
	for i := range b.prints {
		p := &b.prints[i]
		for _, ci := range p.classes {
			p.ref = ops.DistinctAdd(p.state.key, b.classes[ci].state.member, time.UnixMilli(p.lastMs), d.cfg.DependencyWindow, classesPerFingerprint)
		}
		if p.ref >= 0 {
			b.lists[0] = p.state.key
			p.claimRef = ops.Claim(p.ref, statestore.Claim{
				Set: activePrintsKey, Member: p.state.print, Capacity: d.cfg.MaxFingerprints, TTL: d.regTTL,
				Rule: d.fingerprintRule, Known: p.level, List: b.lists[:1], ListLimit: classesPerFingerprint,
			})
		}
	}
}

// countOnce has each marked execution counted once in its class's windows
// and error types, by its dedupe mark.
func (b *Batch) countOnce() {
	if len(b.marked) == 0 {
		return
	}
	d := b.d
	for _, m := range b.marked {
		b.markKeys = statestore.AppendMark(b.markKeys, markKeyPrefix, [16]byte(m.ids[:16]), [8]byte(m.ids[16:]))
	}
	keys := string(b.markKeys)
	keyLen := len(keys) / len(b.marked)
	for k, m := range b.marked {
		mark := b.ops.Dedupe(keys[k*keyLen:(k+1)*keyLen], d.cfg.Dedupe)
		c := &b.classes[m.class]
		var a *bucketAdd
		for j := range c.adds {
			if c.adds[j].bucket == m.bucket {
				a = &c.adds[j]
				break
			}
		}
		b.ops.CountOnce(a.execRef, mark, 1)
		if !m.failure {
			continue
		}
		b.ops.CountOnce(a.failRef, mark, 1)
		if m.print < 0 {
			continue
		}
		typ := b.prints[m.print].state.errType()
		for _, t := range c.types {
			if t.typ == typ {
				b.ops.CountOnce(t.ref, mark, 1)
				break
			}
		}
	}
}
