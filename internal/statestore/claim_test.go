// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEscalationLevel(t *testing.T) {
	tests := []struct {
		value, threshold, factor float64
		want                     int64
	}{
		{3, 3, 2, 0}, {4, 3, 2, 1}, {6, 3, 2, 1}, {7, 3, 2, 2}, {12, 3, 2, 2}, {13, 3, 2, 3}, {25, 3, 2, 4},
		{10, 10, 1.5, 0}, {11, 10, 1.5, 1}, {16, 10, 1.5, 2},
		{1, 0, 2, 1}, {100, 0, 2, 1}, {-1, 0, 2, 0},
		{100, 3, 1, 1}, {100, 3, 0.5, 1}, {100, 3, math.NaN(), 1},
		{math.NaN(), 3, 2, 0}, {math.Inf(1), 3, 2, 64}, {1e300, 1, 2, 64},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, escalationLevel(tt.value, tt.threshold, tt.factor),
			"escalationLevel(%v, %v, %v)", tt.value, tt.threshold, tt.factor)
	}
	// Rule.Level takes Base from the count first: the level of count-1
	// retries.
	assert.Equal(t, int64(1), Rule{Threshold: 3, Factor: 2, Base: 1}.Level(5, 0))
	assert.Equal(t, int64(0), Rule{Threshold: 3, Factor: 2, Base: 1}.Level(4, 0))
}
