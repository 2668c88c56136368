// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package textcut

import (
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestPrefix(t *testing.T) {
	assert.Equal(t, "abc", Prefix("abc", 5), "short enough")
	assert.Equal(t, "ab", Prefix("abc", 2))
	assert.Equal(t, "", Prefix("abc", 0))
	// "€" is 3 bytes: a cut inside it keeps none of it.
	assert.Equal(t, "a", Prefix("a€b", 2))
	assert.Equal(t, "a", Prefix("a€b", 3))
	assert.Equal(t, "a€", Prefix("a€b", 4))
	assert.Equal(t, 1, Len([]byte("a€b"), 3), "bytes as strings")
	// Invalid UTF-8 is cut as bytes: continuation bytes alone are skipped.
	assert.Equal(t, "", Prefix("\x80\x80\x80", 2))
}

func FuzzPrefix(f *testing.F) {
	f.Add("a€b", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 {
			n = -n
		}
		got := Prefix(s, n)
		assert.LessOrEqual(t, len(got), n)
		assert.Equal(t, s[:len(got)], got)
		if utf8.ValidString(s) {
			assert.True(t, utf8.ValidString(got), "a valid string stays valid")
		}
	})
}
