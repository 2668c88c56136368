// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"cmp"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The switch in fields.add must hold each built-in key at its slot in
// builtinKeys.
func TestBuiltinKeys(t *testing.T) {
	x := newTestExtractor(t, Config{})
	seen := map[string]bool{}
	for s, name := range builtinKeys {
		require.False(t, seen[name], "%q is listed twice", name)
		seen[name] = true
		m := pcommon.NewMap()
		m.PutStr("unrelated", "x")
		m.PutStr(name, "v")
		f := newFields(&x.x.keys)
		f.add(m)
		assert.Equal(t, 1, f.nval, name)
		assert.Equal(t, "v", f.strAt(slot(s)), name)
	}
}

// A map decoded from OTLP may repeat a key: its first value counts, as
// pcommon.Map.Get finds it.
func TestRepeatedKeys(t *testing.T) {
	const doc = `{"resourceSpans":[{"scopeSpans":[{"scope":{"name":"github.com/riverqueue/rivercontrib/otelriver"},
		"spans":[{"name":"river.work","kind":5,"endTimeUnixNano":"1","attributes":[
		{"key":"kind","value":{"intValue":"7"}},
		{"key":"id","value":{"stringValue":"first"}},
		{"key":"kind","value":{"stringValue":"second"}},
		{"key":"id","value":{"stringValue":"second"}}]}]}]}]}`
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces([]byte(doc))
	require.NoError(t, err)
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0)
	require.Equal(t, 4, ss.Spans().At(0).Attributes().Len(), "the decoder keeps repeated keys")
	var ev Event
	require.True(t, newTestExtractor(t, Config{}).FromSpan(ss.Scope(), ss.Spans().At(0), &ev))
	assert.Equal(t, "first", ev.ID)
	assert.Empty(t, ev.Class, "the first kind is an integer: no class, as with Get")

	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"attributes before the body", logSpec{attrs: map[string]any{"jid": "a", "msg": "done"},
			body: map[string]any{"jid": "b", "msg": "fail", "class": "FromBody"}},
			&Event{System: "sidekiq", ID: "a", Class: "FromBody", Outcome: OutcomeSuccess}},
		{"an id of the wrong type in the attributes hides the body's", logSpec{attrs: map[string]any{"jid": true, "msg": "done"},
			body: map[string]any{"jid": "b"}}, nil},
		{"the body before ctx", logSpec{body: map[string]any{"class": "Outer", "msg": "done",
			"ctx": map[string]any{"class": "Inner", "jid": "j"}}},
			&Event{System: "sidekiq", ID: "j", Class: "Outer", Outcome: OutcomeSuccess}},
	})
}

// A record with more of the known keys than fields holds is read in full,
// wherever its keys are.
func TestManyKnownKeys(t *testing.T) {
	river := map[string]any{"id": int64(42), "kind": "charge", "queue": "billing", "attempt": int64(3), "status": "ok"}
	put := func(m pcommon.Map, riverKeys bool) {
		for _, k := range builtinKeys {
			if _, ok := river[k]; ok == riverKeys {
				require.NoError(t, m.PutEmpty(k).FromRaw(cmp.Or(river[k], any("x-"+k))))
			}
		}
	}
	x := newTestExtractor(t, Config{})
	for _, riverFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("River's keys first: %v", riverFirst), func(t *testing.T) {
			scope, span := spanSpec{scope: riverScope, name: "river.work", kind: consumer}.build(t)
			put(span.Attributes(), riverFirst)
			put(span.Attributes(), !riverFirst)
			require.Greater(t, span.Attributes().Len(), maxValues)
			// messaging.system names the system; error.type makes a failure.
			checkExtraction(t, &Event{System: "x-messaging.system", ID: "42", Class: "charge", Queue: "billing", Attempt: 3,
				Outcome: OutcomeFailure, ErrorType: "x-error.type"}, func(ev *Event) bool { return x.FromSpan(scope, span, ev) })
		})
	}
}

// The user may list more keys than fields has slots for.
func TestManyUserKeys(t *testing.T) {
	var cfg Config
	for i := range 2 * maxRecorded {
		cfg.JobIDKeys = append(cfg.JobIDKeys, fmt.Sprintf("app.id.%d", i))
		cfg.JobClassKeys = append(cfg.JobClassKeys, fmt.Sprintf("app.class.%d", i))
	}
	x := newTestExtractor(t, cfg)
	runSpanCases(t, x, []spanCase{
		{"the last keys", spanSpec{name: "export", kind: internal,
			attrs: map[string]any{"app.id.127": "j-1", "app.class.127": "Export", "app.class.126": ""}},
			&Event{ID: "j-1", Class: "Export", Outcome: OutcomeSuccess}},
		{"an earlier key wins", spanSpec{name: "export", kind: internal,
			attrs: map[string]any{"app.id.127": "j-1", "app.id.3": "j-3", "app.class.100": "Export"}},
			&Event{ID: "j-3", Class: "Export", Outcome: OutcomeSuccess}},
	})
}
