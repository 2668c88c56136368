// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWindowArithmetic(t *testing.T) {
	w := Window{Length: time.Hour, Buckets: 12} // buckets of 5 minutes
	const minute = int64(60_000)
	assert.Equal(t, int64(0), w.Bucket(0))
	assert.Equal(t, int64(0), w.Bucket(5*minute-1))
	assert.Equal(t, int64(1), w.Bucket(5*minute))
	assert.Equal(t, int64(-1), w.Bucket(-1), "floor, not truncation, before 1970")

	now := 120 * minute // bucket 24: the window is buckets 13..24
	assert.True(t, w.Live(now, now))
	assert.True(t, w.Live(65*minute, now), "bucket 13")
	assert.False(t, w.Live(65*minute-1, now), "bucket 12 left the window")

	assert.Equal(t, int64(2), w.Epoch(now))
	assert.Equal(t, int64(-1), w.Epoch(-1))
	assert.Equal(t, 65*time.Minute, w.TTL(), "one bucket more than the window")
}
