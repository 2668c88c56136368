// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSelectionApply(t *testing.T) {
	names := []string{"low", "critical", "default", "mailers", "tmp_1", "tmp_2"}
	tests := []struct {
		name        string
		sel         Selection
		wantKept    []string
		wantDropped int
	}{
		{"all, sorted", Selection{}, []string{"critical", "default", "low", "mailers", "tmp_1", "tmp_2"}, 0},
		{"include", Selection{Include: []*regexp.Regexp{regexp.MustCompile(`^tmp_`)}}, []string{"tmp_1", "tmp_2"}, 0},
		{"exclude", Selection{Exclude: []*regexp.Regexp{regexp.MustCompile(`^tmp_`), regexp.MustCompile(`^low$`)}}, []string{"critical", "default", "mailers"}, 0},
		{"max", Selection{Max: 2}, []string{"critical", "default"}, 4},
		{"exclude then max", Selection{Exclude: []*regexp.Regexp{regexp.MustCompile(`^c`)}, Max: 3}, []string{"default", "low", "mailers"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, dropped := tt.sel.Apply(names)
			assert.Equal(t, tt.wantKept, kept)
			assert.Equal(t, tt.wantDropped, dropped)
		})
	}
}

func TestWorkerSums(t *testing.T) {
	s := Snapshot{Processes: []Process{{Busy: 2, Concurrency: 5}, {Busy: 0, Concurrency: 10}}}
	assert.Equal(t, int64(2), s.WorkersBusy())
	assert.Equal(t, int64(15), s.WorkersCapacity())
}
