// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// fuzzKeys are the keys the fuzzer's attribute maps draw from: those the
// conventions and the fuzz extractor's user keys read, plus a stranger.
var fuzzKeys = []string{
	"id", "kind", "queue", "attempt", "status", "messaging.system", "messaging.operation.type", "messaging.operation",
	"messaging.message.id", "messaging.message_id", "messaging.destination.name", "messaging.destination",
	"messaging.sidekiq.job_class", "messaging.bullmq.job.name", "messaging.bullmq.job.attempts", "messaging.bullmq.job.failedReason",
	"bullmq.queue.name", "bullmq.queue.operation", "bullmq.job.id", "bullmq.job.name", "bullmq.job.attempts.made",
	"celery.action", "celery.task_name", "celery.state", "celery.retries", "celery.retry.reason", "messaging.resque.job_class",
	"code.namespace", "sidekiq.job.id", "sidekiq.job.queue", "sidekiq.job.retry_count", "resource.name", "error.type",
	"error.message", "jid", "class", "job", "retry_count", "event", "msg", "error_class", "error_message", "error", "ctx",
	"app.job.id", "app.attempt", "app.result", "app.error", "unrelated",
	"job_id", "jobId", "task_id", "job_class", "jobName", "job_kind", "task", "task_name", "worker", "queue_name", "queueName",
	"attemptsMade", "attempts", "retries", "state", "outcome", "message", "exception.type", "err", "reason", "failedReason",
	"exception.message",
}

// fuzzAttrs decodes data into attributes: per entry a key index, a type and
// a value length, then the value's bytes. Maps nest one level ("ctx").
func fuzzAttrs(m pcommon.Map, data []byte, depth int) {
	for len(data) >= 3 {
		key := fuzzKeys[int(data[0])%len(fuzzKeys)]
		typ, n := data[1]%8, int(data[2])
		data = data[3:]
		if n > len(data) {
			n = len(data)
		}
		val := data[:n]
		data = data[n:]
		var word [8]byte
		copy(word[:], val)
		switch typ {
		case 0:
			m.PutStr(key, string(val))
		case 1:
			m.PutInt(key, int64(binary.BigEndian.Uint64(word[:])))
		case 2:
			m.PutDouble(key, math.Float64frombits(binary.BigEndian.Uint64(word[:])))
		case 3:
			m.PutBool(key, n > 0 && val[0]&1 == 1)
		case 4:
			m.PutEmptyBytes(key).FromRaw(val)
		case 5:
			if depth == 0 {
				fuzzAttrs(m.PutEmptyMap(key), val, depth+1)
			}
		case 6:
			m.PutEmptySlice(key).AppendEmpty().SetStr(string(val))
		default:
			m.PutEmpty(key)
		}
	}
}

// FuzzExtract feeds random spans and log records to an extractor with user
// keys: it must never panic, and what it returns must be a sane event. The
// seed corpus is testdata/fuzz/FuzzExtract.
func FuzzExtract(f *testing.F) {
	x := newTestExtractor(f, Config{JobIDKeys: []string{"app.job.id"}, AttemptKeys: []string{"app.attempt"}, AttemptOffset: 1,
		OutcomeKeys: []string{"app.result"}, ErrorMessageKeys: []string{"app.error"}})
	f.Fuzz(func(t *testing.T, scopeName, name string, kind, flags uint8, text string, attrs []byte) {
		ss := ptrace.NewTraces().ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty()
		ss.Scope().SetName(scopeName)
		span := ss.Spans().AppendEmpty()
		span.SetName(name)
		span.SetKind(ptrace.SpanKind(kind % 6))
		span.Status().SetCode(ptrace.StatusCode(flags % 3))
		span.Status().SetMessage(text)
		// Zero, past and future times: 1<<56 ns is in 2072.
		span.SetStartTimestamp(pcommon.Timestamp(kind) << 50)
		span.SetEndTimestamp(pcommon.Timestamp(flags) << 56)
		if flags&0x04 != 0 {
			span.SetParentSpanID(testSpanID)
		}
		if flags&0x08 != 0 {
			e := span.Events().AppendEmpty()
			e.SetName("exception")
			e.Attributes().PutStr("exception.message", text)
		}
		if flags&0x10 != 0 {
			e := span.Events().AppendEmpty()
			e.SetName("job failed")
			e.Attributes().PutStr("bullmq.job.failed.reason", name)
		}
		fuzzAttrs(span.Attributes(), attrs, 0)

		var ev Event
		if x.FromSpan(ss.Scope(), span, &ev) {
			checkFuzzEvent(t, ev)
			again := Event{}
			require.True(t, x.FromSpan(ss.Scope(), span, &again))
			require.Equal(t, ev, again, "deterministic")
		}

		lr := plog.NewLogRecord()
		span.Attributes().CopyTo(lr.Attributes())
		lr.SetTimestamp(span.EndTimestamp())
		switch flags >> 5 {
		case 1:
			lr.Body().SetStr(text)
		case 2:
			span.Attributes().CopyTo(lr.Body().SetEmptyMap())
			lr.Attributes().Clear()
		case 3:
			lr.Body().SetStr(`{"jid":` + text + `}`)
		}
		if x.FromLog(lr, &ev) {
			checkFuzzEvent(t, ev)
			require.NotEmpty(t, ev.ID, "a log record needs a job id")
		}
	})
}

func checkFuzzEvent(t *testing.T, ev Event) {
	t.Helper()
	require.Contains(t, []Outcome{OutcomeSuccess, OutcomeFailure}, ev.Outcome)
	require.GreaterOrEqual(t, ev.Attempt, 0)
	if ev.Outcome == OutcomeSuccess {
		require.Empty(t, ev.ErrorType)
		require.Empty(t, ev.ErrorMessage)
	}
	require.False(t, ev.Time.After(testNow), "time %v is after now", ev.Time)
	require.False(t, ev.Time.Before(time.Unix(0, 0)), "time %v wrapped around", ev.Time)
}
