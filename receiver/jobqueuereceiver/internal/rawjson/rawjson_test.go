// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package rawjson

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestObjectMembers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][2]string
		err  bool
	}{
		{"empty", `{}`, nil, false},
		{"spaces", " { \"a\" : 1 ,\n\"b\":\t\"x\" } ", [][2]string{{"a", "1"}, {"b", `"x"`}}, false},
		{"nested", `{"args":[{"k":"}"},[1,"]"]],"n":null}`, [][2]string{{"args", `[{"k":"}"},[1,"]"]]`}, {"n", "null"}}, false},
		{"escapes", `{"s":"a\"b\\","t":"\\\\\""}`, [][2]string{{"s", `"a\"b\\"`}, {"t", `"\\\\\""`}}, false},
		{"not an object", `[1]`, nil, true},
		{"empty input", ``, nil, true},
		{"unterminated string", `{"a":"x`, nil, true},
		{"unbalanced", `{"a":[1,2}`, nil, true},
		{"missing colon", `{"a" 1}`, nil, true},
		{"missing comma", `{"a":1 "b":2}`, nil, true},
		{"trailing comma", `{"a":1,}`, [][2]string{{"a", "1"}}, true},
		{"bare word key", `{a:1}`, nil, true},
		{"unclosed", `{"a":1`, [][2]string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][2]string
			o := NewObject(tt.in)
			for {
				k, v, ok := o.Next()
				if !ok {
					break
				}
				got = append(got, [2]string{k, v})
			}
			if tt.err {
				require.Error(t, o.Err())
				return
			}
			require.NoError(t, o.Err())
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJSONString(t *testing.T) {
	for in, want := range map[string]string{
		`"Plain::Class"`:  "Plain::Class",
		`"a\"b"`:          `a"b`,
		`"\u00e9t\u00e9"`: "été",
		`""`:              "",
	} {
		got, ok := String(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{``, `"`, `x`, `12`, `null`, `"\x"`} {
		_, ok := String(in)
		assert.False(t, ok, in)
	}
}
