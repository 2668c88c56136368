// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

const (
	kConsumer = ptrace.SpanKindConsumer
	kProducer = ptrace.SpanKindProducer
	riverLib  = "github.com/riverqueue/rivercontrib/otelriver"
)

// Every form of propagation and every producer spelling jobevent knows:
// one edge each, with the child's class and queue from the producer span
// or, where it has none, from the child's execution.
func TestEveryForm(t *testing.T) {
	tests := []struct {
		name  string
		cfg   func(*Config)
		spans []span
		want  map[string]int64
	}{
		{
			name: "Sidekiq ruby-contrib: <queue> publish inside the parent's execution, the child's parent",
			spans: []span{
				{kind: kConsumer, name: "default process", trace: 1, id: 1, attrs: map[string]any{
					"messaging.system": "sidekiq", "messaging.operation": "process", "messaging.sidekiq.job_class": "ImportJob",
					"messaging.destination": "default", "messaging.message_id": "j1"}},
				{kind: kProducer, name: "rows publish", trace: 1, id: 2, parent: 1, attrs: map[string]any{
					"messaging.system": "sidekiq", "messaging.operation": "publish", "messaging.sidekiq.job_class": "RowJob",
					"messaging.destination": "rows", "messaging.message_id": "j2"}},
				{kind: kConsumer, name: "rows process", trace: 1, id: 3, parent: 2, attrs: map[string]any{
					"messaging.system": "sidekiq", "messaging.operation": "process", "messaging.sidekiq.job_class": "RowJob",
					"messaging.destination": "rows", "messaging.message_id": "j2"}},
			},
			want: map[string]int64{"sidekiq ImportJob -> RowJob @rows": 1},
		},
		{
			name: "Celery: apply_async/<task>, the routing key as queue",
			spans: []span{
				{kind: kProducer, name: "apply_async/tasks.index", trace: 2, id: 2, parent: 1, attrs: map[string]any{
					"celery.action": "apply_async", "celery.task_name": "tasks.index", "messaging.destination": "search",
					"messaging.message.id": "c2"}},
				{kind: kConsumer, name: "run/tasks.import", trace: 2, id: 1, attrs: map[string]any{
					"celery.action": "run", "celery.task_name": "tasks.import", "messaging.destination": "celery",
					"messaging.message.id": "c1", "celery.state": "SUCCESS"}},
			},
			want: map[string]int64{"celery tasks.import -> tasks.index @search": 1},
		},
		{
			name: "BullMQ built-in: add <queue>.<name>",
			spans: []span{
				{kind: kConsumer, name: "process imports", scope: "bullmq", trace: 3, id: 1, attrs: map[string]any{
					"bullmq.queue.name": "imports", "bullmq.queue.operation": "process", "bullmq.job.name": "import-csv", "bullmq.job.id": "1"}},
				{kind: kProducer, name: "add rows.import-row", scope: "bullmq", trace: 3, id: 2, parent: 1, attrs: map[string]any{
					"bullmq.queue.name": "rows", "bullmq.queue.operation": "add", "bullmq.job.name": "import-row", "bullmq.job.id": "2"}},
			},
			want: map[string]int64{"bullmq import-csv -> import-row @rows": 1},
		},
		{
			name: "AppSignal BullMQ: messaging publish",
			spans: []span{
				{kind: kConsumer, name: "imports process", trace: 4, id: 1, attrs: map[string]any{
					"messaging.system": "bullmq", "messaging.operation.type": "process", "messaging.bullmq.job.name": "import",
					"messaging.destination.name": "imports", "messaging.message.id": "1"}},
				{kind: kProducer, name: "publish rows", trace: 4, id: 2, parent: 1, attrs: map[string]any{
					"messaging.system": "bullmq", "messaging.operation.type": "publish", "messaging.bullmq.job.name": "row",
					"messaging.destination.name": "rows"}},
			},
			want: map[string]int64{"bullmq import -> row @rows": 1},
		},
		{
			name: "ActiveJob: <queue> publish with code.namespace",
			spans: []span{
				{kind: kConsumer, name: "default process", trace: 5, id: 1, attrs: map[string]any{
					"code.namespace": "ImportJob", "messaging.destination": "default", "messaging.message_id": "a1"}},
				{kind: kProducer, name: "mailers publish", trace: 5, id: 2, parent: 1, attrs: map[string]any{
					"messaging.system": "active_job", "code.namespace": "ActionMailer::MailDeliveryJob", "messaging.destination": "mailers"}},
			},
			want: map[string]int64{"active_job ImportJob -> ActionMailer::MailDeliveryJob @mailers": 1},
		},
		{
			name: "semantic conventions with the user's keys: send <queue>, the child's class from the producer's own key",
			cfg:  func(c *Config) { c.JobClassKeys = []string{"app.job.class"} },
			spans: []span{
				{kind: kConsumer, name: "process orders", trace: 6, id: 1, attrs: map[string]any{
					"messaging.system": "rabbitmq", "messaging.operation.type": "process", "app.job.class": "OrderJob",
					"messaging.destination.name": "orders", "messaging.message.id": "m1"}},
				{kind: kProducer, name: "send invoices", trace: 6, id: 2, parent: 1, attrs: map[string]any{
					"messaging.system": "rabbitmq", "messaging.operation.type": "send", "app.job.class": "InvoiceJob",
					"messaging.destination.name": "invoices"}},
			},
			want: map[string]int64{"rabbitmq OrderJob -> InvoiceJob @invoices": 1},
		},
		{
			name: "River: span links, two kinds in one insert_many, classes and queues from the children; a retry counts no more",
			spans: []span{
				{kind: kConsumer, name: "river.work", scope: riverLib, trace: 7, id: 1, attrs: map[string]any{
					"id": 1, "kind": "import_csv", "queue": "imports", "attempt": 1, "status": "ok"}},
				{kind: kProducer, name: "river.insert_many", scope: riverLib, trace: 7, id: 2, parent: 1, attrs: map[string]any{
					"kinds": []any{"import_row", "notify_done"}, "status": "ok"}},
				{kind: kConsumer, name: "river.work", scope: riverLib, trace: 8, id: 1, links: [][2]byte{{7, 2}}, attrs: map[string]any{
					"id": 2, "kind": "import_row", "queue": "rows", "attempt": 1, "status": "error"}},
				{kind: kConsumer, name: "river.work", scope: riverLib, trace: 9, id: 1, links: [][2]byte{{7, 2}}, attrs: map[string]any{
					"id": 2, "kind": "import_row", "queue": "rows", "attempt": 2, "status": "ok"}},
				{kind: kConsumer, name: "river.work", scope: riverLib, trace: 10, id: 1, links: [][2]byte{{7, 2}}, attrs: map[string]any{
					"id": 3, "kind": "notify_done", "queue": "default", "attempt": 1, "status": "ok"}},
			},
			want: map[string]int64{"river import_csv -> import_row @rows": 1, "river import_csv -> notify_done @default": 1},
		},
		{
			name: "no edges: root enqueues, HTTP spans, an enqueue from a web request",
			spans: []span{
				{kind: ptrace.SpanKindServer, name: "POST /import", trace: 11, id: 1, attrs: map[string]any{"http.request.method": "POST"}},
				{kind: kProducer, name: "default publish", trace: 11, id: 2, parent: 1, attrs: map[string]any{
					"messaging.system": "sidekiq", "messaging.operation": "publish", "messaging.sidekiq.job_class": "ImportJob",
					"messaging.destination": "default"}},
				{kind: kConsumer, name: "default process", trace: 11, id: 3, parent: 2, attrs: map[string]any{
					"messaging.system": "sidekiq", "messaging.operation": "process", "messaging.sidekiq.job_class": "ImportJob",
					"messaging.destination": "default", "messaging.message_id": "j1"}},
				{kind: kProducer, name: "add emails.send", scope: "bullmq", trace: 12, id: 1, attrs: map[string]any{
					"bullmq.queue.name": "emails", "bullmq.queue.operation": "add", "bullmq.job.name": "send"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			// One batch, the spans in either order: the connector reads a
			// batch's producer spans first.
			p := newPair(t, cfg)
			p.consume(t, traces(t, tt.spans...))
			assert.Equal(t, tt.want, p.edges(t))
			q := newPair(t, cfg)
			reversed := slices.Clone(tt.spans)
			slices.Reverse(reversed)
			q.consume(t, traces(t, reversed...))
			assert.Equal(t, tt.want, q.edges(t), "spans in reverse order")
			// Span by span, in the order they end: a producer span before
			// the execution around it, a child's execution after both.
			u := newPair(t, cfg)
			for _, s := range byEnd(tt.spans) {
				u.consume(t, traces(t, s))
			}
			assert.Equal(t, tt.want, u.edges(t), "one span a batch")
			q.tick()
			assert.Empty(t, q.alerts())
		})
	}
}

// byEnd orders spans as they end and are exported: producer spans first
// (they end inside the execution that contains them), then the executions
// that contain them, then the executions of the enqueued jobs.
func byEnd(spans []span) []span {
	out := slices.Clone(spans)
	rank := func(s span) int {
		switch {
		case s.kind == kProducer:
			return 0
		case s.parent == 0 && len(s.links) == 0:
			return 1 // a root: the parent job
		}
		return 2
	}
	slices.SortStableFunc(out, func(a, b span) int { return rank(a) - rank(b) })
	return out
}

// sidekiqEdge is a Sidekiq execution of from that enqueues a job of to,
// in trace tr.
func sidekiqEdge(tr byte, from, to string) []span {
	return []span{
		{kind: kConsumer, name: "default process", trace: tr, id: 1, attrs: map[string]any{
			"messaging.system": "sidekiq", "messaging.operation": "process", "messaging.sidekiq.job_class": from,
			"messaging.destination": "default", "messaging.message_id": fmt.Sprint(tr)}},
		{kind: kProducer, name: "default publish", trace: tr, id: 2, parent: 1, attrs: map[string]any{
			"messaging.system": "sidekiq", "messaging.operation": "publish", "messaging.sidekiq.job_class": to,
			"messaging.destination": "default"}},
	}
}

func TestCycleAlerts(t *testing.T) {
	tests := []struct {
		name    string
		classes []string
		cycle   string
	}{
		{"length 1", []string{"PollJob"}, "PollJob -> PollJob"},
		{"length 2", []string{"WebhookJob", "RetryJob"}, "RetryJob -> WebhookJob -> RetryJob"},
		{"length 5", []string{"A", "B", "C", "D", "E"}, "A -> B -> C -> D -> E -> A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPair(t, testConfig())
			n := len(tt.classes)
			var spans []span
			for i, from := range tt.classes {
				spans = append(spans, sidekiqEdge(byte(i+1), from, tt.classes[(i+1)%n])...)
			}
			// A fan-out beside the cycle is no part of it.
			spans = append(spans, sidekiqEdge(100, tt.classes[0], "ReportJob")...)
			p.consume(t, traces(t, spans...))
			p.consume(t, traces(t, sidekiqEdge(101, tt.classes[0], tt.classes[1%n])...))
			p.tick()
			counts := make([]string, n)
			path := strings.Split(tt.cycle, " -> ")
			for i := range n {
				c := 1
				if path[i] == tt.classes[0] && path[i+1] == tt.classes[1%n] {
					c = 2
				}
				counts[i] = fmt.Sprintf("%s -> %s: %d", path[i], path[i+1], c)
			}
			require.Equal(t, []alertRec{{"firing", tt.cycle, strings.Join(counts, ", ")}}, p.alerts())
			lr := p.logSink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			assert.Equal(t, "jobqueue.alert", lr.EventName())
			assert.Equal(t, "WARN", lr.SeverityText())
			assert.Equal(t, "job_cycle", str(lr, "alert.name"))
			assert.Equal(t, fmt.Sprintf("job cycle %s (%d classes)", tt.cycle, n), lr.Body().Str())
			assert.Equal(t, "sidekiq", str(lr, "messaging.system"))
			ids, _ := lr.Attributes().Get("alert.example_trace_ids")
			assert.Equal(t, min(n+1, 5), ids.Slice().Len(), "the traces of the cycle's edges")

			// Seen again, still firing: no new record.
			p.clock.Advance(time.Hour)
			p.consume(t, traces(t, spans...))
			p.tick()
			assert.Len(t, p.alerts(), 1)

			// Every edge but the first keeps coming; the first expires.
			p.clock.Advance(12 * time.Hour)
			p.consume(t, traces(t, spans[2:]...))
			p.clock.Advance(12*time.Hour + time.Second)
			p.tick()
			p.tick()
			got := p.alerts()
			require.Len(t, got, 2)
			assert.Equal(t, "resolved", got[1].state)
			assert.Equal(t, tt.cycle, got[1].cycle)
		})
	}
}
