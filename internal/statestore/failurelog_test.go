// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestFailureLogThrottles(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	l := NewFailureLog(zap.New(core), "store failed")
	for range 20 {
		l.Record(errors.New("boom"))
	}
	var counts []int64
	for _, e := range logs.All() {
		assert.Equal(t, "store failed", e.Message)
		counts = append(counts, e.ContextMap()["failures_so_far"].(int64))
	}
	assert.Equal(t, []int64{1, 2, 4, 8, 16}, counts)
}
