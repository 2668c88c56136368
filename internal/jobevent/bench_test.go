// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// fixture is a span or log record and the extraction of it.
type fixture struct {
	name    string
	isJob   bool
	extract func(Reader, *Event) bool
}

// capturedSpan is the first span named name with status code in a capture
// file.
func capturedSpan(t testing.TB, file, name string, code ptrace.StatusCode) (pcommon.InstrumentationScope, ptrace.Span) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(capturesDir, file))
	require.NoError(t, err)
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
	require.NoError(t, err)
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				if span.Name() == name && span.Status().Code() == code {
					return ss.Scope(), span
				}
			}
		}
	}
	t.Fatalf("no span %q with status %v in %s", name, code, file)
	return pcommon.InstrumentationScope{}, ptrace.Span{}
}

// tenHTTPAttrs are an ordinary HTTP span's attributes.
var tenHTTPAttrs = map[string]any{
	"http.request.method": "GET", "url.full": "https://api.example.com/v1/orders?page=2", "server.address": "api.example.com",
	"server.port": int64(443), "http.response.status_code": int64(200), "network.protocol.version": "1.1",
	"user_agent.original": "Go-http-client/1.1", "url.scheme": "https", "http.request.body.size": int64(0), "client.address": "10.0.0.7",
}

func spanFixtures(t testing.TB) []fixture {
	var out []fixture
	add := func(name string, isJob bool, scope pcommon.InstrumentationScope, span ptrace.Span) {
		out = append(out, fixture{name, isJob, func(x Reader, ev *Event) bool { return x.FromSpan(scope, span, ev) }})
	}
	built := func(name string, isJob bool, s spanSpec) {
		scope, span := s.build(t)
		add(name, isJob, scope, span)
	}
	kafkaReceive := map[string]any{"messaging.system": "kafka", "messaging.operation.type": "receive", "messaging.operation.name": "poll",
		"messaging.destination.name": "orders", "messaging.kafka.consumer.group": "g1", "messaging.kafka.offset": int64(42),
		"messaging.destination.partition.id": "3", "messaging.client.id": "c1", "server.address": "kafka-1", "server.port": int64(9092)}

	built("non_job/http_client", false, spanSpec{scope: "net/http", name: "GET", kind: ptrace.SpanKindClient, hasParent: true, attrs: tenHTTPAttrs})
	built("non_job/http_server", false, spanSpec{scope: "net/http", name: "GET /v1/orders", kind: ptrace.SpanKindServer, attrs: tenHTTPAttrs})
	built("non_job/internal", false, spanSpec{scope: "app", name: "render", kind: internal, hasParent: true, attrs: tenHTTPAttrs})
	built("non_job/consumer_receive", false, spanSpec{scope: "kafka", name: "orders receive", kind: consumer, attrs: kafkaReceive})

	scope, span := capturedSpan(t, "river-otelriver/0005_v1_traces.binpb", "river.work", statusEr)
	add("river_failure", true, scope, span)
	built("river_large_id", true, spanSpec{scope: riverScope, name: "river.work", kind: consumer, status: statusEr,
		statusMsg: "payment provider: dial tcp 10.1.2.3:443: connect: connection refused",
		attrs: map[string]any{"id": int64(123456), "kind": "charge_card", "queue": "billing", "attempt": int64(1), "status": "error",
			"priority": int64(1), "tag": []any{"billing"}, "created_at": "2026-11-27T07:18:33Z", "scheduled_at": "2026-11-27T07:18:33Z"}})
	scope, span = capturedSpan(t, "bullmq-appsignal/0001-traces.pb", "Worker.run orders", statusEr)
	add("bullmq_appsignal_failure", true, scope, span)
	scope, span = capturedSpan(t, "bullmq-otel/0001_v1_traces.binpb", "process inventory", ptrace.StatusCodeUnset)
	add("bullmq_otel_failure", true, scope, span)
	built("semconv", true, spanSpec{scope: "kafka", name: "orders process", kind: consumer,
		attrs: map[string]any{"messaging.system": "kafka", "messaging.operation.type": "process", "messaging.message.id": "m-1",
			"messaging.destination.name": "orders", "messaging.kafka.consumer.group": "g1", "messaging.kafka.offset": int64(42),
			"messaging.client.id": "c1", "server.address": "kafka-1", "server.port": int64(9092), "messaging.operation.name": "handle"}})
	built("celery", true, spanSpec{scope: "opentelemetry.instrumentation.celery", name: "run/tasks.charge", kind: consumer,
		attrs: map[string]any{"celery.action": "run", "celery.task_name": "tasks.charge", "celery.state": "SUCCESS",
			"messaging.message.id": "6c1d-uuid", "messaging.destination": "celery", "celery.hostname": "w1", "celery.retries": int64(1)}})
	built("sidekiq_ruby", true, spanSpec{scope: "OpenTelemetry::Instrumentation::Sidekiq", name: "default process", kind: consumer,
		status: statusEr, statusMsg: "Unhandled exception of type: RuntimeError", events: []eventSpec{exception("RuntimeError", "boom")},
		attrs: map[string]any{"messaging.system": "sidekiq", "messaging.operation": "process", "messaging.message_id": "b4a577edbccf1d805744efa9",
			"messaging.destination": "default", "messaging.destination_kind": "queue", "messaging.sidekiq.job_class": "HardJob"}})
	return out
}

func logFixtures(t testing.TB) []fixture {
	var out []fixture
	add := func(name string, isJob bool, l logSpec) {
		lr := l.build(t)
		out = append(out, fixture{name, isJob, func(x Reader, ev *Event) bool { return x.FromLog(lr, ev) }})
	}
	add("non_job/text", false, logSpec{body: "GET /v1/orders 200 12ms", attrs: map[string]any{"level": "info", "logger": "http"}})
	add("non_job/json", false, logSpec{body: `{"level":"info","msg":"request done","path":"/v1/orders","status":200}`})
	add("non_job/attributes", false, logSpec{body: "request done", attrs: tenHTTPAttrs})
	add("sidekiq_attributes", true, logSpec{body: "fail", attrs: map[string]any{"jid": "j1", "class": "HardJob", "queue": "default",
		"retry_count": int64(1), "error_class": "Net::ReadTimeout", "error_message": "Net::ReadTimeout with #<TCPSocket>"}})
	add("non_job/access_log", false, logSpec{body: "GET /jobs/42 200 12ms", severity: plog.SeverityNumberInfo,
		attrs: map[string]any{"id": "req-42", "status": int64(200), "state": "completed", "message": "job 42 done"}})
	add("sidekiq_json_body", true, logSpec{body: sidekiqJSONLine})
	add("bullmq_winston", true, logSpec{body: "job failed", severity: plog.SeverityNumberError, attrs: bullmqWinstonAttrs("job_failed")})
	add("river_slog", true, logSpec{body: "JobExecutor: Job errored; retrying", severity: plog.SeverityNumberInfo,
		attrs: map[string]any{"job_id": "7", "job_kind": "charge_card", "error": "payment provider: dial tcp 10.1.2.3:443: connect: connection refused"}})
	return out
}

// TestAllocations pins the allocation budget the processors rely on: no
// allocation to reject a record or to read a string-keyed job span; one
// for an integer id of 100 or more; a JSON log body is parsed (see
// BenchmarkFromLog).
func TestAllocations(t *testing.T) {
	x := newTestExtractor(t, Config{JobIDKeys: []string{"app.job.id"}})
	want := map[string]float64{"span/river_large_id": 1}
	for _, f := range allFixtures(t) {
		if f.name == "log/sidekiq_json_body" {
			continue
		}
		var ev Event
		require.Equal(t, f.isJob, f.extract(x, &ev), f.name)
		allocs := testing.AllocsPerRun(100, func() { f.extract(x, &ev) })
		assert.Equal(t, want[f.name], allocs, f.name)
	}
}

// One extractor serves many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	x := newTestExtractor(t, Config{JobIDKeys: []string{"app.job.id"}})
	fixtures := allFixtures(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for _, f := range fixtures {
					var ev Event
					assert.Equal(t, f.isJob, f.extract(x, &ev), f.name)
				}
			}
		})
	}
	wg.Wait()
}

func allFixtures(t testing.TB) []fixture {
	var all []fixture
	for _, f := range spanFixtures(t) {
		f.name = "span/" + f.name
		all = append(all, f)
	}
	for _, f := range logFixtures(t) {
		f.name = "log/" + f.name
		all = append(all, f)
	}
	return all
}

func BenchmarkFromSpan(b *testing.B) { benchmark(b, spanFixtures(b)) }

func BenchmarkFromLog(b *testing.B) { benchmark(b, logFixtures(b)) }

func benchmark(b *testing.B, fixtures []fixture) {
	x := newTestExtractor(b, Config{})
	for _, f := range fixtures {
		b.Run(f.name, func(b *testing.B) {
			var ev Event
			b.ReportAllocs()
			for b.Loop() {
				if f.extract(x, &ev) != f.isJob {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
