// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package bullmq

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestParseMillis(t *testing.T) {
	for raw, want := range map[string]time.Time{
		"1700000000123":   time.UnixMilli(1700000000123),
		"1700000000123.5": time.UnixMilli(1700000000123).Add(500 * time.Microsecond),
	} {
		got, ok := parseMillis(raw)
		assert.True(t, ok, raw)
		assert.Equal(t, want, got, raw)
	}
	for _, raw := range []string{"", "yesterday", "-5", "0", "NaN", "Inf", "1e300", "0x10", "1700000000123 "} {
		_, ok := parseMillis(raw)
		assert.False(t, ok, "%q", raw)
	}
}

// clientList is CLIENT LIST as Redis 7 prints it for BullMQ 6.7.0's
// connections: a worker's blocking connection, a named worker's, a
// QueueEvents connection, a producer and redis-cli.
const clientList = "id=5 addr=127.0.0.1:40412 laddr=127.0.0.1:6379 fd=9 name=bull:ZW1haWxz age=12 idle=0 flags=b db=0 sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=42 multi-mem=0 rbs=1024 rbp=5 obl=0 oll=0 omem=0 tot-mem=1930 events=r cmd=bzpopmin user=default redir=-1 resp=2 lib-name=ioredis lib-ver=6.0.0\n" +
	"id=6 addr=10.0.0.7:40414 laddr=127.0.0.1:6379 fd=10 name=bull:cmVwb3J0cw==:w:reporter age=12 idle=3 flags=N db=0 cmd=evalsha user=default\n" +
	"id=7 addr=10.0.0.7:40416 laddr=127.0.0.1:6379 fd=11 name=bull:ZW1haWxz:qe age=12 idle=0 flags=N db=0 cmd=xread user=default\n" +
	"id=8 addr=[::1]:40418 laddr=[::1]:6379 fd=12 name= age=1 idle=1 flags=N db=0 cmd=client|list user=default\n"

func TestParseClientList(t *testing.T) {
	got := parseClientList(clientList, "bull:")
	assert.Equal(t, []workerConn{
		{id: "5", queue: "emails", host: "127.0.0.1"},
		{id: "6", queue: "reports", worker: "reporter", host: "10.0.0.7", idle: 3 * time.Second},
	}, got)
	assert.Equal(t, "emails#5", got[0].processID())
	assert.Equal(t, "reports:w:reporter#6", got[1].processID())
	assert.Empty(t, parseClientList(clientList, "other:"))
	assert.Empty(t, parseClientList("id=1 name=bull:!!! idle=x\nid=2 name=bull: idle=-1\n\n", "bull:"))
}

func FuzzParseMillis(f *testing.F) {
	for _, seed := range []string{"1700000000123", "1700000000123.5", "", "-5", "1e300", "NaN", "yesterday"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ts, ok := parseMillis(raw)
		if !ok {
			return
		}
		if ts.UnixMilli() <= 0 || ts.UnixMilli() > maxEpochMillis {
			t.Fatalf("%q: %v out of range", raw, ts)
		}
	})
}

func FuzzParseClientList(f *testing.F) {
	f.Add(clientList, "bull:")
	f.Add("id=1 name=bull:"+strings.Repeat("QQ", 100)+":w: idle=99999999999999999999\n", "bull:")
	f.Add("name=x:eA==:w:a:b addr=nohost idle=5", "x:")
	f.Fuzz(func(t *testing.T, list, prefix string) {
		for _, w := range parseClientList(list, prefix) {
			if w.queue == "" || w.idle < 0 {
				t.Fatalf("%+v", w)
			}
			if !strings.Contains(list, "name="+prefix) {
				t.Fatalf("a worker without its prefix: %+v", w)
			}
			_ = utf8.ValidString(w.processID()) // names are bounded by the reader, not here
		}
	})
}
