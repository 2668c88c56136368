// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot

import (
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

func TestName(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct {
		name, raw            string
		want                 string // "" when only the shape is checked
		tooLong, invalidUTF8 bool
	}{
		{"short", "default", "default", false, false},
		{"empty", "", "", false, false},
		{"exactly the bound", strings.Repeat("q", MaxNameLen), strings.Repeat("q", MaxNameLen), false, false},
		{"one byte over", strings.Repeat("q", MaxNameLen+1), "", true, false},
		{"multi-byte runes", long, "", true, false},
		{"invalid UTF-8", "caf\xe9", "caf\uFFFD", false, true},
		{"a run of invalid bytes", "a\xff\xfe\xfdb", "a\uFFFDb", false, true},
		{"invalid and long", strings.Repeat("\xff", 300) + strings.Repeat("x", 300), "", true, true},
		{"replacement makes it long", strings.Repeat("a\xff", 100), "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, tooLong, invalid := Name(tt.raw)
			assert.Equal(t, tt.tooLong, tooLong)
			assert.Equal(t, tt.invalidUTF8, invalid)
			assert.LessOrEqual(t, len(got), MaxNameLen)
			assert.True(t, utf8.ValidString(got))
			if tt.want != "" || !tt.tooLong {
				assert.Equal(t, tt.want, got)
			}
			if tt.tooLong {
				prefix, hash, ok := strings.Cut(got, "…#")
				assert.True(t, ok, "the cut is marked: %q", got)
				assert.Len(t, hash, 16)
				assert.Greater(t, len(prefix), MaxNameLen-24, "the bound is used, less at most a split rune")
				again, _, _ := Name(tt.raw)
				assert.Equal(t, got, again, "stable: the same name always gives the same series")
			}
		})
	}
}

func TestNameKeepsLongNamesApart(t *testing.T) {
	prefix := strings.Repeat("x", 1<<20)
	a, _, _ := Name(prefix + "a")
	b, _, _ := Name(prefix + "b")
	assert.NotEqual(t, a, b)
	assert.Equal(t, a[:MaxNameLen-16], b[:MaxNameLen-16], "only the hash differs")
}

func TestNameDoesNotCopyGoodNames(t *testing.T) {
	raw := strings.Repeat("queue_", 40) // 240 bytes
	got, _, _ := Name(raw)
	assert.Same(t, unsafe.StringData(raw), unsafe.StringData(got), "no copy")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _, _, _ = Name(raw) }))
}

// BenchmarkName measures the common case: a valid, short name.
func BenchmarkName(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if n, _, _ := Name("mailers_critical"); n == "" {
			b.Fatal("empty")
		}
	}
}
