// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

type logCase struct {
	name string
	log  logSpec
	want *Event // nil: not a job execution
}

// runLogCases checks each case; a record without a timestamp gets testEnd.
func runLogCases(t *testing.T, x Reader, cases []logCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			if tt.log.ts.IsZero() {
				tt.log.ts = testEnd
			}
			lr := tt.log.build(t)
			checkExtraction(t, tt.want, func(ev *Event) bool { return x.FromLog(lr, ev) })
		})
	}
}

// sidekiqJSONLine is what Sidekiq 6's JSON log formatter writes when a job
// fails: jid and class sit in "ctx", the error is logged on other lines.
const sidekiqJSONLine = `{"ts":"2026-11-27T11:59:00.250Z","pid":4242,"tid":"ouy7z76mx","lvl":"INFO","msg":"fail",` +
	`"ctx":{"class":"HardJob","jid":"b4a577edbccf1d805744efa9","elapsed":"0.003"}}`

func TestFromLogSidekiq(t *testing.T) {
	sidekiqFail := &Event{System: "sidekiq", ID: "b4a577edbccf1d805744efa9", Class: "HardJob", Outcome: OutcomeFailure}
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"JSON formatter line as a string body", logSpec{body: sidekiqJSONLine}, sidekiqFail},
		{"JSON formatter line parsed into the body", logSpec{body: map[string]any{"lvl": "INFO", "msg": "fail",
			"ctx": map[string]any{"class": "HardJob", "jid": "b4a577edbccf1d805744efa9", "elapsed": "0.003"}}}, sidekiqFail},
		{"JSON formatter line parsed into attributes", logSpec{attrs: map[string]any{"lvl": "INFO", "msg": "fail",
			"ctx": map[string]any{"class": "HardJob", "jid": "b4a577edbccf1d805744efa9"}}}, sidekiqFail},
		{"done", logSpec{body: strings.Replace(sidekiqJSONLine, `"fail"`, `"done"`, 1)},
			&Event{System: "sidekiq", ID: "b4a577edbccf1d805744efa9", Class: "HardJob", Outcome: OutcomeSuccess}},
		{"start is no execution", logSpec{body: strings.Replace(sidekiqJSONLine, `"fail"`, `"start"`, 1)}, nil},
		{"flat keys with retry_count and error", logSpec{attrs: map[string]any{"jid": "j1", "class": "HardJob", "queue": "default",
			"retry_count": int64(1), "error_class": "Net::ReadTimeout", "error_message": "Net::ReadTimeout with #<TCPSocket>"}, body: "fail"},
			&Event{System: "sidekiq", ID: "j1", Class: "HardJob", Queue: "default", Attempt: 3, Outcome: OutcomeFailure,
				ErrorType: "Net::ReadTimeout", ErrorMessage: "Net::ReadTimeout with #<TCPSocket>"}},
		{"error handler line has no outcome", logSpec{body: `{"context":"Job raised exception","job":{"class":"HardJob","jid":"j1"}}`}, nil},
		{"integer jid", logSpec{attrs: map[string]any{"jid": int64(12345), "msg": "done"}},
			&Event{System: "sidekiq", ID: "12345", Outcome: OutcomeSuccess}},
		{"messaging.system wins", logSpec{attrs: map[string]any{"jid": "j1", "msg": "done", "messaging.system": "faktory"}},
			&Event{System: "faktory", ID: "j1", Outcome: OutcomeSuccess}},
	})
}

func TestFromLogEvents(t *testing.T) {
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"job.failed", logSpec{attrs: map[string]any{"event": "job.failed", "jid": "j7", "job": "ChargeCard", "error": "card declined: insufficient_funds"}},
			&Event{System: "sidekiq", ID: "j7", Class: "ChargeCard", Outcome: OutcomeFailure, ErrorType: "card declined", ErrorMessage: "card declined: insufficient_funds"}},
		{"job.retry in a JSON body", logSpec{body: `{"event":"job.retry","jid":"j7","job":"ChargeCard","error":"timeout"}`},
			&Event{System: "sidekiq", ID: "j7", Class: "ChargeCard", Outcome: OutcomeFailure, ErrorType: "timeout", ErrorMessage: "timeout"}},
		{"job.succeeded", logSpec{attrs: map[string]any{"event": "job.succeeded", "jid": "j7", "job": "ChargeCard"}},
			&Event{System: "sidekiq", ID: "j7", Class: "ChargeCard", Outcome: OutcomeSuccess}},
		{"job.started is no execution", logSpec{attrs: map[string]any{"event": "job.started", "jid": "j7"}}, nil},
		{"no id", logSpec{attrs: map[string]any{"event": "job.failed", "job": "ChargeCard"}}, nil},
		{"an id in a map is no id", logSpec{attrs: map[string]any{"event": "job.failed", "jid": map[string]any{"x": "y"}}}, nil},
	})
}

func TestFromLogUserKeys(t *testing.T) {
	x := newTestExtractor(t, Config{JobIDKeys: []string{"job_id"}, OutcomeKeys: []string{"result"}, AttemptKeys: []string{"try"},
		ErrorTypeKeys: []string{"err_kind"}})
	runLogCases(t, x, []logCase{
		{"own keys", logSpec{attrs: map[string]any{"job_id": "a-1", "result": "FAILED", "try": "2", "err_kind": "Quota"}},
			&Event{ID: "a-1", Attempt: 2, Outcome: OutcomeFailure, ErrorType: "Quota"}},
		{"own id key in a JSON body", logSpec{body: `{"job_id":"a-1","msg":"done"}`},
			&Event{ID: "a-1", Outcome: OutcomeSuccess}},
		{"own id without outcome", logSpec{attrs: map[string]any{"job_id": "a-1", "result": "queued"}}, nil},
	})

	// The user's keys come before the built-in ones for every field.
	x = newTestExtractor(t, Config{JobIDKeys: []string{"app.id"}, JobClassKeys: []string{"app.class"}, QueueKeys: []string{"app.queue"},
		AttemptKeys: []string{"app.try"}, AttemptOffset: 1, OutcomeKeys: []string{"app.result"},
		ErrorTypeKeys: []string{"app.err_type"}, ErrorMessageKeys: []string{"app.err"}})
	builtin := map[string]any{"bullmq.job.id": "b-1", "job": "Builtin", "queue": "builtin", "attempt": int64(5), "event": "job_completed",
		"exception.type": "BuiltinError", "error_message": "builtin: message"}
	own := map[string]any{"app.id": "a-1", "app.class": "Own", "app.queue": "own", "app.try": int64(0), "app.result": "failed",
		"app.err_type": "OwnError", "app.err": "own: message"}
	both := map[string]any{}
	for _, m := range []map[string]any{builtin, own} {
		for k, v := range m {
			both[k] = v
		}
	}
	runLogCases(t, x, []logCase{
		{"own keys win", logSpec{attrs: both}, &Event{System: "bullmq", ID: "a-1", Class: "Own", Queue: "own", Attempt: 1,
			Outcome: OutcomeFailure, ErrorType: "OwnError", ErrorMessage: "own: message"}},
		{"built-in keys fill the rest", logSpec{attrs: map[string]any{"app.id": "a-1", "job": "Builtin", "retries": int64(1),
			"app.result": "FAILURE", "error": "boom"}},
			&Event{ID: "a-1", Class: "Builtin", Attempt: 2, Outcome: OutcomeFailure, ErrorType: "boom", ErrorMessage: "boom"}},
		{"an unknown word under the own key leaves the built-in one", logSpec{attrs: map[string]any{"app.id": "a-1",
			"app.result": "queued", "event": "job_failed"}}, &Event{ID: "a-1", Outcome: OutcomeFailure}},
	})
}

func TestFromLogRejectsOtherRecords(t *testing.T) {
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"plain text", logSpec{body: "GET /health 200 1ms"}, nil},
		{"JSON without an id key", logSpec{body: `{"level":"info","msg":"done","user":"jid"}`}, nil},
		{"broken JSON", logSpec{body: `{"jid":"j1","msg":"done"`}, nil},
		{"JSON array", logSpec{body: `[{"jid":"j1","msg":"done"}]`}, nil},
		{"JSON body over the size bound", logSpec{body: `{"jid":"j1","msg":"done","pad":"` + strings.Repeat("x", maxJSONBody) + `"}`}, nil},
		{"bytes body", logSpec{attrs: map[string]any{"jid": "j1"}, body: []byte("done")}, nil},
	})
}

// A JSON body is parsed only when one of its keys is an id key, however it
// is spaced or escaped.
func TestFromLogJSONBodyKeys(t *testing.T) {
	x := newTestExtractor(t, Config{JobIDKeys: []string{"app.job"}})
	runLogCases(t, x, []logCase{
		{"spaces around the colon", logSpec{body: `{ "jid" : "j1", "msg" : "done" }`},
			&Event{System: "sidekiq", ID: "j1", Outcome: OutcomeSuccess}},
		{"escaped quotes before the id", logSpec{body: `{"msg": "5\" pipe \"x", "job_id": "j1", "status": "ok"}`},
			&Event{ID: "j1", Outcome: OutcomeSuccess}},
		{"the user's id key", logSpec{body: `{"app.job":"a-1","outcome":"failed"}`}, &Event{ID: "a-1", Outcome: OutcomeFailure}},
	})
	for _, body := range []string{
		`{"level":"info","msg":"jid: 42 done","path":"/v1/orders","status":200}`,
		`{"time":"2026-12-03T09:18:19Z","msg":"\"job_id\" is required"}`,
		`{"job_ids":["a"],"msg":"done"}`,
	} {
		lr := logSpec{body: body}.build(t)
		var ev Event
		assert.False(t, x.FromLog(lr, &ev), body)
		assert.Zero(t, testing.AllocsPerRun(10, func() { x.FromLog(lr, &ev) }), "%s is not parsed", body)
	}
}

func TestFromLogTime(t *testing.T) {
	x := newTestExtractor(t, Config{})
	var ev Event
	lr := logSpec{attrs: map[string]any{"jid": "j1", "msg": "done"}, observed: testStart}.build(t)
	require.True(t, x.FromLog(lr, &ev))
	assert.Equal(t, testStart, ev.Time, "no timestamp: the observed one")

	lr = logSpec{attrs: map[string]any{"jid": "j1", "msg": "done"}, ts: testNow.Add(48 * time.Hour)}.build(t)
	require.True(t, x.FromLog(lr, &ev))
	assert.Equal(t, testNow, ev.Time, "a future timestamp is clamped to now")

	lr = logSpec{attrs: map[string]any{"jid": "j1", "msg": "done"}}.build(t)
	require.True(t, x.FromLog(lr, &ev))
	assert.Equal(t, testNow, ev.Time, "no timestamps: now")
}

// TestFromLogRealSidekiq reads the lines Sidekiq 6.4's own JobLogger, JSON
// formatter and error handler print for a job that succeeds and one that
// raises, as a file_log receiver delivers them: the raw line as the body, or
// the line parsed into a map body. Only the done and fail lines are
// executions; Sidekiq logs the error on lines of their own.
func TestFromLogRealSidekiq(t *testing.T) {
	ruby := redistest.RequireTool(t, "ruby", "apt-get install -y ruby-sidekiq")
	if err := exec.Command(ruby, "-e", `require "sidekiq"`).Run(); err != nil {
		redistest.Missing(t, "the sidekiq gem is not installed (install: apt-get install -y ruby-sidekiq)")
	}
	out, err := exec.Command(ruby, "testdata/sidekiq_json_logs.rb").Output()
	require.NoError(t, err)

	x := newTestExtractor(t, Config{})
	want := []Event{
		{System: "sidekiq", ID: "0a1b2c3d4e5f60718293a4b5", Class: "SendEmailJob", Outcome: OutcomeSuccess, Time: testEnd},
		{System: "sidekiq", ID: "b4a577edbccf1d805744efa9", Class: "HardJob", Outcome: OutcomeFailure, Time: testEnd},
	}
	for _, form := range []string{"string body", "map body"} {
		t.Run(form, func(t *testing.T) {
			var got []Event
			lines := 0
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				lines++
				lr := plog.NewLogRecord()
				lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(testEnd))
				if form == "string body" {
					lr.Body().SetStr(sc.Text())
				} else {
					var raw map[string]any
					require.NoError(t, json.Unmarshal(sc.Bytes(), &raw))
					require.NoError(t, lr.Body().SetEmptyMap().FromRaw(raw))
				}
				var ev Event
				if x.FromLog(lr, &ev) {
					got = append(got, ev)
				}
			}
			assert.Equal(t, 7, lines, "start, done, start, fail, and three error handler lines")
			assert.Equal(t, want, got)
		})
	}
}

// bullmqWinstonAttrs are what a BullMQ worker's `failed` handler logs
// through winston and @opentelemetry/winston-transport: the job's fields in
// the app's own spellings and in BullMQ's, the error as winston-transport
// maps it.
func bullmqWinstonAttrs(event string) map[string]any {
	m := map[string]any{
		"event": event, "queue": "payments", "jid": "19", "job": "charge-card", "attempt": int64(2), "max_attempts": int64(6),
		"bullmq.queue.name": "payments", "bullmq.job.id": "19", "bullmq.job.name": "charge-card", "bullmq.job.attempts.made": int64(2),
	}
	if event == "job_failed" {
		m["will_retry"] = true
		m["error"] = "CardDeclinedError"
		m["error_message"] = "card 4242 declined: insufficient funds"
		m["exception.type"] = "CardDeclinedError"
		m["exception.message"] = "card 4242 declined: insufficient funds"
		m["exception.stacktrace"] = "CardDeclinedError: card 4242 declined: insufficient funds\n    at Worker.processor (/app/worker.js:31:13)"
	}
	return m
}

func TestFromLogBullMQWinston(t *testing.T) {
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"job failed", logSpec{body: "job failed", severity: plog.SeverityNumberError, attrs: bullmqWinstonAttrs("job_failed")},
			&Event{System: "bullmq", ID: "19", Class: "charge-card", Queue: "payments", Attempt: 2, Outcome: OutcomeFailure,
				ErrorType: "CardDeclinedError", ErrorMessage: "card 4242 declined: insufficient funds"}},
		{"job completed", logSpec{body: "job completed", severity: plog.SeverityNumberInfo, attrs: bullmqWinstonAttrs("job_completed")},
			&Event{System: "bullmq", ID: "19", Class: "charge-card", Queue: "payments", Attempt: 2, Outcome: OutcomeSuccess}},
	})
}

// Each id key alone makes a record with an outcome a job execution, and
// names its system when it belongs to one.
func TestFromLogIDKeys(t *testing.T) {
	cases := []logCase{
		{"bare id is no job id", logSpec{attrs: map[string]any{"id": "42", "outcome": "ok"}}, nil},
		{"Id is no job id", logSpec{attrs: map[string]any{"Id": "42", "outcome": "ok"}}, nil},
		{"empty job_id", logSpec{attrs: map[string]any{"job_id": "", "outcome": "ok"}}, nil},
	}
	for key, system := range map[string]string{
		"bullmq.job.id": "bullmq", "sidekiq.job.id": "sidekiq", "messaging.message.id": "", "messaging.message_id": "",
		"job_id": "", "jobId": "", "jid": "sidekiq", "task_id": "",
	} {
		cases = append(cases, logCase{key, logSpec{attrs: map[string]any{key: "j-1", "outcome": "ok"}},
			&Event{System: system, ID: "j-1", Outcome: OutcomeSuccess}})
	}
	cases = append(cases,
		logCase{"integer job_id", logSpec{attrs: map[string]any{"job_id": int64(7), "outcome": "ok"}},
			&Event{ID: "7", Outcome: OutcomeSuccess}},
		logCase{"convention id before the app's", logSpec{attrs: map[string]any{"job_id": "app", "bullmq.job.id": "b", "outcome": "ok"}},
			&Event{System: "bullmq", ID: "b", Outcome: OutcomeSuccess}},
		logCase{"messaging.system names the system", logSpec{attrs: map[string]any{"task_id": "t", "messaging.system": "celery", "outcome": "ok"}},
			&Event{System: "celery", ID: "t", Outcome: OutcomeSuccess}},
	)
	runLogCases(t, newTestExtractor(t, Config{}), cases)
}

func TestFromLogClassAndQueueKeys(t *testing.T) {
	var cases []logCase
	for key, system := range map[string]string{
		"bullmq.job.name": "bullmq", "celery.task_name": "celery", "messaging.sidekiq.job_class": "sidekiq",
		"messaging.bullmq.job.name": "bullmq", "messaging.resque.job_class": "resque", "job_kind": "river",
		"job_class": "", "jobName": "", "class": "", "job": "", "task_name": "", "task": "", "worker": "", "kind": "",
		"code.namespace": "",
	} {
		cases = append(cases, logCase{"class " + key, logSpec{attrs: map[string]any{"job_id": "j", key: "Charge", "outcome": "ok"}},
			&Event{System: system, ID: "j", Class: "Charge", Outcome: OutcomeSuccess}})
	}
	for key, system := range map[string]string{
		"bullmq.queue.name": "bullmq", "sidekiq.job.queue": "sidekiq", "messaging.destination.name": "", "messaging.destination": "",
		"queue": "", "queue_name": "", "queueName": "",
	} {
		cases = append(cases, logCase{"queue " + key, logSpec{attrs: map[string]any{"job_id": "j", key: "billing", "outcome": "ok"}},
			&Event{System: system, ID: "j", Queue: "billing", Outcome: OutcomeSuccess}})
	}
	cases = append(cases,
		logCase{"the convention's class before the app's", logSpec{attrs: map[string]any{"job_id": "j", "worker": "w-1",
			"celery.task_name": "tasks.charge", "outcome": "ok"}}, &Event{System: "celery", ID: "j", Class: "tasks.charge", Outcome: OutcomeSuccess}},
		logCase{"a class that is no string is skipped", logSpec{attrs: map[string]any{"job_id": "j", "job": map[string]any{"class": "X"},
			"task": "Charge", "outcome": "ok"}}, &Event{ID: "j", Class: "Charge", Outcome: OutcomeSuccess}},
	)
	runLogCases(t, newTestExtractor(t, Config{}), cases)
}

// Each attempt key with its offset: what the library writes on the first
// attempt becomes 1.
func TestFromLogAttemptKeys(t *testing.T) {
	cases := []logCase{
		{"no counter", logSpec{attrs: map[string]any{"job_id": "j", "outcome": "ok"}}, &Event{ID: "j", Outcome: OutcomeSuccess}},
	}
	for _, tt := range []struct {
		key    string
		first  any
		system string
		want   int
	}{
		{"bullmq.job.attempts.made", int64(1), "bullmq", 1},
		{"attemptsMade", int64(1), "bullmq", 1},
		{"messaging.bullmq.job.attempts", int64(0), "", 1},
		{"celery.retries", int64(0), "celery", 1},
		{"retries", int64(0), "", 1},
		{"retries", "2", "", 3},
		{"sidekiq.job.retry_count", int64(0), "sidekiq", 2},
		{"retry_count", int64(0), "", 2},
		{"retry_count", 4.0, "", 6},
		{"attempt", int64(1), "", 1},
		{"attempt", int64(0), "", 0}, // not 1-based: unknown
		{"attempts", int64(3), "", 3},
		{"attempts", "many", "", 0},
	} {
		cases = append(cases, logCase{fmt.Sprintf("%s %v", tt.key, tt.first),
			logSpec{attrs: map[string]any{"job_id": "j", tt.key: tt.first, "outcome": "ok"}},
			&Event{System: tt.system, ID: "j", Attempt: tt.want, Outcome: OutcomeSuccess}})
	}
	runLogCases(t, newTestExtractor(t, Config{}), cases)
}

func TestMessageOutcome(t *testing.T) {
	for s, want := range map[string]Outcome{
		"done":                               OutcomeSuccess,
		"job completed":                      OutcomeSuccess,
		"JobExecutor: Job errored":           OutcomeFailure,
		"JobExecutor: Job errored; retrying": OutcomeFailure,
		"JobExecutor: Job panicked":          OutcomeFailure,
		"Task tasks.add[6c1d9f7e-2b6e-4a7c-9d0b-1f2e3d4c5b6a] succeeded in 0.003s: 3":                   OutcomeSuccess,
		"Task tasks.charge[6c1d9f7e-2b6e-4a7c-9d0b-1f2e3d4c5b6a] raised unexpected: ValueError('boom')": OutcomeFailure,
		"Task tasks.charge[6c1d9f7e-2b6e-4a7c-9d0b-1f2e3d4c5b6a] retry: Retry in 5s: ConnectionError()": OutcomeFailure,
		"default: Job OK (4a9c52d8-3c51-4c1b-8b57-8f3a3b6d2e11)":                                        OutcomeSuccess,
		"Job failed.": OutcomeFailure,
		// The job's name holds no outcome; the phrase after it does.
		"Task tasks.retry_failed_payments[6c1d] succeeded in 0.1s: None": OutcomeSuccess,
		"Task tasks.retry_failed_payments[6c1d] received":                OutcomeUnknown,
		// An outcome word before the job word is about something else.
		"Failed to report error for job":                            OutcomeUnknown,
		"Error completing job":                                      OutcomeUnknown,
		"JobExecutor: Job stopped due to client shutdown; retrying": OutcomeUnknown,
		"JobExecutor: Job snoozed":                                  OutcomeUnknown,
		"request failed":                                            OutcomeUnknown,
		"GET /jobs/42 200 ok":                                       OutcomeUnknown,
		"":                                                          OutcomeUnknown,
		"job " + strings.Repeat("x ", maxPhrase) + "failed": OutcomeUnknown,
	} {
		assert.Equal(t, want, messageOutcome(s), "%q", s)
	}
}

// The outcome comes from a key, else from the message; the severity never
// makes a record an execution, and vetoes a message that reads as a success.
func TestFromLogOutcomeSources(t *testing.T) {
	ok := &Event{ID: "j", Outcome: OutcomeSuccess}
	failed := &Event{ID: "j", Outcome: OutcomeFailure}
	const errorLevel, infoLevel = plog.SeverityNumberError, plog.SeverityNumberInfo
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"event", logSpec{attrs: map[string]any{"job_id": "j", "event": "job_failed"}}, failed},
		{"status", logSpec{attrs: map[string]any{"job_id": "j", "status": "succeeded"}}, ok},
		{"state", logSpec{attrs: map[string]any{"job_id": "j", "state": "failed"}}, failed},
		{"outcome", logSpec{attrs: map[string]any{"job_id": "j", "outcome": "FAILURE"}}, failed},
		{"celery.state", logSpec{attrs: map[string]any{"task_id": "j", "celery.state": "RETRY"}}, &Event{System: "celery", ID: "j", Outcome: OutcomeFailure}},
		{"a key before the message", logSpec{attrs: map[string]any{"job_id": "j", "event": "job_completed"}, body: "job failed"}, ok},
		{"an unknown key value leaves the message", logSpec{attrs: map[string]any{"job_id": "j", "status": "200"}, body: "job failed"}, failed},
		{"msg", logSpec{attrs: map[string]any{"job_id": "j", "msg": "JobExecutor: Job errored"}}, failed},
		{"message", logSpec{attrs: map[string]any{"jobId": "j", "message": "job completed"}}, ok},
		{"string body", logSpec{attrs: map[string]any{"job_id": "j"}, body: "Job failed", severity: infoLevel}, failed},
		{"map body", logSpec{body: map[string]any{"job_id": "j", "msg": "job completed"}}, ok},
		{"success at info", logSpec{attrs: map[string]any{"job_id": "j"}, body: "job completed", severity: infoLevel}, ok},
		{"failure at info (River logs errors at info)", logSpec{attrs: map[string]any{"job_id": "j"}, body: "Job errored", severity: infoLevel}, failed},
		{"success logged as an error is not one", logSpec{attrs: map[string]any{"job_id": "j"}, body: "job completed with errors", severity: errorLevel}, nil},
		{"a key's success at error severity counts", logSpec{attrs: map[string]any{"job_id": "j", "event": "job_completed"}, severity: errorLevel}, ok},
		{"severity alone is no outcome", logSpec{attrs: map[string]any{"job_id": "j", "level": "error"}, body: "charging card", severity: errorLevel}, nil},
		{"unknown outcome word", logSpec{attrs: map[string]any{"job_id": "j", "event": "job_started"}}, nil},
		{"unknown outcome word in every source", logSpec{attrs: map[string]any{"job_id": "j", "status": "queued", "msg": "job enqueued"}, body: "job enqueued"}, nil},
		{"an outcome without a job id", logSpec{attrs: map[string]any{"event": "job_failed", "job": "Charge"}, body: "job failed"}, nil},
	})
}

func TestFromLogErrorKeys(t *testing.T) {
	failure := func(typ, msg string) *Event {
		return &Event{ID: "j", Outcome: OutcomeFailure, ErrorType: typ, ErrorMessage: msg}
	}
	attrs := func(kv ...any) map[string]any {
		m := map[string]any{"job_id": "j", "event": "job_failed"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"error_class", logSpec{attrs: attrs("error_class", "Net::ReadTimeout")}, failure("Net::ReadTimeout", "")},
		{"error.type", logSpec{attrs: attrs("error.type", "timeout")}, failure("timeout", "")},
		{"exception.type", logSpec{attrs: attrs("exception.type", "KeyError")}, failure("KeyError", "")},
		{"error_message", logSpec{attrs: attrs("error_message", "db: gone")}, failure("db", "db: gone")},
		{"exception.message", logSpec{attrs: attrs("exception.message", "db: gone")}, failure("db", "db: gone")},
		{"error.message", logSpec{attrs: attrs("error.message", "db: gone")}, failure("db", "db: gone")},
		{"failedReason", logSpec{attrs: attrs("failedReason", "db: gone")}, failure("db", "db: gone")},
		{"error (River)", logSpec{attrs: attrs("error", "payment provider: dial tcp 10.1.2.3:443: connect: connection refused")},
			failure("payment provider", "payment provider: dial tcp 10.1.2.3:443: connect: connection refused")},
		{"err string", logSpec{attrs: attrs("err", "db: gone")}, failure("db", "db: gone")},
		{"reason", logSpec{attrs: attrs("reason", "db: gone")}, failure("db", "db: gone")},
		{"err map (pino)", logSpec{attrs: attrs("err", map[string]any{"type": "CardDeclinedError", "message": "declined", "stack": "..."})},
			failure("CardDeclinedError", "declined")},
		{"error map with a name", logSpec{attrs: attrs("error", map[string]any{"name": "TypeError", "message": "x is undefined"})},
			failure("TypeError", "x is undefined")},
		{"the error's name and its message (winston)", logSpec{attrs: attrs("error", "CardDeclinedError", "error_message", "declined",
			"exception.type", "CardDeclinedError")}, failure("CardDeclinedError", "declined")},
		{"the error's name beside its message", logSpec{attrs: attrs("error", "CardDeclinedError", "error_message", "declined")},
			failure("CardDeclinedError", "declined")},
		{"an error sentence beside a message is no name", logSpec{attrs: attrs("error", "card declined", "error_message", "db: gone")},
			failure("db", "db: gone")},
		{"success carries no error", logSpec{attrs: map[string]any{"job_id": "j", "event": "job_completed", "error": "none"}},
			&Event{ID: "j", Outcome: OutcomeSuccess}},
	})
}

// Records that carry generic keys (id, status, state, level) are no job
// executions.
func TestFromLogFalsePositives(t *testing.T) {
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"HTTP access log", logSpec{attrs: map[string]any{"id": "req-42", "status": int64(200), "method": "GET", "path": "/jobs/42"},
			body: "GET /jobs/42 200 12ms"}, nil},
		{"HTTP access log with a status word", logSpec{attrs: map[string]any{"id": "req-42", "status": "ok", "state": "completed"},
			body: `{"id":"req-42","status":"failed","level":"error","msg":"request failed"}`}, nil},
		{"error level with an id", logSpec{attrs: map[string]any{"id": "42", "level": "error"}, body: "job failed",
			severity: plog.SeverityNumberError}, nil},
		{"an id nested in another map", logSpec{attrs: map[string]any{"job": map[string]any{"jid": "j", "class": "X"}, "msg": "fail"}}, nil},
		{"job id but the message is about something else", logSpec{attrs: map[string]any{"job_id": "j"},
			body: "Failed to report error for job"}, nil},
	})
}

// The JSON lines pino and winston write for a BullMQ worker (captured with
// bullmq 6.7, pino 9 and winston 3; stacks cut), as a file_log receiver
// without operators delivers them: the raw line as the body.
func TestFromLogBullMQJSONLines(t *testing.T) {
	const (
		pinoFailed = `{"level":50,"time":1796289027444,"pid":26642,"hostname":"vm","queueName":"payments","jobId":"1",` +
			`"jobName":"charge-card","attemptsMade":1,"err":{"type":"CardDeclinedError","message":"card 4242 declined: insufficient funds",` +
			`"stack":"CardDeclinedError: card 4242 declined: insufficient funds\n    at Worker.processor","name":"CardDeclinedError"},"msg":"job failed"}`
		pinoCompleted = `{"level":30,"time":1796289027605,"pid":26642,"hostname":"vm","queueName":"payments","jobId":"14",` +
			`"jobName":"send-receipt","attemptsMade":1,"msg":"job completed"}`
		winstonFailed = `{"attempt":1,"bullmq.job.attempts.made":1,"bullmq.job.id":"19","bullmq.job.name":"charge-card",` +
			`"bullmq.queue.name":"payments","err":{"message":"card 4242 declined: insufficient funds","stack":"CardDeclinedError: ...",` +
			`"type":"CardDeclinedError"},"error":"CardDeclinedError","error_message":"card 4242 declined: insufficient funds",` +
			`"event":"job_failed","jid":"19","job":"charge-card","level":"error","max_attempts":6,"message":"job failed",` +
			`"queue":"payments","timestamp":"2026-12-03T09:10:31.401Z","will_retry":true}`
	)
	declined := func(id string) *Event {
		return &Event{System: "bullmq", ID: id, Class: "charge-card", Queue: "payments", Attempt: 1, Outcome: OutcomeFailure,
			ErrorType: "CardDeclinedError", ErrorMessage: "card 4242 declined: insufficient funds"}
	}
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"pino failed", logSpec{body: pinoFailed}, declined("1")},
		{"pino completed", logSpec{body: pinoCompleted},
			&Event{System: "bullmq", ID: "14", Class: "send-receipt", Queue: "payments", Attempt: 1, Outcome: OutcomeSuccess}},
		{"winston failed", logSpec{body: winstonFailed}, declined("19")},
	})
}

// River's slog lines (JobExecutor.reportError): the job's id and kind, the
// error, the outcome in the message only, at info level.
func TestFromLogRiverSlog(t *testing.T) {
	attrs := map[string]any{"job_id": int64(7), "job_kind": "charge_card", "error": "payment provider: dial tcp 10.1.2.3:443: connect: connection refused"}
	want := &Event{System: "river", ID: "7", Class: "charge_card", Outcome: OutcomeFailure, ErrorType: "payment provider",
		ErrorMessage: "payment provider: dial tcp 10.1.2.3:443: connect: connection refused"}
	runLogCases(t, newTestExtractor(t, Config{}), []logCase{
		{"text handler line parsed into attributes", logSpec{attrs: attrs, body: "JobExecutor: Job errored; retrying",
			severity: plog.SeverityNumberInfo}, want},
		{"JSON handler line", logSpec{body: `{"time":"2026-12-03T09:10:31Z","level":"INFO","msg":"JobExecutor: Job errored",` +
			`"error":"payment provider: dial tcp 10.1.2.3:443: connect: connection refused","job_id":7,"job_kind":"charge_card"}`}, want},
		{"stuck is no outcome", logSpec{attrs: map[string]any{"job_id": int64(7), "job_kind": "charge_card"},
			body: "JobExecutor: Job appears to be stuck", severity: plog.SeverityNumberWarn}, nil},
	})
}

// TestFromLogWinstonOTLPCapture reads what @opentelemetry/winston-transport
// really sent for a BullMQ worker (testdata/logs/bullmq at the repository
// root): one job failing all 6 attempts, 12 one-attempt failures of one
// name, 5 successes. Every record is an execution of BullMQ's own span.
func TestFromLogWinstonOTLPCapture(t *testing.T) {
	body, err := os.ReadFile("../../testdata/logs/bullmq/winston-otlp.json")
	require.NoError(t, err)
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs(body)
	require.NoError(t, err)
	extractor, err := NewExtractor(Config{})
	require.NoError(t, err)
	x := extractor.At(time.Now())

	outcomes := map[string]int{}
	var chargeAttempts []int
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				var ev Event
				require.True(t, x.FromLog(lr, &ev), "%v", lr.Attributes().AsRaw())
				assert.Equal(t, "bullmq", ev.System)
				assert.Equal(t, "payments", ev.Queue)
				assert.False(t, ev.TraceID.IsEmpty())
				assert.False(t, ev.SpanID.IsEmpty())
				outcomes[ev.Class+" "+ev.Outcome.String()]++
				switch ev.Class {
				case "charge-card":
					chargeAttempts = append(chargeAttempts, ev.Attempt)
					assert.Equal(t, "CardDeclinedError", ev.ErrorType)
				case "sync-inventory":
					assert.Equal(t, 1, ev.Attempt)
					assert.Equal(t, "inventory service: connect ECONNREFUSED 10.0.0.7:8443", ev.ErrorMessage)
				}
			}
		}
	}
	assert.Equal(t, map[string]int{"charge-card failure": 6, "sync-inventory failure": 12, "send-receipt success": 5}, outcomes)
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6}, chargeAttempts)
}
