// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEpoch(t *testing.T) {
	ref := time.Date(2026, 11, 27, 12, 0, 0, 500_000_000, time.UTC)
	for raw, want := range map[string]time.Time{
		"1795780800.5":   ref,                       // Sidekiq <= 7: float seconds
		"1795780800500":  ref,                       // Sidekiq 8: integer milliseconds
		"1795780800":     ref.Truncate(time.Second), // run_at: integer seconds
		"1.7957808005e9": ref,
	} {
		got, ok := epoch(raw)
		require.True(t, ok, raw)
		assert.WithinDuration(t, want, got, time.Microsecond, raw)
	}
	for _, raw := range []string{"", "0", "-1", "null", `"1795780800"`, "NaN", "Inf", "0x1p30", "1e400", "1e300", "abc"} {
		_, ok := epoch(raw)
		assert.False(t, ok, raw)
	}
}

func TestParseJob(t *testing.T) {
	j, err := parseJob(`{"class":"ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper","wrapped":"SendMail",` +
		`"args":[{"job_class":"SendMail","enqueued_at":"2026-01-01"}],"error_class":"Net::ReadTimeout",` +
		`"created_at":1795780700.25,"enqueued_at":1795780800.5,"enqueued_at":1795780801.5}`)
	require.NoError(t, err)
	assert.Equal(t, "SendMail", j.displayName())
	assert.Equal(t, `"Net::ReadTimeout"`, j.errorClass)
	ts, problem := j.enqueued()
	assert.Empty(t, problem)
	assert.Equal(t, 1795780801.5, float64(ts.UnixMilli())/1000, "the last duplicate wins, nested members are not members")

	j, err = parseJob(`{"class":"Hard","display_class":"Shown","created_at":1795780700250}`)
	require.NoError(t, err)
	assert.Equal(t, "Shown", j.displayName())
	ts, problem = j.enqueued()
	assert.Empty(t, problem)
	assert.Equal(t, int64(1795780700250), ts.UnixMilli(), "created_at when enqueued_at is missing")

	j, err = parseJob(`{"class":"Hard","enqueued_at":null}`)
	require.NoError(t, err)
	_, problem = j.enqueued()
	assert.Equal(t, kindMissingTimestamp, problem)
}

func TestParseWork(t *testing.T) {
	runAt := time.Unix(1795780800, 0)
	q, at, problem := parseWork(`{"queue":"default","payload":"{\"class\":\"A\",\"run_at\":1}","run_at":1795780800}`)
	assert.Equal(t, "default", q)
	assert.Equal(t, runAt, at)
	assert.Empty(t, problem)

	q, at, problem = parseWork(`{"queue":"low","payload":{"class":"A","run_at":1},"run_at":1795780800}`)
	assert.Equal(t, "low", q)
	assert.Equal(t, runAt, at)
	assert.Empty(t, problem)

	_, _, problem = parseWork(`{"payload":"{}","run_at":1795780800}`)
	assert.Equal(t, kindMissingQueue, problem)
	_, _, problem = parseWork(`{"queue":"q","run_at":"later"}`)
	assert.Equal(t, kindInvalidTimestamp, problem)
	_, _, problem = parseWork(`{"queue":"q"`)
	assert.Equal(t, kindInvalidJSON, problem)
}

func TestParseInfo(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    processInfo
		problem string
	}{
		{"sidekiq 6", `{"hostname":"web","started_at":1.7e9,"pid":12,"tag":"app","concurrency":10,"queues":["a","b"],"labels":[],"identity":"web:12:x"}`,
			processInfo{hostname: "web", pid: 12, tag: "app", queues: []string{"a", "b"}, concurrency: 10, hasConcurrency: true}, ""},
		{"capsules", `{"hostname":"web","queues":[],"capsules":{"default":{"concurrency":3,"mode":"strict"},"io":{"weights":{"io":1},"concurrency":2}}}`,
			processInfo{hostname: "web", queues: []string{}, capsules: 5, hasCapsules: true}, ""},
		{"nulls are absent", `{"hostname":"web","tag":null,"concurrency":null}`, processInfo{hostname: "web"}, ""},
		{"wrong types keep the rest", `{"hostname":"web","pid":"12","concurrency":2.5,"queues":"a","capsules":{"x":{"concurrency":"1"}}}`,
			processInfo{hostname: "web"}, kindWrongType},
		{"broken", `{"hostname":"web"`, processInfo{}, kindInvalidJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem := parseInfo(tt.in)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.problem, problem)
		})
	}
}

// FuzzParseJob checks the payload scanner against encoding/json: it never
// panics, accepts every valid JSON object and finds the same timestamp and
// class members. Seeds live in testdata/fuzz/FuzzParseJob and run with plain
// `go test`; fuzz with `go test -fuzz FuzzParseJob`.
func FuzzParseJob(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload string) {
		j, err := parseJob(payload)
		_, _ = j.enqueued()
		_ = j.displayName()
		_, _, _ = parseWork(payload)
		_, _ = parseInfo(payload)

		var members map[string]json.RawMessage
		if json.Unmarshal([]byte(payload), &members) != nil || members == nil || strings.Contains(payload, `\u`) {
			return // invalid JSON, not an object, or keys spelled with escapes
		}
		require.NoError(t, err, "a valid JSON object is accepted")
		for key, got := range map[string]string{
			"enqueued_at": j.enqueuedAt, "created_at": j.createdAt, "class": j.class,
			"display_class": j.displayClass, "wrapped": j.wrapped, "error_class": j.errorClass,
		} {
			assert.Equal(t, string(members[key]), got, key)
		}
	})
}

// BenchmarkParseJob compares the scanner with encoding/json decoding only the
// two timestamps, on a typical job and on a 10 MB one.
func BenchmarkParseJob(b *testing.B) {
	f := newFixture(b, nil, "")
	payloads := map[string]string{
		"small": f.job6("HardJob", "default", testNow),
		"10MB":  `{"class":"Big","args":["` + strings.Repeat("a\\\"{[", 2<<20) + `"],"enqueued_at":1795780800.5}`,
	}
	for _, size := range []string{"small", "10MB"} {
		p := payloads[size]
		b.Run(size+"/scan", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				j, err := parseJob(p)
				if _, problem := j.enqueued(); err != nil || problem != "" {
					b.Fatal(err, problem)
				}
			}
		})
		b.Run(size+"/encoding_json", func(b *testing.B) {
			b.SetBytes(int64(len(p)))
			b.ReportAllocs()
			for b.Loop() {
				var j struct {
					EnqueuedAt *float64 `json:"enqueued_at"`
					CreatedAt  *float64 `json:"created_at"`
				}
				if err := json.Unmarshal([]byte(p), &j); err != nil || j.EnqueuedAt == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
