// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package idhash

import (
	"hash/fnv"
	"testing"

	"github.com/stretchr/testify/assert"
)

// Hash is FNV-1a as the standard library computes it.
func TestMatchesFNV1a(t *testing.T) {
	for _, s := range []string{"", "a", "excessive_retries\x00sidekiq\x00HardJob\x00j1", "ſidekiq €"} {
		ref := fnv.New64a()
		_, _ = ref.Write([]byte(s))
		assert.Equal(t, ref.Sum64(), New().String(s).Sum64(), "%q", s)
		assert.Equal(t, ref.Sum64(), New().Bytes([]byte(s)).Sum64(), "%q", s)
	}
	assert.Equal(t, New().String("a\x00b").Sum64(), New().String("a").Byte(0).String("b").Sum64())
}

func TestNoAllocation(t *testing.T) {
	var sink uint64
	assert.Zero(t, testing.AllocsPerRun(100, func() { sink = New().String("job").Byte(0).Bytes([]byte{1, 2}).Sum64() }))
	_ = sink
}
