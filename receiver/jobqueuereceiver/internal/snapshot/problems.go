// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"

import (
	"strconv"
	"strings"
	"time"
)

// MaxProblems bounds the problems listed per snapshot; the rest are counted
// in one KindTooManyProblems entry.
const MaxProblems = 100

// Problem kinds every reader may report.
const (
	KindNameTooLong     = "name_too_long"
	KindInvalidUTF8     = "invalid_utf8"
	KindTooManyProblems = "too_many_problems"
)

// Problems collects the bad data of one snapshot, at most MaxProblems
// entries. The zero value is ready to use.
type Problems struct {
	list    []Problem
	dropped int
}

// Add records one problem. Key and detail are bounded by Name and
// copied, so they may be slices of large payloads.
func (p *Problems) Add(kind, key, detail string) {
	if len(p.list) >= MaxProblems {
		p.dropped++
		return
	}
	key, _, _ = Name(key)
	detail, _, _ = Name(detail)
	p.list = append(p.list, Problem{Kind: kind, Key: strings.Clone(key), Detail: strings.Clone(detail)})
}

// List returns the problems recorded, plus one KindTooManyProblems entry
// counting those beyond MaxProblems.
func (p *Problems) List() []Problem {
	if p.dropped > 0 {
		p.list = append(p.list, Problem{
			Kind:   KindTooManyProblems,
			Detail: strconv.Itoa(p.dropped) + " more problems not listed",
		})
		p.dropped = 0
	}
	return p.list
}

// Name returns raw bounded for reporting (see Name), and records
// what had to change as a problem at key. what says whose name it is.
func (p *Problems) Name(raw, key, what string) string {
	name, tooLong, invalidUTF8 := Name(raw)
	if invalidUTF8 {
		p.Add(KindInvalidUTF8, key, what+" is not valid UTF-8")
	}
	if tooLong {
		p.Add(KindNameTooLong, key, what+" of "+strconv.Itoa(len(raw))+" bytes shortened")
	}
	return name
}

// Now is a snapshot's time: now(), or the wall clock when now is nil (a
// reader's Options.Now, set by tests).
func Now(now func() time.Time) time.Time {
	if now == nil {
		return time.Now()
	}
	return now()
}

// Age is how long ago ts was, clamped at 0: a clock running ahead on the
// writer's side must not produce negative latencies or ages.
func Age(now, ts time.Time) time.Duration {
	if d := now.Sub(ts); d > 0 {
		return d
	}
	return 0
}
