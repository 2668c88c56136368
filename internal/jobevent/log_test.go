// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"bufio"
	"bytes"
	"encoding/json"
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
func runLogCases(t *testing.T, x *Extractor, cases []logCase) {
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
