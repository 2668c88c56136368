// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNames(t *testing.T) {
	names := Names()
	assert.Len(t, names, 11)
	seen := map[Name]bool{}
	for _, n := range names {
		assert.Regexp(t, regexp.MustCompile(`^[a-z]+(_[a-z]+)+$`), string(n))
		assert.False(t, seen[n], "%s listed twice", n)
		seen[n] = true
	}
	names[0] = "changed"
	assert.Equal(t, QueueLatencyHigh, Names()[0], "callers get a copy")
}

func TestNewID(t *testing.T) {
	// FNV-1a 64 of "queue_latency_high\x00sidekiq\x00critical", computed
	// independently: the id must not change between releases.
	assert.Equal(t, "11cfe040262e7b51", NewID(QueueLatencyHigh, "sidekiq", "critical"))
	assert.Equal(t, "5da7f0be7857db45", NewID(ExcessiveRetries))
	assert.NotEqual(t, NewID(FailureCluster, "ab", "c"), NewID(FailureCluster, "a", "bc"), "labels are delimited")
	assert.NotEqual(t, NewID(FailureCluster, "x"), NewID(DependencyFailure, "x"))
}

var (
	trace1 = pcommon.TraceID{1}
	trace2 = pcommon.TraceID{2}
	at     = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
)

func retryAlert() Alert {
	return Alert{
		Name:      ExcessiveRetries,
		State:     StateFiring,
		Severity:  SeverityWarn,
		ID:        NewID(ExcessiveRetries, "sidekiq", "HardJob", "2f0c4e"),
		Summary:   "job HardJob 2f0c4e retried 7 times > 3\n(Net::ReadTimeout)",
		Time:      at,
		Threshold: 3,
		Value:     7,
		System:    "sidekiq",
		Queue:     "default",
		Class:     "HardJob",
		JobID:     "2f0c4e",
		ErrorType: "Net::ReadTimeout",
		// Duplicates and empty ids are dropped; at most 5 are kept.
		TraceIDs:   []pcommon.TraceID{trace1, {}, trace1, trace2, {3}, {4}, {5}, {6}},
		Attributes: []Attribute{Int("alert.retries", 7), Float("alert.ratio", 0.5), String("alert.note", "x")},
	}
}

var wantAttributes = map[string]any{
	"alert.name":                 "excessive_retries",
	"alert.state":                "firing",
	"alert.id":                   NewID(ExcessiveRetries, "sidekiq", "HardJob", "2f0c4e"),
	"alert.threshold":            3.0,
	"alert.value":                7.0,
	"messaging.system":           "sidekiq",
	"messaging.destination.name": "default",
	"jobqueue.job.class":         "HardJob",
	"messaging.message.id":       "2f0c4e",
	"error.type":                 "Net::ReadTimeout",
	"alert.retries":              int64(7),
	"alert.ratio":                0.5,
	"alert.note":                 "x",
	"alert.example_trace_ids": []any{
		"01000000000000000000000000000000", "02000000000000000000000000000000", "03000000000000000000000000000000",
		"04000000000000000000000000000000", "05000000000000000000000000000000",
	},
}

func TestFillLogRecord(t *testing.T) {
	a := retryAlert()
	lr := plog.NewLogRecord()
	a.FillLogRecord(lr)

	assert.Equal(t, "jobqueue.alert", lr.EventName())
	assert.Equal(t, at, lr.Timestamp().AsTime())
	assert.Equal(t, at, lr.ObservedTimestamp().AsTime())
	assert.Equal(t, plog.SeverityNumberWarn, lr.SeverityNumber())
	assert.Equal(t, "WARN", lr.SeverityText())
	assert.Equal(t, "job HardJob 2f0c4e retried 7 times > 3 (Net::ReadTimeout)", lr.Body().Str(), "one line")
	assert.Equal(t, wantAttributes, lr.Attributes().AsRaw())
}

func TestFillLogRecordResolvedMinimal(t *testing.T) {
	a := Alert{Name: StalledJobs, State: StateResolved, Severity: SeverityInfo, ID: "x", Summary: "ok", Time: at}
	lr := plog.NewLogRecord()
	a.FillLogRecord(lr)
	assert.Equal(t, map[string]any{
		"alert.name": "stalled_jobs", "alert.state": "resolved", "alert.id": "x",
		"alert.threshold": 0.0, "alert.value": 0.0,
	}, lr.Attributes().AsRaw(), "empty context is left out")
	assert.Equal(t, plog.SeverityNumberInfo, lr.SeverityNumber())
}

func TestAddSpanEvent(t *testing.T) {
	a := retryAlert()
	span := ptrace.NewSpan()
	span.Events().AppendEmpty().SetName("exception")
	ev := a.AddSpanEvent(span)

	require.Equal(t, 2, span.Events().Len())
	assert.Equal(t, ev, span.Events().At(1))
	assert.Equal(t, "jobqueue.alert", ev.Name())
	assert.Equal(t, at, ev.Timestamp().AsTime())
	want := map[string]any{"alert.severity": "WARN", "alert.summary": "job HardJob 2f0c4e retried 7 times > 3 (Net::ReadTimeout)"}
	for k, v := range wantAttributes {
		want[k] = v
	}
	assert.Equal(t, want, ev.Attributes().AsRaw())
}

// TestHostileStrings: a 10 MB error type with control characters and
// multi-byte runes makes a small, valid record.
func TestHostileStrings(t *testing.T) {
	huge := strings.Repeat("é\x00\n", 3_500_000)
	a := Alert{Name: FailureCluster, Summary: huge, ErrorType: huge, Attributes: []Attribute{String("alert.error.message", huge)}}
	lr := plog.NewLogRecord()
	a.FillLogRecord(lr)
	for _, s := range []string{lr.Body().Str(), lr.Attributes().AsRaw()["error.type"].(string), lr.Attributes().AsRaw()["alert.error.message"].(string)} {
		assert.LessOrEqual(t, len(s), maxValueLen)
		assert.True(t, utf8.ValidString(s))
		assert.True(t, strings.HasSuffix(s, "…"))
	}
	assert.NotContains(t, lr.Body().Str(), "\n")
	assert.NotContains(t, lr.Body().Str(), "\x00")
}

func TestSeverity(t *testing.T) {
	tests := []struct {
		in      string
		want    Severity
		text    string
		number  plog.SeverityNumber
		wantErr bool
	}{
		{in: "info", want: SeverityInfo, text: "INFO", number: plog.SeverityNumberInfo},
		{in: "WARN", want: SeverityWarn, text: "WARN", number: plog.SeverityNumberWarn},
		{in: "Warning", want: SeverityWarn, text: "WARN", number: plog.SeverityNumberWarn},
		{in: "error", want: SeverityError, text: "ERROR", number: plog.SeverityNumberError},
		{in: "fatal", want: SeverityFatal, text: "FATAL", number: plog.SeverityNumberFatal},
		{in: "critical", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var cfg struct {
				Severity Severity `mapstructure:"severity"`
			}
			err := confmap.NewFromStringMap(map[string]any{"severity": tt.in}).Unmarshal(&cfg)
			if tt.wantErr {
				require.ErrorContains(t, err, "use info, warn, error or fatal")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Severity)
			assert.Equal(t, tt.text, cfg.Severity.String())
			assert.Equal(t, tt.number, cfg.Severity.Number())
			text, err := cfg.Severity.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, strings.ToLower(tt.text), string(text))
		})
	}
	assert.Less(t, SeverityInfo, SeverityWarn)
	assert.Less(t, SeverityError, SeverityFatal)
	_, err := Severity(0).MarshalText()
	require.Error(t, err)
	assert.Equal(t, plog.SeverityNumberUnspecified, Severity(0).Number())
}
