// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package pgread

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPlanRows(t *testing.T) {
	for plan, want := range map[string]int64{
		`[{"Plan": {"Node Type": "Index Only Scan", "Plan Rows": 812345, "Plan Width": 0}}]`: 812345,
		`[{"Plan": {"Node Type": "Aggregate", "Plan Rows": 1.0}}]`:                           1,
	} {
		rows, ok := PlanRows(plan)
		assert.True(t, ok, plan)
		assert.Equal(t, want, rows, plan)
	}
	for _, bad := range []string{``, `{}`, `[]`, `[{"Plan": {}}]`, `not json`} {
		_, ok := PlanRows(bad)
		assert.False(t, ok, bad)
	}
}
