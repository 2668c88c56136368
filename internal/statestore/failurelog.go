// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"math/bits"
	"sync/atomic"

	"go.uber.org/zap"
)

// FailureLog logs a component's failed Apply calls on the 1st, 2nd, 4th,
// 8th, ... failure, with the count so far: a store that keeps failing must
// not flood the log, and a reader still sees that it goes on.
type FailureLog struct {
	logger *zap.Logger
	msg    string
	n      atomic.Int64
}

// NewFailureLog returns a FailureLog writing msg at Warn level.
func NewFailureLog(logger *zap.Logger, msg string) *FailureLog {
	return &FailureLog{logger: logger, msg: msg}
}

// Record counts one failure and logs it when its number is a power of two.
func (l *FailureLog) Record(err error) {
	if n := l.n.Add(1); bits.OnesCount64(uint64(n)) == 1 {
		l.logger.Warn(l.msg, zap.Error(err), zap.Int64("failures_so_far", n))
	}
}
