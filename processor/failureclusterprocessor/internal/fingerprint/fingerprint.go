// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package fingerprint reduces an error to what stays the same from one
// occurrence to the next, so that "Timeout after 30s to 10.0.0.5:5432" and
// "Timeout after 31s to 10.0.0.6:5432" are one error:
//
//	Timeout after <n>s to <addr>
//
// At the start of a word (after a non-alphanumeric byte, '_' included), these
// volatile parts are replaced, first match wins:
//
//	quoted values    'x', "x" or `x` on one line, up to 256 bytes     <q>
//	UUIDs            8-4-4-4-12 hex digits                            <uuid>
//	hex numbers      0x1f, 0XDEAD                                     <hex>
//	IPv4 addresses   10.0.0.5, 10.0.0.5:5432                          <addr>
//	host:port        db.internal:5432, localhost:6379 (not after      <addr>
//	                 '/' or '_', so file.rb:42 and URLs keep their host)
//	hex ids          8+ hex digits with a digit and a letter          <hex>
//	random ids       16+ letters and digits with 2+ digits            <id>
//	numbers          30, 1.5, 2026 (a unit after it stays: <n>s)      <n>
//
// Inside a word, runs of three or more digits become <n> (job123 gives
// job<n>) while shorter ones stay part of the name (S3, utf8, Mysql2). In a
// URL the query string becomes ?<query>. Runs of white space and control
// characters become one space.
//
// Only the first MaxScan bytes of a message are read, so a 10 MB message
// costs what a 1 KiB one does and two messages that differ only after that
// point share a fingerprint.
package fingerprint // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/fingerprint"

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"github.com/otelcol-jobs/otelcol-jobs/internal/textcut"
)

const (
	// MaxScan is how many bytes of a message are read.
	MaxScan = 1024
	// MaxTypeLen bounds the normalized error type.
	MaxTypeLen = 128
	// MaxLen bounds a whole fingerprint.
	MaxLen = 384

	maxQuoted = 256
)

// Append appends the fingerprint of an error to dst: the normalized type,
// ": " and the normalized message, or only the message when it already
// starts with the type (as errors whose type was derived from their message
// do), so the fingerprint always starts with the type. typeLen is the length
// of that type in the appended bytes. Append does not allocate when dst has
// MaxLen bytes of spare capacity.
func Append(dst []byte, errType, message string) (out []byte, typeLen int) {
	start := len(dst)
	dst = normalize(dst, errType, MaxTypeLen)
	typeLen = len(dst) - start
	if message == "" {
		return dst, typeLen
	}
	msgStart := len(dst)
	if typeLen > 0 {
		dst = append(dst, ": "...)
		msgStart = len(dst)
	}
	dst = normalize(dst, message, MaxLen-(msgStart-start))
	msg := dst[msgStart:]
	switch typ := dst[start : start+typeLen]; {
	case typeLen == 0:
	case len(msg) == 0: // a message of white space only
		dst = dst[:start+typeLen]
	case bytes.HasPrefix(msg, typ) && (len(msg) == typeLen || msg[typeLen] == ':'):
		n := copy(dst[start:], msg)
		dst = dst[:start+n]
	}
	return dst, typeLen
}

// normalize appends s with its volatile parts replaced, reading at most
// MaxScan bytes of it and appending at most maxOut bytes.
func normalize(dst []byte, s string, maxOut int) []byte {
	s = textcut.Prefix(s, MaxScan)
	start := len(dst)
	pendingSpace, inURL := false, false
	i := 0
	for i < len(s) && len(dst)-start < maxOut {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			pendingSpace, inURL = true, false
			i++
			continue
		}
		if pendingSpace {
			if len(dst) > start {
				dst = append(dst, ' ')
			}
			pendingSpace = false
		}
		if i == 0 || !isAlnum(s[i-1]) {
			n, tok := volatile(s, i)
			if n > 0 {
				dst = append(dst, tok...)
				i += n
				continue
			}
			if plain := plainWord(s, i); plain > 0 {
				dst = append(dst, s[i:i+plain]...)
				i += plain
				continue
			}
		}
		switch {
		case c == ':' && len(s)-i >= 3 && s[i+1] == '/' && s[i+2] == '/':
			inURL = true
			dst = append(dst, "://"...)
			i += 3
		case c == '?' && inURL:
			dst = append(dst, "?<query>"...)
			for i < len(s) && s[i] > ' ' && s[i] != 0x7f {
				i++
			}
		case isDigit(c): // inside a word: long runs are ids, short ones names
			j := skipDigits(s, i)
			if j-i >= 3 {
				dst = append(dst, "<n>"...)
			} else {
				dst = append(dst, s[i:j]...)
			}
			i = j
		default:
			dst = append(dst, c)
			i++
		}
	}
	if i < len(s) && !utf8.RuneStart(s[i]) { // the limit fell inside a UTF-8 sequence: drop its start
		dst = dst[:start+textcut.Len(dst[start:], max(len(dst)-start-1, 0))]
	}
	if len(dst)-start > maxOut { // a replacement ran past the limit
		dst = dst[:start+textcut.Len(dst[start:], maxOut)]
	}
	return dst
}

// volatile reports the volatile part that starts at s[i], a word start: its
// length and its replacement, or 0.
func volatile(s string, i int) (int, string) {
	c := s[i]
	switch {
	case c == '\'' || c == '"' || c == '`':
		if n := quoted(s, i); n > 0 {
			return n, "<q>"
		}
		return 0, ""
	case !isAlnum(c):
		return 0, ""
	}
	// One look at the word first: most are plain words.
	w := i
	digits, letters, hex := 0, 0, true
	for ; w < len(s) && isAlnum(s[w]); w++ {
		switch {
		case isDigit(s[w]):
			digits++
		case !isHex(s[w]):
			hex = false
			letters++
		default:
			letters++
		}
	}
	if next := byteAt(s, w); digits == 0 && next != '-' && next != '.' && next != ':' {
		return 0, ""
	}
	if n := uuid(s, i); n > 0 {
		return n, "<uuid>"
	}
	if c == '0' && i+2 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') && isHex(s[i+2]) && skipHex(s, i+2) == w {
		return w - i, "<hex>"
	}
	if n := ipv4(s, i); n > 0 {
		return n, "<addr>"
	}
	if n := hostPort(s, i); n > 0 {
		return n, "<addr>"
	}
	switch n := w - i; {
	case hex && n >= 8 && digits > 0 && letters > 0:
		return n, "<hex>"
	case n >= 16 && digits >= 2 && letters > 0:
		return n, "<id>"
	}
	if isDigit(c) {
		j := skipDigits(s, i)
		for j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			j = skipDigits(s, j+1)
		}
		return j - i, "<n>"
	}
	return 0, ""
}

// plainWord is the length of the word of letters at s[i] that no rule
// changes (copied at once), or 0.
func plainWord(s string, i int) int {
	j := i
	for j < len(s) && isLetter(s[j]) {
		j++
	}
	if j < len(s) && (isDigit(s[j]) || s[j] == ':') {
		return 0 // digits inside the word, or "://"
	}
	return j - i
}

// quoted is the length of the quoted value at s[i], or 0: the closing quote
// is on the same line, at most maxQuoted bytes on, and ends a word.
func quoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s) && j-i <= maxQuoted; j++ {
		switch s[j] {
		case '\n', '\r':
			return 0
		case q:
			if wordEnds(s, j+1) {
				return j + 1 - i
			}
		}
	}
	return 0
}

func uuid(s string, i int) int {
	const n = 36
	if len(s)-i < n || !wordEnds(s, i+n) {
		return 0
	}
	for k := range n {
		c := s[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return 0
			}
		default:
			if !isHex(c) {
				return 0
			}
		}
	}
	return n
}

// ipv4 is the length of a dotted quad at s[i], with its port if any, or 0.
func ipv4(s string, i int) int {
	j := i
	for part := range 4 {
		if part > 0 {
			if j >= len(s) || s[j] != '.' {
				return 0
			}
			j++
		}
		k := skipDigits(s, j)
		if k == j || k-j > 3 {
			return 0
		}
		j = k
	}
	if isAlnum(byteAt(s, j)) || (byteAt(s, j) == '.' && isDigit(byteAt(s, j+1))) {
		return 0
	}
	if p := port(s, j); p > 0 {
		return j + p - i
	}
	return j - i
}

// hostPort is the length of host:port at s[i], or 0. The host has a letter
// and does not follow '/' (a URL's host stays), '_' (file_name.rb:42) or
// a part of a host name.
func hostPort(s string, i int) int {
	if i > 0 && (isAlnum(s[i-1]) || strings.IndexByte("/_.-", s[i-1]) >= 0) {
		return 0
	}
	j, letter := i, false
	for ; j < len(s) && (isAlnum(s[j]) || s[j] == '.' || s[j] == '-'); j++ {
		letter = letter || isLetter(s[j])
	}
	if !letter {
		return 0
	}
	if p := port(s, j); p > 0 {
		return j + p - i
	}
	return 0
}

// port is the length of ":<1 to 5 digits>" ending a word at s[j], or 0.
func port(s string, j int) int {
	if byteAt(s, j) != ':' {
		return 0
	}
	k := skipDigits(s, j+1)
	if k == j+1 || k-j-1 > 5 || !wordEnds(s, k) {
		return 0
	}
	return k - j
}

func wordEnds(s string, j int) bool { return j >= len(s) || !isAlnum(s[j]) }

func byteAt(s string, j int) byte {
	if j < len(s) {
		return s[j]
	}
	return 0
}

func skipDigits(s string, j int) int {
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	return j
}

func skipHex(s string, j int) int {
	for j < len(s) && isHex(s[j]) {
		j++
	}
	return j
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }
func isAlnum(c byte) bool  { return isDigit(c) || isLetter(c) }
func isHex(c byte) bool    { return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F') }
