// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

// MaxNameLen bounds, in bytes, every name a reader reports: queues, process
// identities, hostnames, tags, job classes, error types, and the keys quoted
// in problems. Names become metric attributes and alert labels, so one
// hostile 1 MB queue name must not make every scrape megabytes long.
const MaxNameLen = 255

// nameHashLen is the length of the "#<hash>" suffix of a shortened name.
const nameHashLen = 1 + 16

// Name makes raw, a name as read from the job system, fit to report. Invalid
// UTF-8 is replaced by U+FFFD. A name still longer than MaxNameLen is cut on
// a rune boundary and ends with "…#" and the 16 hex digits of raw's 64-bit
// xxHash: two long names that share their first bytes stay two names (two
// series, two alerts) instead of silently merging. Names that differ only in
// their invalid bytes may merge; invalidUTF8 says so, for the reader to count.
//
// A valid name of at most MaxNameLen bytes, the common case, is returned
// as is, without a copy; a changed one never shares raw's memory.
func Name(raw string) (name string, tooLong, invalidUTF8 bool) {
	if len(raw) <= MaxNameLen && utf8.ValidString(raw) {
		return raw, false, false
	}
	name = raw
	if !utf8.ValidString(raw) {
		name, invalidUTF8 = strings.ToValidUTF8(raw, "\uFFFD"), true
	}
	if len(name) <= MaxNameLen {
		return name, false, invalidUTF8
	}
	name = fmt.Sprintf("%s#%016x", alert.Shorten(name, MaxNameLen-nameHashLen), xxhash.Sum64String(raw))
	return name, true, invalidUTF8
}
