// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// producerSpan builds one span of the given kind, scope, name and
// attributes, with a parent.
func producerSpan(t testing.TB, kind ptrace.SpanKind, scope, name string, attrs map[string]any) (pcommon.InstrumentationScope, ptrace.Span) {
	t.Helper()
	ss := ptrace.NewTraces().ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
	ss.Scope().SetName(scope)
	span := ss.Spans().AppendEmpty()
	span.SetKind(kind)
	span.SetName(name)
	span.SetTraceID(pcommon.TraceID{1})
	span.SetSpanID(pcommon.SpanID{2})
	span.SetParentSpanID(pcommon.SpanID{3})
	require.NoError(t, span.Attributes().FromRaw(attrs))
	return ss.Scope(), span
}

func TestFromProducerSpan(t *testing.T) {
	const riverLib = "github.com/riverqueue/rivercontrib/otelriver"
	p := ptrace.SpanKindProducer
	tests := []struct {
		name        string
		cfg         Config
		kind        ptrace.SpanKind
		scope, span string
		attrs       map[string]any
		want        *Enqueue // nil: no producer span
	}{
		{name: "River insert_many of one kind", kind: p, scope: riverLib + "@", span: "river.insert_many",
			attrs: map[string]any{"kinds": []any{"import_row"}, "status": "ok"},
			want:  &Enqueue{System: "river", Class: "import_row"}},
		{name: "River insert_many of two kinds: the children tell", kind: p, scope: riverLib, span: "river.insert_many",
			attrs: map[string]any{"kinds": []any{"import_row", "notify_done"}},
			want:  &Enqueue{System: "river"}},
		{name: "River's generic keys are not read on other spans", kind: p, scope: "app", span: "river.insert_many",
			attrs: map[string]any{"kinds": []any{"x"}, "queue": "q"}},
		{name: "bullmq-otel add", kind: p, scope: "bullmq", span: "add rows.import-row",
			attrs: map[string]any{"bullmq.queue.name": "rows", "bullmq.queue.operation": "add", "bullmq.job.name": "import-row"},
			want:  &Enqueue{System: "bullmq", Class: "import-row", Queue: "rows"}},
		{name: "bullmq-otel addBulk names no single job", kind: p, scope: "bullmq", span: "addBulk rows",
			attrs: map[string]any{"bullmq.queue.name": "rows", "bullmq.queue.operation": "addBulk"},
			want:  &Enqueue{System: "bullmq", Queue: "rows"}},
		{name: "bullmq-otel's other producer-side operations are no enqueue", kind: p, scope: "bullmq", span: "pause rows",
			attrs: map[string]any{"bullmq.queue.name": "rows", "bullmq.queue.operation": "pause"}},
		{name: "Celery apply_async", kind: p, span: "apply_async/tasks.index",
			attrs: map[string]any{"celery.action": "apply_async", "celery.task_name": "tasks.index", "messaging.destination": "search"},
			want:  &Enqueue{System: "celery", Class: "tasks.index", Queue: "search"}},
		{name: "Sidekiq ruby-contrib <queue> publish", kind: p, span: "default publish",
			attrs: map[string]any{"messaging.system": "sidekiq", "messaging.operation": "publish",
				"messaging.sidekiq.job_class": "HardJob", "messaging.destination": "default"},
			want: &Enqueue{System: "sidekiq", Class: "HardJob", Queue: "default"}},
		{name: "Sidekiq by the span name alone", kind: p, span: "critical publish",
			attrs: map[string]any{"messaging.system": "sidekiq", "messaging.sidekiq.job_class": "HardJob", "messaging.destination": "critical"},
			want:  &Enqueue{System: "sidekiq", Class: "HardJob", Queue: "critical"}},
		{name: "AppSignal BullMQ", kind: p, span: "rows publish",
			attrs: map[string]any{"messaging.system": "bullmq", "messaging.operation.type": "publish",
				"messaging.bullmq.job.name": "row", "messaging.destination.name": "rows"},
			want: &Enqueue{System: "bullmq", Class: "row", Queue: "rows"}},
		{name: "ActiveJob", kind: p, span: "mailers publish",
			attrs: map[string]any{"code.namespace": "MailJob", "messaging.destination": "mailers", "messaging.operation": "publish"},
			want:  &Enqueue{System: "activejob", Class: "MailJob", Queue: "mailers"}},
		{name: "semantic conventions create, with the user's keys", cfg: Config{JobClassKeys: []string{"app.class"}, QueueKeys: []string{"app.queue"}},
			kind: p, span: "create jobs",
			attrs: map[string]any{"messaging.system": "kafka", "messaging.operation.type": "create", "app.class": "Thumb",
				"app.queue": "media", "messaging.destination.name": "jobs"},
			want: &Enqueue{System: "kafka", Class: "Thumb", Queue: "media"}},
		{name: "a messaging receive is no enqueue", kind: p, span: "receive jobs",
			attrs: map[string]any{"messaging.system": "kafka", "messaging.operation.type": "receive"}},
		{name: "a publish name without messaging.system is no enqueue", kind: p, span: "publish article",
			attrs: map[string]any{"article.id": 4}},
		{name: "only PRODUCER spans", kind: ptrace.SpanKindClient, span: "default publish",
			attrs: map[string]any{"messaging.system": "sidekiq", "messaging.operation": "publish", "messaging.sidekiq.job_class": "HardJob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := NewExtractor(tt.cfg)
			require.NoError(t, err)
			scope, span := producerSpan(t, tt.kind, tt.scope, tt.span, tt.attrs)
			e := Enqueue{Class: "untouched"}
			ok := x.FromProducerSpan(scope, span, &e)
			if tt.want == nil {
				assert.False(t, ok)
				assert.Equal(t, Enqueue{Class: "untouched"}, e)
				return
			}
			require.True(t, ok)
			want := *tt.want
			want.TraceID, want.SpanID, want.ParentSpanID = pcommon.TraceID{1}, pcommon.SpanID{2}, pcommon.SpanID{3}
			assert.Equal(t, want, e)
		})
	}
}

// The real captures: every add and insert_many is a producer span, and
// nothing else is.
func TestFromProducerSpanCaptures(t *testing.T) {
	x, err := NewExtractor(Config{})
	require.NoError(t, err)
	for dir, want := range map[string]map[string]int{
		"bullmq-otel-enqueue":     {"import-csv@imports": 1, "import-row@rows": 3, "deliver-webhook@webhooks": 3, "retry-webhook@retries": 2},
		"river-otelriver-enqueue": {"import_csv@": 1, "@": 1, "deliver_webhook@": 3, "retry_webhook@": 2},
	} {
		t.Run(dir, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(capturesDir, dir, "0001_v1_traces.binpb"))
			require.NoError(t, err)
			td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
			require.NoError(t, err)
			got := map[string]int{}
			for _, rs := range td.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					for _, span := range ss.Spans().All() {
						var e Enqueue
						if x.FromProducerSpan(ss.Scope(), span, &e) {
							got[e.Class+"@"+e.Queue]++
							assert.Equal(t, span.SpanID(), e.SpanID)
						}
					}
				}
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestFromProducerSpanDoesNotAllocate(t *testing.T) {
	x, err := NewExtractor(Config{})
	require.NoError(t, err)
	var e Enqueue
	for _, s := range []struct {
		kind  ptrace.SpanKind
		name  string
		attrs map[string]any
	}{
		{ptrace.SpanKindServer, "GET /", map[string]any{"http.request.method": "GET"}},
		{ptrace.SpanKindProducer, "send metrics", map[string]any{"peer.service": "statsd"}},
		{ptrace.SpanKindProducer, "default publish", map[string]any{"messaging.system": "sidekiq", "messaging.sidekiq.job_class": "HardJob"}},
	} {
		scope, span := producerSpan(t, s.kind, "", s.name, s.attrs)
		assert.Zero(t, testing.AllocsPerRun(100, func() { x.FromProducerSpan(scope, span, &e) }), s.name)
	}
}
