// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A scope of an HTTP or database instrumentation is skipped whole, even for
// a span that would read as an execution elsewhere; with the user's own
// keys no scope is ruled out.
func TestScopeDecidesOnce(t *testing.T) {
	process := map[string]any{"messaging.system": "sidekiq", "messaging.operation.type": "process",
		"messaging.message.id": "j1", "messaging.sidekiq.job_class": "HardJob", "app.job.id": "j1"}
	for _, tt := range []struct {
		scope   string
		userIDs []string
		skip    bool
	}{
		{scope: "OpenTelemetry::Instrumentation::Sidekiq"},
		{scope: ""},
		{scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", skip: true},
		{scope: "OpenTelemetry::Instrumentation::PG", skip: true},
		{scope: "@opentelemetry/instrumentation-http", skip: true},
		{scope: "opentelemetry.instrumentation.requests", skip: true},
		{scope: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", userIDs: []string{"app.job.id"}},
	} {
		x := newTestExtractor(t, Config{JobIDKeys: tt.userIDs})
		scope, span := spanSpec{scope: tt.scope, name: "default process", kind: consumer, attrs: process}.build(t)
		s := x.Scope(scope)
		assert.Equal(t, tt.skip, s.Skip(), tt.scope)
		var ev Event
		assert.Equal(t, !tt.skip, s.FromSpan(span, &ev), tt.scope)
		assert.Equal(t, !tt.skip, x.FromSpan(scope, span, &ev), "FromSpan decides the same for one span")
	}
}

// River's scope names the convention of its work spans; the same span in
// another scope reads no job.
func TestScopeNamesRiver(t *testing.T) {
	x := newTestExtractor(t, Config{})
	river := spanSpec{scope: riverScope, name: "river.work/email", kind: consumer,
		attrs: map[string]any{"id": int64(7), "kind": "email", "queue": "default", "attempt": int64(2)}}
	scope, span := river.build(t)
	s := x.Scope(scope)
	var ev Event
	require.True(t, s.FromSpan(span, &ev))
	assert.Equal(t, "river", ev.System)
	assert.Equal(t, "7", ev.ID)

	river.scope = "my.app"
	scope, span = river.build(t)
	s = x.Scope(scope)
	assert.False(t, s.FromSpan(span, &ev), "generic keys are read only in River's scope")
}
