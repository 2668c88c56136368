// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package jobbenchtest builds the benchmark batches of the job processors from
// the real captures in testdata/otlp, and the yardsticks they are measured
// against in the same run: a bare loop that only reads the job attributes,
// that loop plus a Go map counter, and contrib's span_metrics connector.
// Only tests and benchmarks import it.
package jobbenchtest // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobbenchtest"

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
)

// BatchSize is the number of spans in a benchmark batch.
const BatchSize = 10_000

// CapturesDir is the directory of the shared OTLP captures.
func CapturesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", "otlp")
}

// JobGlobs are the trace captures the batches are built from, one form per
// capture (the AppSignal .json files repeat the .pb files' spans).
var JobGlobs = []string{
	"river-otelriver/*_traces.binpb",
	"bullmq-appsignal/*.pb",
	"bullmq-otel/*_traces.binpb",
}

// ReadTraces parses the OTLP/protobuf trace captures matching glob (relative
// to CapturesDir) in file-name order, which is the order they were sent in.
func ReadTraces(tb testing.TB, glob string) []ptrace.Traces {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(CapturesDir(), glob))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no capture matches %s (%v)", glob, err)
	}
	slices.Sort(files)
	out := make([]ptrace.Traces, 0, len(files))
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, td)
	}
	return out
}

// idKeys are the job-id attributes of the captured conventions; a batch copy
// rewrites each of them so that every copy is a different set of jobs.
var idKeys = []string{"id", "messaging.message.id", "messaging.message_id", "bullmq.job.id"}

// JobSpans returns the job-execution spans of each JobGlobs capture (in that
// order), in their resources and scopes, in capture order: 80 River, 87
// AppSignal BullMQ and 17 bullmq-otel executions.
func JobSpans(tb testing.TB) []ptrace.Traces {
	tb.Helper()
	extractor, err := jobevent.NewExtractor(jobevent.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	x := extractor.At(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	var out []ptrace.Traces
	for _, glob := range JobGlobs {
		jobs := ptrace.NewTraces()
		for _, td := range ReadTraces(tb, glob) {
			for _, rs := range td.ResourceSpans().All() {
				for _, ss := range rs.ScopeSpans().All() {
					dst := ptrace.NewSpanSlice()
					for _, span := range ss.Spans().All() {
						var ev jobevent.Event
						if x.FromSpan(ss.Scope(), span, &ev) {
							span.CopyTo(dst.AppendEmpty())
						}
					}
					if dst.Len() > 0 {
						ors := jobs.ResourceSpans().AppendEmpty()
						rs.Resource().CopyTo(ors.Resource())
						oss := ors.ScopeSpans().AppendEmpty()
						ss.Scope().CopyTo(oss.Scope())
						dst.MoveAndAppendTo(oss.Spans())
					}
				}
			}
		}
		out = append(out, jobs)
	}
	return out
}

// JobBatch returns n spans that are all job executions: copies of JobSpans
// with job ids of their own, so each copy holds the captures' retry loops as
// new jobs. River's int ids become id + 1000·copy; string ids get the suffix
// "-<capture>.<copy>" (two captures both have a job sync-inventory-42). Times
// are shifted so that the last span ends now.
func JobBatch(tb testing.TB, n int) ptrace.Traces {
	return MixedBatch(tb, n, 1)
}

// MixedBatch returns n spans of which one in jobEvery is a job execution (as
// in JobBatch) and the others ordinary HTTP client spans, in the same
// resources (each job scope is followed by a scope of HTTP spans).
func MixedBatch(tb testing.TB, n, jobEvery int) ptrace.Traces {
	tb.Helper()
	captures := JobSpans(tb)
	shift := shiftToNow(captures)
	out := ptrace.NewTraces()
	jobs := n / jobEvery
	others := n - jobs
	for c := 0; jobs > 0; c++ {
		for s, capture := range captures {
			for _, rs := range capture.ResourceSpans().All() {
				if jobs == 0 {
					break
				}
				ors := out.ResourceSpans().AppendEmpty()
				rs.Resource().CopyTo(ors.Resource())
				ss := rs.ScopeSpans().At(0)
				oss := ors.ScopeSpans().AppendEmpty()
				ss.Scope().CopyTo(oss.Scope())
				copied := 0
				for _, span := range ss.Spans().All() {
					if jobs == 0 {
						break
					}
					dst := oss.Spans().AppendEmpty()
					span.CopyTo(dst)
					renumber(dst.Attributes(), s, c)
					dst.SetStartTimestamp(dst.StartTimestamp() + shift)
					dst.SetEndTimestamp(dst.EndTimestamp() + shift)
					jobs--
					copied++
				}
				if jobEvery > 1 {
					k := min(others, copied*(jobEvery-1))
					if jobs == 0 {
						k = others
					}
					addHTTPSpans(ors.ScopeSpans().AppendEmpty(), k)
					others -= k
				}
			}
		}
	}
	return out
}

// FailedBatch returns JobBatch(tb, n) with every execution failed, as in a
// batch taken during an outage: the spans that succeeded get status ERROR
// and, in turn, the status messages of the captures' own failures.
func FailedBatch(tb testing.TB, n int) ptrace.Traces {
	tb.Helper()
	td := JobBatch(tb, n)
	var messages []string
	ForEachSpan(td, func(span ptrace.Span) {
		if st := span.Status(); st.Code() == ptrace.StatusCodeError && st.Message() != "" && !slices.Contains(messages, st.Message()) {
			messages = append(messages, st.Message())
		}
	})
	if len(messages) == 0 {
		tb.Fatal("the captures hold no failure with a status message")
	}
	next := 0
	ForEachSpan(td, func(span ptrace.Span) {
		if st := span.Status(); st.Code() != ptrace.StatusCodeError {
			st.SetCode(ptrace.StatusCodeError)
			st.SetMessage(messages[next%len(messages)])
			next++
		}
	})
	return td
}

// ForEachSpan calls fn with each span of td.
func ForEachSpan(td ptrace.Traces, fn func(ptrace.Span)) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				fn(span)
			}
		}
	}
}

// shiftToNow is how far to move src's timestamps so its last span ends now.
func shiftToNow(captures []ptrace.Traces) pcommon.Timestamp {
	var last pcommon.Timestamp
	for _, td := range captures {
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					last = max(last, span.EndTimestamp())
				}
			}
		}
	}
	return pcommon.NewTimestampFromTime(time.Now()) - last
}

func renumber(attrs pcommon.Map, capture, copyNo int) {
	for _, k := range idKeys {
		v, ok := attrs.Get(k)
		if !ok {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeInt:
			v.SetInt(v.Int() + 1000*int64(copyNo))
		case pcommon.ValueTypeStr:
			v.SetStr(v.Str() + "-" + strconv.Itoa(capture) + "." + strconv.Itoa(copyNo))
		}
	}
}

// addHTTPSpans appends n CLIENT spans of an instrumented HTTP client.
func addHTTPSpans(ss ptrace.ScopeSpans, n int) {
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	ss.Scope().SetVersion("0.63.0")
	start := pcommon.NewTimestampFromTime(time.Now().Add(-time.Second))
	spans := ss.Spans()
	spans.EnsureCapacity(n)
	for i := range n {
		span := spans.AppendEmpty()
		span.SetTraceID(pcommon.TraceID{1, byte(i >> 16), byte(i >> 8), byte(i)})
		span.SetSpanID(pcommon.SpanID{2, byte(i >> 16), byte(i >> 8), byte(i)})
		span.SetParentSpanID(pcommon.SpanID{3, byte(i >> 16), byte(i >> 8), byte(i)})
		span.SetName("GET")
		span.SetKind(ptrace.SpanKindClient)
		span.SetStartTimestamp(start)
		span.SetEndTimestamp(start + pcommon.Timestamp(12*time.Millisecond))
		attrs := span.Attributes()
		attrs.EnsureCapacity(8)
		attrs.PutStr("http.request.method", "GET")
		attrs.PutStr("url.full", "https://api.example.com/v1/orders/"+strconv.Itoa(i))
		attrs.PutStr("server.address", "api.example.com")
		attrs.PutInt("server.port", 443)
		attrs.PutInt("http.response.status_code", 200)
		attrs.PutStr("network.protocol.version", "1.1")
		attrs.PutStr("url.scheme", "https")
		attrs.PutStr("user_agent.original", "Go-http-client/1.1")
	}
}

// WithoutAttempts removes the attempt attributes of the captured conventions
// from td, so that a processor counts the jobs' runs by id instead, as it
// must for OpenTelemetry's Sidekiq, ActiveJob and Resque spans.
func WithoutAttempts(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				for _, k := range attemptKeys {
					span.Attributes().Remove(k)
				}
			}
		}
	}
}

// Renumberer gives the jobs of a batch new ids, so that a benchmark sees
// new jobs in every batch, as a collector does, rather than the same jobs
// retrying forever. It also drops the alert events a processor added, so
// the reused batch does not grow.
type Renumberer struct {
	spans []ptrace.Span
	ids   []pcommon.Value
	strs  []string
	ints  []int64
	gen   int
}

// NewRenumberer remembers td's job ids.
func NewRenumberer(td ptrace.Traces) *Renumberer {
	r := &Renumberer{}
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				r.spans = append(r.spans, span)
				for _, k := range idKeys {
					if v, ok := span.Attributes().Get(k); ok {
						r.ids = append(r.ids, v)
						r.strs = append(r.strs, v.Str())
						r.ints = append(r.ints, v.Int())
					}
				}
			}
		}
	}
	return r
}

// Next rewrites the ids for the next generation n (int ids + n·10^9,
// string ids with the suffix "#n") and drops alert events. It allocates;
// call it with the benchmark timer stopped.
func (r *Renumberer) Next() {
	r.gen++
	for _, span := range r.spans {
		span.Events().RemoveIf(func(ev ptrace.SpanEvent) bool { return ev.Name() == alert.EventName })
	}
	suffix := "#" + strconv.Itoa(r.gen)
	for i, v := range r.ids {
		if v.Type() == pcommon.ValueTypeInt {
			v.SetInt(r.ints[i] + int64(r.gen)*1_000_000_000)
		} else {
			v.SetStr(r.strs[i] + suffix)
		}
	}
}
