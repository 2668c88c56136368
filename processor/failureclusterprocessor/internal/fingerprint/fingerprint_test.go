// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package fingerprint

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fingerprint(errType, message string) string {
	out, _ := Append(nil, errType, message)
	return string(out)
}

func TestAppend(t *testing.T) {
	for _, tc := range []struct {
		name, errType, message, want string
	}{
		{"the issue's example", "", "Timeout after 30s to 10.0.0.5:5432", "Timeout after <n>s to <addr>"},
		{"River: type derived from the message is not repeated", "payment provider",
			"payment provider: dial tcp 10.1.2.3:443: connect: connection refused",
			"payment provider: dial tcp <addr>: connect: connection refused"},
		{"River: URL path ids and status code", "inventory upstream",
			"inventory upstream: GET https://inventory.internal/v2/sku/SKU-42: 503 Service Unavailable",
			"inventory upstream: GET https://inventory.internal/v2/sku/SKU-<n>: <n> Service Unavailable"},
		{"type and message", "Net::ReadTimeout", "Net::ReadTimeout with #<TCPSocket:(closed)>",
			"Net::ReadTimeout: Net::ReadTimeout with #<TCPSocket:(closed)>"},
		{"message equal to its type", "panic", "panic", "panic"},
		{"type only", "Redis::TimeoutError", "", "Redis::TimeoutError"},
		{"white space message", "Redis::TimeoutError", " \n\t", "Redis::TimeoutError"},
		{"message only", "", "connection reset by peer", "connection reset by peer"},
		{"quoted values", "TypeError", "Cannot read properties of undefined (reading 'width')",
			"TypeError: Cannot read properties of undefined (reading <q>)"},
		{"double and back quotes", "", `key "user:42" not found in ` + "`cache`", "key <q> not found in <q>"},
		{"apostrophes are not quotes", "ActiveRecord::RecordNotFound", "Couldn't find User with 'id'=42",
			"ActiveRecord::RecordNotFound: Couldn't find User with <q>=<n>"},
		{"unterminated quote stays", "", "it's 'open", "it's 'open"},
		{"UUID", "", "job 6f1c9a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b expired", "job <uuid> expired"},
		{"hex pointer", "NoMethodError", "undefined method for #<Order:0x000055d5c0a1b2c8>",
			"NoMethodError: undefined method for #<Order:<hex>>"},
		{"hex id after underscore", "", "request req_8f3a2b1c9d failed", "request req_<hex> failed"},
		{"random id", "Stripe::CardError", "charge ch_3MmlLrLkdIwHu7ix0snN0B15 declined",
			"Stripe::CardError: charge ch_<id> declined"},
		{"long words without digits stay", "", "Internationalization failure", "Internationalization failure"},
		{"host:port", "", "dial tcp db-primary.internal:5432: i/o timeout", "dial tcp <addr>: i/o timeout"},
		{"localhost:port", "", "ECONNREFUSED localhost:6379", "ECONNREFUSED <addr>"},
		{"IPv4 without port", "", "no route to 192.168.1.20", "no route to <addr>"},
		{"URL keeps its host, loses port and query", "",
			"GET http://hooks.example.com:8443/receive?token=abc&id=7 failed",
			"GET http://hooks.example.com:<n>/receive?<query> failed"},
		{"file:line is not host:port", "", "app/jobs/sync_job.rb:42:in `perform'",
			"app/jobs/sync_job.rb:<n>:in `perform'"},
		{"Ruby's double colon", "Mysql2::Error", "Mysql2::Error: Deadlock found", "Mysql2::Error: Deadlock found"},
		{"digits in names stay, long runs go", "", "S3 utf8 job123 x509 sha256", "S3 utf8 job<n> x<n> sha<n>"},
		{"decimals and dates", "", "took 1.25s at 2026-11-27 07:18:33", "took <n>s at <n>-<n>-<n> <n>:<n>:<n>"},
		{"control characters and runs of space", "", "line one\n\tline\x00two\x7f  end ", "line one line two end"},
		{"normalized type", "Retry in 5s", "Retry in 5s: ConnectionError()", "Retry in <n>s: ConnectionError()"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, fingerprint(tc.errType, tc.message))
		})
	}
}

func TestAppendVolatilePartsAgree(t *testing.T) {
	for _, pair := range [][2]string{
		{"Timeout after 30s to 10.0.0.5:5432", "Timeout after 31s to 10.0.0.6:5432"},
		{"SMTP connection refused: connect ECONNREFUSED 127.0.0.1:2525", "SMTP connection refused: connect ECONNREFUSED 127.0.0.1:2526"},
		{"order 6f1c9a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b locked by 'worker-3'", "order 0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d locked by 'worker-12'"},
		{"Net::ReadTimeout with #<TCPSocket:0x00007f1a>", "Net::ReadTimeout with #<TCPSocket:0x00007f2b>"},
	} {
		assert.Equal(t, fingerprint("", pair[0]), fingerprint("", pair[1]), "%q vs %q", pair[0], pair[1])
	}
	assert.NotEqual(t, fingerprint("", "connection refused"), fingerprint("", "connection reset"))
	assert.NotEqual(t, fingerprint("A", "boom"), fingerprint("B", "boom"))
}

func TestAppendTypeLen(t *testing.T) {
	out, n := Append([]byte("prefix|"), "Timeout after 5s", "Timeout after 5s: 10.0.0.1:80")
	assert.Equal(t, "prefix|Timeout after <n>s: <addr>", string(out))
	assert.Equal(t, "Timeout after <n>s", string(out[len("prefix|"):len("prefix|")+n]))

	_, n = Append(nil, "", "boom")
	assert.Zero(t, n)
}

func TestAppendBounds(t *testing.T) {
	huge := strings.Repeat("x", 10<<20) // 10 MB without a break
	out, n := Append(nil, huge, huge)
	assert.LessOrEqual(t, len(out), MaxLen)
	assert.Equal(t, MaxTypeLen, n)

	// Two messages that differ only after MaxScan bytes agree.
	head := strings.Repeat("lorem ipsum ", MaxScan/12+1)
	assert.Equal(t, fingerprint("E", head+"tail one"), fingerprint("E", head+"tail two"))

	// Cuts never split a UTF-8 sequence.
	for _, pad := range []int{0, 1, 2, 3} {
		s := strings.Repeat("a", pad) + strings.Repeat("é€😀", MaxScan)
		out, _ := Append(nil, s, s)
		assert.True(t, utf8.Valid(out), "pad %d", pad)
		assert.LessOrEqual(t, len(out), MaxLen)
	}
}

func TestAppendAllocations(t *testing.T) {
	msg := "payment provider: dial tcp 10.1.2.3:443: connect: connection refused " + strings.Repeat("x", 10<<20)
	buf := make([]byte, 0, MaxLen)
	allocs := testing.AllocsPerRun(100, func() {
		buf, _ = Append(buf[:0], "payment provider", msg)
	})
	assert.Zero(t, allocs)
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{
		"Timeout after 30s to 10.0.0.5:5432", "'", "0x", "1.2.3.4:", "a:1", "\"\"", "http://h/?q", "6f1c9a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
		"é\xff\xfe", "::1", "a_b.c:80", strings.Repeat("9", 40),
	} {
		f.Add("E", s)
	}
	f.Fuzz(func(t *testing.T, errType, message string) {
		out, n := Append(nil, errType, message)
		require.LessOrEqual(t, len(out), MaxLen)
		require.LessOrEqual(t, n, MaxTypeLen)
		require.LessOrEqual(t, n, len(out))
		if utf8.ValidString(errType) && utf8.ValidString(message) {
			require.True(t, utf8.Valid(out), "%q", out)
		}
		for _, c := range out {
			require.False(t, c < ' ' || c == 0x7f, "control character in %q", out)
		}
		// Numbers of three digits or more never survive.
		run := 0
		for _, c := range out {
			run++
			if c < '0' || c > '9' {
				run = 0
			}
			require.Less(t, run, 3, "%q", out)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct{ name, errType, message string }{
		{"river", "payment provider", "payment provider: dial tcp 10.1.2.3:443: connect: connection refused"},
		{"url", "inventory upstream", "inventory upstream: GET https://inventory.internal/v2/sku/SKU-42: 503 Service Unavailable"},
		{"10MB", "Huge", strings.Repeat("row 42 of 'table' failed; ", 10<<20/26)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, MaxLen)
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = Append(buf[:0], bc.errType, bc.message)
			}
		})
	}
}
