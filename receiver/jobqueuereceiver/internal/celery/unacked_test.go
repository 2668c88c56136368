// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseUnacked(t *testing.T) {
	for in, want := range map[string][2]string{
		`[{"body": "x", "headers": {"task": "t"}}, "", "mail"]`:       {"", "mail"},
		` [ {"a":[1,"]"]} , "celery" , "celery" ] `:                   {"celery", "celery"},
		`[{"s":"\"],"}, "ex\"", "r\u00e9"]`:                           {`ex"`, "ré"},
		`[{}, "` + strings.Repeat("q", 300) + `", "k"]`:               {strings.Repeat("q", 300), "k"},
		`[{"body":"` + strings.Repeat(`\\\"`, 1000) + `"}, "e", "k"]`: {"e", "k"},
	} {
		ex, rk, err := parseUnacked(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, [2]string{ex, rk}, in)
	}
	for _, in := range []string{
		``, `{}`, `[]`, `[{}]`, `[{}, "e"]`, `[{}, "e", "k", "x"]`, `[{}, "e", "k"] x`,
		`["m", "e", "k"]`, `[{}, 1, "k"]`, `[{}, "e", null]`, `[{"a":1, "e", "k"]`, `[{}, "e" "k"]`,
	} {
		_, _, err := parseUnacked(in)
		assert.Error(t, err, in)
	}
}

func TestParseBinding(t *testing.T) {
	sep := DefaultSep
	for _, tt := range []struct {
		member, routingKey, queue string
		ok                        bool
	}{
		{"celery" + sep + sep + "celery", "celery", "celery", true},
		{"" + sep + sep + "w1@host.celery.pidbox", "", "w1@host.celery.pidbox", true},
		{"k" + sep + "pattern" + sep + "q", "k", "q", true},
		{"k" + sep + sep, "", "", false},
		{"k" + sep + "q", "", "", false},
		{"k" + sep + sep + "q" + sep + "x", "", "", false},
		{"plain", "", "", false},
	} {
		rk, q, ok := parseBinding(tt.member, sep)
		assert.Equal(t, tt.ok, ok, "%q", tt.member)
		assert.Equal(t, tt.routingKey, rk, "%q", tt.member)
		assert.Equal(t, tt.queue, q, "%q", tt.member)
	}
}

// FuzzParseUnacked checks the scanner against encoding/json: every value
// that is a JSON array of an object and two strings is accepted, with those
// strings. (The message is skipped, not validated: the scanner may accept
// some malformed messages, which only cost a count.)
func FuzzParseUnacked(f *testing.F) {
	for _, seed := range []string{
		`[{"body": "W1sxXSwge31d", "headers": {"task": "tasks.work", "eta": null}, "properties": {"delivery_info": {"exchange": "", "routing_key": "mail"}}}, "", "mail"]`,
		`[{"s":"\"],"}, "ex\"", "r\u00e9"]`,
		`[{}, 1, "k"]`, `[{"a":[1,{"b":"]"}]}, "e", "k"] `, `garbage[`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ex, rk, err := parseUnacked(in)
		var v []json.RawMessage
		if json.Unmarshal([]byte(in), &v) != nil || len(v) != 3 {
			return
		}
		var m map[string]json.RawMessage
		var wantEx, wantRK string
		if json.Unmarshal(v[0], &m) != nil || m == nil || json.Unmarshal(v[1], &wantEx) != nil || json.Unmarshal(v[2], &wantRK) != nil {
			return
		}
		require.NoError(t, err, "refused %q", in)
		if utf8.ValidString(in) { // encoding/json replaces invalid bytes; ours keeps them
			assert.Equal(t, wantEx, ex)
			assert.Equal(t, wantRK, rk)
		}
	})
}

// FuzzParseBinding: a binding that parses joins back into the member.
func FuzzParseBinding(f *testing.F) {
	for _, seed := range []string{"celery\x06\x16\x06\x16celery", "k\x06\x16p\x06\x16q", "\x06\x16\x06\x16", "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, member string) {
		rk, q, ok := parseBinding(member, DefaultSep)
		if !ok {
			return
		}
		require.NotEmpty(t, q)
		require.True(t, strings.HasPrefix(member, rk+DefaultSep))
		require.True(t, strings.HasSuffix(member, DefaultSep+q))
		require.NotContains(t, q, DefaultSep)
		require.NotContains(t, rk, DefaultSep)
	})
}

func TestParseResultState(t *testing.T) {
	for in, want := range map[string]string{
		`{"status": "SUCCESS", "result": 1}`:                                   "success",
		`{"status": "FAILURE", "result": {"exc_type": "ValueError", "exc_mess`: "failure",
		`{"status":"RETRY",`: "retry",
	} {
		got, ok := parseResultState(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{``, `x`, `{"result": 1, "status": "SUCCESS"}`, `{"status": 1}`, `{"status": "SUCC`, `{"status": ""}`} {
		_, ok := parseResultState(in)
		assert.False(t, ok, in)
	}
}

// FuzzParseResultState: an accepted head starts with a status member whose
// string value, lowercased, is the state.
func FuzzParseResultState(f *testing.F) {
	for _, seed := range []string{`{"status": "SUCCESS", "result": null}`, `{"status": "FAIL`, `{}`, `[1]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, head string) {
		state, ok := parseResultState(head)
		if !ok {
			return
		}
		require.NotEmpty(t, state)
		require.LessOrEqual(t, len(state), 32)
		require.Equal(t, strings.ToLower(state), state)
		require.Contains(t, head, `"status"`)
	})
}
