// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"

import (
	"sort"
	"strings"
)

// OtherClass is the class and error type of the breakdown cell that
// collects every combination beyond the first MaxClassCells.
const OtherClass = "other"

// MaxClassCells bounds the distinct (state, class, error type) cells of a
// by-class breakdown.
const MaxClassCells = 1000

// ClassCells counts a by-class breakdown, at most MaxClassCells cells: a
// new combination beyond them counts in its state's OtherClass cell. The
// zero value is ready to use.
type ClassCells struct {
	counts map[classKey]int64
}

type classKey struct{ state, class, errorType string }

// Add counts one job in its cell. The names are bounded by the caller
// (Name) and copied here, so they may point into large payloads.
func (c *ClassCells) Add(state, class, errorType string) {
	if c.counts == nil {
		c.counts = make(map[classKey]int64)
	}
	k := classKey{state, class, errorType}
	if _, seen := c.counts[k]; !seen {
		if len(c.counts) >= MaxClassCells {
			k = classKey{state, OtherClass, OtherClass}
		} else {
			k.class, k.errorType = strings.Clone(k.class), strings.Clone(k.errorType)
		}
	}
	c.counts[k]++
}

// List returns the cells sorted by state, class and error type.
func (c *ClassCells) List() []ClassCount {
	out := make([]ClassCount, 0, len(c.counts))
	for k, n := range c.counts {
		out = append(out, ClassCount{State: k.state, Class: k.class, ErrorType: k.errorType, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.State != b.State {
			return a.State < b.State
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.ErrorType < b.ErrorType
	})
	return out
}
