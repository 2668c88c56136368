// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package resque

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseID(t *testing.T) {
	for id, want := range map[string]workerID{
		"web-1:4242:critical,default": {name: "web-1:4242", host: "web-1", pid: 4242, queues: []string{"critical", "default"}},
		"box:77+3:mail":               {name: "box:77+3", host: "box", pid: 77, queues: []string{"mail"}},
		"host:1:ns:with:colons,low":   {name: "host:1", host: "host", pid: 1, queues: []string{"ns:with:colons", "low"}},
		"host:notapid:*":              {name: "host:notapid", host: "host", queues: []string{"*"}},
		"host:-5:q":                   {name: "host:-5", host: "host", queues: []string{"q"}},
		"workerA:mail,other":          {name: "workerA", queues: []string{"mail", "other"}},
		"lonely":                      {name: "lonely"},
		"":                            {name: ""},
	} {
		assert.Equal(t, want, parseID(id), id)
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2026, 12, 3, 9, 51, 49, 0, time.UTC)
	for _, raw := range []string{
		"2026-12-03T09:51:49Z",      // Ruby run_at: Time.now.utc.iso8601
		"2026-12-03T10:51:49+01:00", // Ruby heartbeat: Time#iso8601 in the local zone
		"Thu Dec 03 2026 09:51:49 GMT+0000 (Coordinated Universal Time)", // node-resque: Date#toString
		"Thu Dec 03 2026 04:51:49 GMT-0500 (Eastern Standard Time)",
		"Thu Dec 03 2026 09:51:49 GMT+0000",
	} {
		got, ok := parseTime(raw)
		require.True(t, ok, raw)
		assert.True(t, want.Equal(got), "%s: %s", raw, got)
	}
	for _, raw := range []string{"", "yesterday", "2026/12/03 09:51:49 UTC", "1796291509", "Thu Dec 03 2026"} {
		_, ok := parseTime(raw)
		assert.False(t, ok, raw)
	}
}

func TestParsePing(t *testing.T) {
	got, problem := parsePing(`{"time":1796291511,"name":"vm:8109","queues":"critical,default"}`)
	assert.Empty(t, problem)
	assert.Equal(t, time.Unix(1796291511, 0), got)
	for raw, want := range map[string]string{
		`{"time":`:                kindInvalidJSON,
		`[1]`:                     kindInvalidJSON,
		`{"name":"x"}`:            kindMissingTimestamp,
		`{"time":null}`:           kindMissingTimestamp,
		`{"time":"1796291511"}`:   kindInvalidTimestamp,
		`{"time":1796291511.5}`:   kindInvalidTimestamp,
		`{"time":-1}`:             kindInvalidTimestamp,
		`{"time":99999999999999}`: kindInvalidTimestamp,
	} {
		_, problem := parsePing(raw)
		assert.Equal(t, want, problem, raw)
	}
}

func TestParseWorking(t *testing.T) {
	q, at, problem := parseWorking(`{"queue":"default","run_at":"2026-12-03T09:51:49Z","payload":{"class":"A","queue":"x","run_at":"1999-01-01T00:00:00Z"}}`)
	assert.Equal(t, "default", q)
	assert.Equal(t, time.Date(2026, 12, 3, 9, 51, 49, 0, time.UTC), at, "members of the payload are not the job's")
	assert.Empty(t, problem)

	q, at, problem = parseWorking(`{"run_at":"Thu Dec 03 2026 09:51:49 GMT+0000 (Coordinated Universal Time)","worker":"vm:1","payload":{"class":"slow","args":[3],"queue":"critical"},"queue":"critical"}`)
	assert.Equal(t, "critical", q)
	assert.Equal(t, int64(1796291509), at.Unix())
	assert.Empty(t, problem)

	for raw, want := range map[string]string{
		`not json`:                          kindInvalidJSON,
		`{"run_at":"2026-12-03T09:51:49Z"}`: kindMissingQueue,
		`{"queue":7}`:                       kindMissingQueue,
		`{"queue":"q"}`:                     kindMissingTimestamp,
		`{"queue":"q","run_at":null}`:       kindMissingTimestamp,
		`{"queue":"q","run_at":12}`:         kindInvalidTimestamp,
		`{"queue":"q","run_at":"soon"}`:     kindInvalidTimestamp,
	} {
		_, _, problem := parseWorking(raw)
		assert.Equal(t, want, problem, raw)
	}
}

// FuzzParseWorking feeds arbitrary text to every parser of worker data:
// none may panic, and a valid JSON object's queue and run_at are the ones
// encoding/json sees.
func FuzzParseWorking(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw string) {
		queue, runAt, problem := parseWorking(raw)
		_, _ = parsePing(raw)
		_, _ = parseTime(raw)
		id := parseID(raw)
		assert.True(t, strings.HasPrefix(raw, id.name), "the name is the id's start")

		var members map[string]json.RawMessage
		if json.Unmarshal([]byte(raw), &members) != nil || members == nil || strings.Contains(raw, `\u`) || !utf8.ValidString(raw) {
			// Invalid JSON, not an object, keys spelled with escapes, or
			// bytes encoding/json would replace: the reader keeps a queue
			// name's bytes, to find the queue by the name it is registered
			// under (snapshot.Name bounds it when reported).
			return
		}
		require.NotEqual(t, kindInvalidJSON, problem, "a valid JSON object is accepted")
		var want struct {
			Queue *string `json:"queue"`
			RunAt *string `json:"run_at"`
		}
		if json.Unmarshal([]byte(raw), &want) != nil || want.Queue == nil {
			return // a queue that is not a string
		}
		assert.Equal(t, *want.Queue, queue)
		if want.RunAt != nil && problem == "" {
			wantAt, ok := parseTime(*want.RunAt)
			assert.True(t, ok)
			assert.True(t, wantAt.Equal(runAt))
		}
	})
}
