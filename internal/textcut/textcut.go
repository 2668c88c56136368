// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package textcut cuts text to a byte budget without splitting a UTF-8
// sequence: the one rune-safe cut of names and messages kept in bounded
// memory or quoted in alert records.
package textcut // import "github.com/otelcol-jobs/otelcol-jobs/internal/textcut"

import "unicode/utf8"

// Len is the length of the longest prefix of s of at most n bytes that does
// not split a UTF-8 sequence (n >= 0).
func Len[T string | []byte](s T, n int) int {
	if len(s) <= n {
		return len(s)
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// Prefix is s cut to at most n bytes on a rune boundary.
func Prefix(s string, n int) string { return s[:Len(s, n)] }
