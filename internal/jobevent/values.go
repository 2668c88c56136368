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

// maxOutcomeValue bounds the values parseOutcome reads: longer ones
// ("task_succeeded" is 14 bytes) are sentences.
const maxOutcomeValue = 24

// parseOutcome reads an outcome value (River's status, Celery's state, a
// log record's event): one outcome word, optionally after "job" or "task",
// in any case, the words separated by '_', '-', '.', ' ' or a change from
// lower to upper case: "failed", "FAILURE", "job.failed", "job_failed",
// "JobFailed", "task succeeded".
func parseOutcome(s string) Outcome {
	if len(s) > maxOutcomeValue {
		return OutcomeUnknown
	}
	w, rest := cutValueWord(s)
	if isJobWord(w) {
		w, rest = cutValueWord(rest)
	}
	if more, _ := cutValueWord(rest); more != "" {
		return OutcomeUnknown
	}
	return outcomeWord(w)
}

// cutValueWord returns the first word of an outcome value and the rest.
func cutValueWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && isValueSeparator(s[i]) {
		i++
	}
	s = s[i:]
	for j := 0; j < len(s); j++ {
		if isValueSeparator(s[j]) || (j > 0 && isUpper(s[j]) && isLower(s[j-1])) {
			return s[:j], s[j:]
		}
	}
	return s, ""
}

func isValueSeparator(c byte) bool { return c == '_' || c == '-' || c == '.' || c == ' ' }

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }

// maxPhrase bounds the bytes of a log message that messageOutcome reads:
// the outcome follows the job's name, before any error text.
const maxPhrase = 256

// messageOutcome reads the outcome of a log message: an outcome value
// (parseOutcome: Sidekiq's "done" and "fail", "job failed"), or a phrase in
// which the word "job" or "task" is followed by an outcome word: River's
// "JobExecutor: Job errored; retrying", Celery's "Task tasks.add[<id>]
// succeeded in 0.003s: 3", RQ's "Job OK (<id>)". Words are separated by
// spaces and punctuation; identifiers such as "tasks.retry_failed" are no
// words, so a job's name cannot give its outcome.
func messageOutcome(s string) Outcome {
	if o := parseOutcome(s); o != OutcomeUnknown {
		return o
	}
	if len(s) > maxPhrase {
		s = s[:maxPhrase]
	}
	afterJob := false
	for s != "" {
		var w string
		w, s = cutPhraseWord(s)
		if !afterJob {
			afterJob = isJobWord(w)
		} else if o := outcomeWord(w); o != OutcomeUnknown {
			return o
		}
	}
	return OutcomeUnknown
}

// cutPhraseWord returns the first word of a phrase, without a trailing
// period, and the rest.
func cutPhraseWord(s string) (word, rest string) {
	i := 0
	for i < len(s) && isPhraseSeparator(s[i]) {
		i++
	}
	s = s[i:]
	j := 0
	for j < len(s) && !isPhraseSeparator(s[j]) {
		j++
	}
	return strings.TrimRight(s[:j], "."), s[j:]
}

func isPhraseSeparator(c byte) bool {
	switch c {
	case ':', ';', ',', '(', ')', '[', ']', '{', '}', '<', '>', '!', '?', '"', '\'', '=', '|', '/':
		return true
	}
	return c <= ' '
}

func isJobWord(w string) bool {
	return len(w) <= 4 && (strings.EqualFold(w, "job") || strings.EqualFold(w, "task"))
}

// outcomeWord reads one outcome word, in any case.
func outcomeWord(w string) Outcome {
	// An ASCII word folds only to a word of its length; others may fold
	// to ASCII ("ſ" is "s"), so they are compared with every word.
	ascii := isASCII(w)
	for _, o := range outcomeWords {
		if (!ascii || len(o.word) == len(w)) && strings.EqualFold(w, o.word) {
			return o.outcome
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

// outcomeWords are the words that say how a job execution ended, and where
// real job systems write them.
var outcomeWords = [...]struct {
	word    string
	outcome Outcome
}{
	{"ok", OutcomeSuccess},        // RQ: "Job OK (<id>)"
	{"done", OutcomeSuccess},      // Sidekiq's job logger
	{"success", OutcomeSuccess},   // Celery's state SUCCESS
	{"succeeded", OutcomeSuccess}, // Celery: "Task x[<id>] succeeded in 0.01s"
	{"completed", OutcomeSuccess}, // BullMQ's state and event
	{"finished", OutcomeSuccess},  // RQ's status
	{"error", OutcomeFailure},     // River's status
	{"errored", OutcomeFailure},   // River: "Job errored"
	{"fail", OutcomeFailure},      // Sidekiq's job logger
	{"failed", OutcomeFailure},    // BullMQ's state and event, RQ's status
	{"failure", OutcomeFailure},   // Celery's state FAILURE
	{"panic", OutcomeFailure},     // River's status
	{"panicked", OutcomeFailure},  // River: "Job panicked"
	{"raised", OutcomeFailure},    // Celery: "Task x[<id>] raised unexpected: ..."; RQ: "exception raised while executing"
	{"retry", OutcomeFailure},     // Celery's state RETRY and "Task x[<id>] retry: ..."
}

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
