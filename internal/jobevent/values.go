// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

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
	if o := outcomeWord(s); o != OutcomeUnknown {
		return o // most values: one word
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
	var buf foldBuf
	switch string(buf[:fold(w, &buf)]) {
	case "job", "task":
		return true
	}
	return false
}

// outcomeWord reads one outcome word, in any case. The words, and where real
// job systems write them:
func outcomeWord(w string) Outcome {
	var buf foldBuf
	switch string(buf[:fold(w, &buf)]) {
	case "ok", // RQ: "Job OK (<id>)"
		"done",      // Sidekiq's job logger
		"success",   // Celery's state SUCCESS
		"succeeded", // Celery: "Task x[<id>] succeeded in 0.01s"
		"completed", // BullMQ's state and event
		"finished":  // RQ's status
		return OutcomeSuccess
	case "error", // River's status
		"errored",  // River: "Job errored"
		"fail",     // Sidekiq's job logger
		"failed",   // BullMQ's state and event, RQ's status
		"failure",  // Celery's state FAILURE
		"panic",    // River's status
		"panicked", // River: "Job panicked"
		"raised",   // Celery: "Task x[<id>] raised unexpected: ..."; RQ: "exception raised while executing"
		"retry":    // Celery's state RETRY and "Task x[<id>] retry: ..."
		return OutcomeFailure
	}
	return OutcomeUnknown
}

// foldBuf holds a folded word as long as the longest word compared.
type foldBuf [len("succeeded")]byte

// fold lower-cases w into buf as strings.EqualFold compares it with ASCII
// words and returns its length; 0 when w is longer than buf.
func fold(w string, buf *foldBuf) int {
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= utf8.RuneSelf {
			return foldRunes(w, buf)
		}
		if i == len(buf) {
			return 0
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return len(w)
}

// foldRunes is fold for a word with non-ASCII letters: "ſ" folds to s and
// the Kelvin sign to k; any other makes it no ASCII word (0).
func foldRunes(w string, buf *foldBuf) int {
	n := 0
	for _, r := range w {
		switch {
		case 'A' <= r && r <= 'Z':
			r += 'a' - 'A'
		case r == 'ſ':
			r = 's'
		case r == '\u212a':
			r = 'k'
		case r >= utf8.RuneSelf:
			return 0
		}
		if n == len(buf) {
			return 0
		}
		buf[n] = byte(r)
		n++
	}
	return n
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
