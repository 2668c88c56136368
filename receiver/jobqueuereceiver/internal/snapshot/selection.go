// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"

import (
	"regexp"
	"sort"
)

// Selection decides which discovered queues a reader reports: names matching
// any Include (all when empty) and no Exclude, at most Max of them (by name
// order; 0 means no limit).
type Selection struct {
	Include []*regexp.Regexp
	Exclude []*regexp.Regexp
	Max     int
}

// Apply returns the kept
// names sorted, plus how many passed the filters but were cut by Max.
func (s Selection) Apply(names []string) (kept []string, dropped int) {
	kept = make([]string, 0, len(names))
	for _, n := range names {
		if s.keep(n) {
			kept = append(kept, n)
		}
	}
	sort.Strings(kept)
	if s.Max > 0 && len(kept) > s.Max {
		dropped = len(kept) - s.Max
		kept = kept[:s.Max]
	}
	return kept, dropped
}

func (s Selection) keep(name string) bool {
	if len(s.Include) > 0 {
		ok := false
		for _, re := range s.Include {
			if re.MatchString(name) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, re := range s.Exclude {
		if re.MatchString(name) {
			return false
		}
	}
	return true
}
