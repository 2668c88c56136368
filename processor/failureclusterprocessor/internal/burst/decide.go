// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

// decide records what the store decided for this replica: the alerts it
// raised or resolved, and the levels of the others.
func (b *Batch) decide() {
	d := b.d
	ops := &b.ops
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range b.classes {
		c := &b.classes[i]
		if c.claimRef < 0 {
			continue
		}
		c.windowFailures, c.windowExecutions = ops.Value(c.failRef), ops.Value(c.execRef)
		level := ops.Value(c.claimRef)
		switch {
		case ops.OK(c.claimRef) && level > 0:
			c.level = level
			b.records = append(b.records, Record{Alert: b.classAlert(c, alert.StateFiring), Event: int(c.anchor(alert.StateFiring))})
		case ops.OK(c.claimRef):
			b.records = append(b.records, Record{Alert: b.classAlert(c, alert.StateResolved), Event: int(c.anchor(alert.StateResolved))})
			c.level = 0
		default:
			c.level = level // as known, or as another replica left it
		}
		d.classes.setLevel(c.state, c.level)
	}
	for i := range b.prints {
		p := &b.prints[i]
		if p.claimRef < 0 {
			continue
		}
		p.classCount = ops.Value(p.ref)
		level := ops.Value(p.claimRef)
		switch {
		case ops.OK(p.claimRef) && level > 0:
			p.level = level
			b.records = append(b.records, Record{Alert: b.fingerprintAlert(p, alert.StateFiring), Event: int(p.lastEvent)})
		case ops.OK(p.claimRef):
			b.records = append(b.records, Record{Alert: b.fingerprintAlert(p, alert.StateResolved), Event: int(p.lastEvent)})
			p.level = 0
		default:
			p.level = level
		}
		d.prints.setLevel(p.state, p.level)
	}
}
