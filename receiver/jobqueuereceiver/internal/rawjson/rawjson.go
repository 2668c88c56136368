// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package rawjson walks JSON payloads of job systems without decoding them:
// the readers of the job_queue receiver need a few members of payloads that
// can be megabytes of job arguments.
package rawjson // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
)

// Object walks the top-level members of one JSON object and hands each value
// back as raw text, without decoding it. Job payloads can be megabytes of
// args the reader never needs: skipping a value is a search for the next
// quote or bracket, it neither allocates nor copies, and works on the string
// go-redis returned (a []byte for encoding/json would copy it first).
//
// It checks structure only as far as it must to find member boundaries
// (brackets balance, strings close); it is not a validator. Keys are compared
// raw: a key spelled with escapes ("enqueued\u005fat") is not recognised.
type Object struct {
	s    string
	pos  int
	done bool
	err  error
}

var errNotObject = errors.New("not a JSON object")

// NewObject starts walking the JSON object s.
func NewObject(s string) Object {
	o := Object{s: s}
	o.skipSpace()
	if o.pos >= len(s) || s[o.pos] != '{' {
		o.err = errNotObject
		return o
	}
	o.pos++
	o.skipSpace()
	if o.pos < len(s) && s[o.pos] == '}' {
		o.done = true
	}
	return o
}

// Next returns the next member's key (without quotes, escapes kept) and raw
// value. It returns ok=false at the end of the object or on malformed input;
// Err tells the two apart.
func (o *Object) Next() (key, value string, ok bool) {
	if o.done || o.err != nil {
		return "", "", false
	}
	if o.pos >= len(o.s) || o.s[o.pos] != '"' {
		return o.fail("expected a member name")
	}
	end, good := skipString(o.s, o.pos)
	if !good {
		return o.fail("unterminated string")
	}
	key = o.s[o.pos+1 : end-1]
	o.pos = end
	o.skipSpace()
	if o.pos >= len(o.s) || o.s[o.pos] != ':' {
		return o.fail("expected ':'")
	}
	o.pos++
	o.skipSpace()
	start := o.pos
	if end, good = SkipValue(o.s, o.pos); !good {
		return o.fail("malformed value")
	}
	value = o.s[start:end]
	o.pos = end
	o.skipSpace()
	if o.pos < len(o.s) {
		switch o.s[o.pos] {
		case ',':
			o.pos++
			o.skipSpace()
			return key, value, true
		case '}':
			o.done = true
			return key, value, true
		}
	}
	return o.fail("expected ',' or '}'")
}

// Err is why Next stopped early; nil at the end of a well-formed object.
func (o *Object) Err() error { return o.err }

func (o *Object) fail(why string) (string, string, bool) {
	o.err = errors.New(why)
	return "", "", false
}

func (o *Object) skipSpace() { o.pos = SkipSpace(o.s, o.pos) }

// SkipSpace returns the index of the first non-space byte at or after s[i].
func SkipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// SkipValue returns the index just past the value starting at s[i].
func SkipValue(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		return skipNested(s, i)
	}
	start := i
	for i < len(s) {
		switch s[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, i > start
		case '"', '{', '[', ':':
			return 0, false
		}
		i++
	}
	return i, i > start
}

// skipString returns the index just past the string whose opening quote is
// at s[i]. A quote closes the string unless an odd run of backslashes
// precedes it.
func skipString(s string, i int) (int, bool) {
	from := i + 1
	for {
		j := strings.IndexByte(s[from:], '"')
		if j < 0 {
			return 0, false
		}
		j += from
		k := j
		for s[k-1] == '\\' {
			k--
		}
		if (j-k)%2 == 0 {
			return j + 1, true
		}
		from = j + 1
	}
}

// skipNested returns the index just past the object or array opening at s[i].
func skipNested(s string, i int) (int, bool) {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"':
			end, ok := skipString(s, i)
			if !ok {
				return 0, false
			}
			i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
		i++
	}
	return 0, false
}

// String decodes a raw JSON string value. Values without escapes (every
// queue and class name Sidekiq writes) are returned as a substring of raw.
func String(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if strings.IndexByte(inner, '\\') < 0 {
		return inner, true
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", false
	}
	return s, true
}

// Strings decodes a raw JSON array of strings.
func Strings(raw string) ([]string, bool) {
	if raw == "" || raw[0] != '[' {
		return nil, false
	}
	i := SkipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return []string{}, true
	}
	var out []string
	for i < len(raw) {
		end, ok := SkipValue(raw, i)
		if !ok {
			return nil, false
		}
		s, ok := String(raw[i:end])
		if !ok {
			return nil, false
		}
		out = append(out, s)
		if i = SkipSpace(raw, end); i >= len(raw) {
			break
		}
		switch raw[i] {
		case ']':
			return out, true
		case ',':
			i = SkipSpace(raw, i+1)
		default:
			return nil, false
		}
	}
	return nil, false
}

// Int parses a raw JSON integer.
func Int(raw string) (int64, bool) {
	n, err := strconv.ParseInt(raw, 10, 64)
	return n, err == nil
}

// Number parses a raw JSON number; it rejects other literals and the
// extra spellings strconv accepts (Inf, NaN, hex).
func Number(raw string) (float64, bool) {
	if raw == "" || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) ||
		strings.ContainsAny(raw, "xXpP_") {
		return 0, false
	}
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}
