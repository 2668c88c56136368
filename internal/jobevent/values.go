// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// str is m's string value at key, or "".
func str(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok && v.Type() == pcommon.ValueTypeStr {
		return v.Str()
	}
	return ""
}

// isID reports whether v can identify a job: a non-empty string, an integer
// or an integral double within float64's exact range.
func isID(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str() != ""
	case pcommon.ValueTypeInt:
		return true
	case pcommon.ValueTypeDouble:
		_, ok := exactInt(v.Double())
		return ok
	default:
		return false
	}
}

// idString renders an id accepted by isID. Integers allocate, except
// 0..99 (strconv keeps those).
func idString(v pcommon.Value) string {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return strconv.FormatInt(v.Int(), 10)
	case pcommon.ValueTypeDouble:
		n, _ := exactInt(v.Double())
		return strconv.FormatInt(n, 10)
	default:
		return v.Str()
	}
}

// exactInt is d as an integer when d is integral and exactly representable.
func exactInt(d float64) (int64, bool) {
	const exact = 1 << 53
	if d != math.Trunc(d) || d < -exact || d > exact {
		return 0, false // also NaN and ±Inf
	}
	return int64(d), true
}

// attemptNumber is counter v plus offset when that is a plausible 1-based
// attempt, else 0.
func attemptNumber(v pcommon.Value, offset int) int {
	var n int64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		n = v.Int()
	case pcommon.ValueTypeDouble:
		var ok bool
		if n, ok = exactInt(v.Double()); !ok {
			return 0
		}
	case pcommon.ValueTypeStr:
		var ok bool
		if n, ok = parseCount(v.Str()); !ok {
			return 0
		}
	default:
		return 0
	}
	if n < 0 || n > math.MaxInt32 {
		return 0
	}
	if a := int(n) + offset; a >= 1 {
		return a
	}
	return 0
}

// parseCount parses a short unsigned decimal. Unlike strconv.Atoi it does
// not allocate an error for bad input.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseOutcome reads an outcome word (case-insensitive, optional "job."
// prefix): River's status, Celery's state, Sidekiq's log msg, the seed's
// log event.
func parseOutcome(s string) Outcome {
	if len(s) > 16 {
		return OutcomeUnknown
	}
	if len(s) > 4 && strings.EqualFold(s[:4], "job.") {
		s = s[4:]
	}
	// An ASCII word folds only to a word of its length; others may fold
	// to ASCII ("ſ" is "s"), so they are compared with every word.
	ascii := isASCII(s)
	for _, w := range successWords {
		if (!ascii || len(w) == len(s)) && strings.EqualFold(s, w) {
			return OutcomeSuccess
		}
	}
	for _, w := range failureWords {
		if (!ascii || len(w) == len(s)) && strings.EqualFold(s, w) {
			return OutcomeFailure
		}
	}
	return OutcomeUnknown
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var (
	successWords = [...]string{"ok", "done", "success", "succeeded", "completed"}
	failureWords = [...]string{"error", "fail", "failed", "failure", "panic", "retry"}
)

// maxDerivedErrorType bounds an error type derived from a message: a longer
// text is a sentence, not a type.
const maxDerivedErrorType = 64

// errorTypeFromMessage names an error that came without a type: the text
// before the first ':' or line break of its message ("payment provider: dial
// tcp ...: refused" gives "payment provider"; Go's wrapped errors put their
// outermost context there), or the whole one-line message; trimmed, and empty
// when longer than maxDerivedErrorType bytes.
func errorTypeFromMessage(msg string) string {
	head := msg
	if len(head) > maxDerivedErrorType+1 {
		head = head[:maxDerivedErrorType+1]
	}
	end := -1
	if i := strings.IndexByte(head, ':'); i >= 0 {
		head, end = head[:i], i
	}
	if i := strings.IndexByte(head, '\n'); i >= 0 {
		end = i
	}
	if end >= 0 {
		return strings.TrimSpace(msg[:end])
	}
	if len(msg) > maxDerivedErrorType {
		return ""
	}
	return strings.TrimSpace(msg)
}
