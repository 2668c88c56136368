// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
)

var started = time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)

func TestParseServerInfo(t *testing.T) {
	b := marshal(t, pb.server, map[string]any{
		"host": "web-1", "pid": int32(4242), "server_id": "abc", "concurrency": int32(10),
		"queues": map[string]int32{"critical": 6, "default": 3}, "strict_priority": true, "status": "stopped",
		"start_time": started, "active_worker_count": int32(2),
	})
	got, err := parseServerInfo([]byte(b))
	require.NoError(t, err)
	slices.Sort(got.queues)
	assert.Equal(t, serverInfo{host: "web-1", pid: 4242, concurrency: 10, queues: []string{"critical", "default"}, status: "stopped"}, got)

	_, err = parseServerInfo([]byte(b[:len(b)-1]))
	require.Error(t, err, "truncated")
	_, err = parseServerInfo([]byte("\x0a\x02\xff\xfe"))
	require.ErrorIs(t, err, errInvalidUTF8, "host is a proto3 string")
}

func TestParseWorkerInfo(t *testing.T) {
	b := marshal(t, pb.worker, map[string]any{
		"host": "web-1", "pid": int32(1), "server_id": "abc", "task_id": "t1", "task_type": "email:send",
		"task_payload": make([]byte, 10<<20), "queue": "default", "start_time": started, "deadline": started.Add(time.Hour),
	})
	got, err := parseWorkerInfo([]byte(b))
	require.NoError(t, err)
	assert.Equal(t, "default", got.queue)
	assert.True(t, started.Equal(got.started), "%s", got.started)

	got, err = parseWorkerInfo([]byte(marshal(t, pb.worker, map[string]any{"queue": "q"})))
	require.NoError(t, err)
	assert.True(t, got.started.IsZero(), "no start_time")
}

// seeds are real messages and near misses for the fuzz tests.
func seeds(f *testing.F) {
	f.Add([]byte(marshal(f, pb.server, map[string]any{
		"host": "h", "pid": int32(-1), "server_id": "s", "concurrency": int32(5),
		"queues": map[string]int32{"a": 1}, "status": "active", "start_time": started, "active_worker_count": int32(1),
	})))
	f.Add([]byte(marshal(f, pb.worker, map[string]any{
		"host": "h", "task_id": "t", "task_type": "x", "task_payload": []byte{0xff}, "queue": "q",
		"start_time": started, "deadline": started,
	})))
	f.Add([]byte(marshal(f, pb.task, map[string]any{"type": "t", "id": "i", "queue": "q", "retry": int32(25)})))
	f.Add([]byte("\x0a\x05ab"))           // truncated string
	f.Add([]byte("\x08\x01\x0a\x01x"))    // host as a varint, then as a string
	f.Add([]byte("\x2a\x04\x0a\x02\xc3")) // map entry with a broken key
	f.Add([]byte("\x42\x02\x08\x7f"))     // timestamp
	f.Add([]byte("\x0b\x0c"))             // a group
	f.Add([]byte{})
}

// FuzzParseServerInfo checks the protowire reader against proto.Unmarshal
// with asynq's descriptor, as the Inspector decodes: the same messages are
// accepted, with the same fields.
func FuzzParseServerInfo(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseServerInfo(b)
		m, want := unmarshal(pb.server, b)
		if want != nil {
			require.Error(t, err, "proto.Unmarshal refused it: %v", want)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, get(m, "host").String(), got.host)
		assert.Equal(t, get(m, "pid").Int(), got.pid)
		assert.Equal(t, get(m, "concurrency").Int(), got.concurrency)
		assert.Equal(t, get(m, "status").String(), got.status)
		var queues []string
		get(m, "queues").Map().Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
			queues = append(queues, k.String())
			return true
		})
		slices.Sort(queues)
		got.queues = slices.Compact(slices.Sorted(slices.Values(got.queues)))
		if len(queues) == 0 {
			queues = nil
		}
		if len(got.queues) == 0 {
			got.queues = nil
		}
		assert.Equal(t, queues, got.queues)
	})
}

// FuzzParseWorkerInfo: as FuzzParseServerInfo, for WorkerInfo.
func FuzzParseWorkerInfo(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseWorkerInfo(b)
		m, want := unmarshal(pb.worker, b)
		if want != nil {
			require.Error(t, err, "proto.Unmarshal refused it: %v", want)
			return
		}
		require.NoError(t, err)
		assert.Equal(t, get(m, "queue").String(), got.queue)
		if got.started.IsZero() {
			assert.False(t, m.Has(m.Descriptor().Fields().ByName("start_time")))
		} else {
			assert.True(t, timestampOf(m, "start_time").Equal(got.started))
		}
	})
}

// FuzzParsePendingSince checks the reader's pending_since against the
// Inspector's reading of it (castInt, then now - time.Unix(0, n) unless 0):
// whatever the reader accepts, the Inspector reads as the same time.
func FuzzParsePendingSince(f *testing.F) {
	for _, seed := range []string{"1764759600123456789", "0", "-5", "1e18", "0x10", "1_000", " 12", "12.0", "", "9223372036854775808"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := parsePendingSince(raw)
		if !ok {
			return
		}
		n := castInt(raw)
		require.NotZero(t, n, "%q", raw)
		assert.True(t, time.Unix(0, n).Equal(got), "%q", raw)
	})
}
