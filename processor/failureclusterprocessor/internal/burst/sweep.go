// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"context"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// sweptClass is one active class cluster Sweep looks at.
type sweptClass struct {
	entry                         statestore.Entry // member and level
	state                         *classState
	fail, exec, first, last, top  statestore.Ref
	prevTop, claim                statestore.Ref
	windowFailures, windowExecute int64
}

// sweptPrint is one active dependency cluster Sweep looks at.
type sweptPrint struct {
	entry       statestore.Entry
	state       *fingerprintState
	list, claim statestore.Ref
	live        []statestore.Entry
}

// Sweep walks every active cluster of the store (this replica's and the
// others'), resolves those whose counts dropped below half their threshold,
// exactly once across replicas, and returns their resolved records. It also
// refreshes what this replica knows of which clusters are firing, so that
// one another replica resolved can fire here again. It costs three
// pipelines whatever the number of clusters.
func (d *Detector) Sweep(ctx context.Context) ([]alert.Alert, error) {
	var list, reads, claims statestore.Batch
	classList := list.Members(activeClassesKey, d.cfg.MaxClasses)
	printList := statestore.Ref(-1)
	if d.cfg.MinClasses > 0 {
		printList = list.Members(activePrintsKey, d.cfg.MaxFingerprints)
	}
	if err := d.store.Apply(ctx, &list); err != nil {
		return nil, err
	}
	now := d.clock.Now()
	nowMs := now.UnixMilli()
	epoch := d.window.Epoch(nowMs)

	classes := make([]sweptClass, 0, len(list.Entries(classList)))
	for _, e := range list.Entries(classList) {
		st := d.sweptClassState(e.Member)
		cur, prev := topKey(st.id, epoch), topKey(st.id, epoch-1)
		classes = append(classes, sweptClass{
			entry: e, state: st,
			fail:    reads.WindowAdd(st.failuresKey, d.window, time.Time{}, 0),
			exec:    reads.WindowAdd(st.executionsKey, d.window, time.Time{}, 0),
			first:   reads.Max(st.firstFailureKey, noTime, d.cfg.Window),
			last:    reads.Max(st.lastFailureKey, 0, d.cfg.Window),
			top:     reads.Members(cur, errorTypesKept),
			prevTop: reads.Members(prev, errorTypesKept),
		})
	}
	var prints []sweptPrint
	if printList >= 0 {
		prints = make([]sweptPrint, 0, len(list.Entries(printList)))
		for _, e := range list.Entries(printList) {
			st := d.sweptPrintState(e.Member)
			prints = append(prints, sweptPrint{entry: e, state: st, list: reads.Members(st.key, classesPerFingerprint)})
		}
	}
	if reads.Len() == 0 {
		d.mu.Lock()
		d.classes.refresh(nil)
		d.prints.refresh(nil)
		d.mu.Unlock()
		return nil, nil
	}
	if err := d.store.Apply(ctx, &reads); err != nil {
		return nil, err
	}

	// Claim the calm ones; keep the others' registry entries alive.
	for i := range classes {
		c := &classes[i]
		c.windowFailures, c.windowExecute = reads.Value(c.fail), reads.Value(c.exec)
		if d.classRule.IsCalm(c.windowFailures, c.windowExecute) {
			c.claim = claims.RemoveMember(activeClassesKey, c.entry.Member)
		} else {
			c.claim = -1
			claims.MemberMax(activeClassesKey, c.entry.Member, c.entry.Score, d.cfg.MaxClasses, d.regTTL)
		}
	}
	cutoffMs := nowMs - d.cfg.DependencyWindow.Milliseconds()
	for i := range prints {
		p := &prints[i]
		p.live = liveMembers(reads.Entries(p.list), cutoffMs)
		if d.fingerprintRule.IsCalm(int64(len(p.live)), 0) {
			p.claim = claims.RemoveMember(activePrintsKey, p.entry.Member)
		} else {
			p.claim = -1
			claims.MemberMax(activePrintsKey, p.entry.Member, p.entry.Score, d.cfg.MaxFingerprints, d.regTTL)
		}
	}
	if err := d.store.Apply(ctx, &claims); err != nil {
		return nil, err
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	var out []alert.Alert
	active := make(map[uint64]int64, len(classes))
	for i := range classes {
		c := &classes[i]
		if c.claim < 0 {
			active[c.state.hash] = c.entry.Score
			continue
		}
		if !claims.OK(c.claim) {
			continue // another replica resolved it
		}
		out = append(out, d.classRecord(c.state, classFacts{
			state: alert.StateResolved, level: c.entry.Score,
			failures: c.windowFailures, executions: c.windowExecute,
			types:   append(reads.Entries(c.top), reads.Entries(c.prevTop)...),
			firstMs: d.firstFailure(reads.Value(c.first), nowMs), lastMs: reads.Value(c.last),
			at: now, queue: c.state.queue, traces: c.state.traces.list(),
		}))
	}
	activePrints := make(map[uint64]int64, len(prints))
	for i := range prints {
		p := &prints[i]
		if p.claim < 0 {
			activePrints[p.state.hash] = p.entry.Score
			continue
		}
		if !claims.OK(p.claim) {
			continue
		}
		out = append(out, d.fingerprintRecord(p.state, fingerprintFacts{
			state: alert.StateResolved, level: p.entry.Score, classes: int64(len(p.live)),
			names: p.live, at: now, traces: p.state.traces.list(),
		}))
	}
	d.classes.refresh(active)
	d.prints.refresh(activePrints)
	return out, nil
}

// sweptClassState is the tracked state of a registry member, or a
// transient one for a class this replica never saw.
func (d *Detector) sweptClassState(member string) *classState {
	h := d.memberHash(member)
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.classes.Peek(h); ok && st.member == member {
		return st
	}
	return newClassState(h, member)
}

func (d *Detector) sweptPrintState(print string) *fingerprintState {
	h := d.memberHash(print)
	d.mu.Lock()
	defer d.mu.Unlock()
	if st, ok := d.prints.Peek(h); ok && st.print == print {
		return st
	}
	st := newPrintState(h, print, len(print))
	if i := indexColon(print); i >= 0 {
		st.typeLen = i
	}
	return st
}

// indexColon is where a fingerprint's type ends: at its first ": ".
func indexColon(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == ':' && s[i+1] == ' ' {
			return i
		}
	}
	return -1
}
