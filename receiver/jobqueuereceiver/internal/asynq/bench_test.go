// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshottest"
)

// BenchmarkSnapshot reads 1,000 queues (100,000 pending tasks) and 200
// servers (1,000 running tasks) from a real redis-server: the reader, then,
// on the same dataset, the same figures computed as asynq's Inspector
// computes them (inspector_test.go: Queues, GetQueueInfo per queue with its
// SISMEMBER, stats script and memory-usage script, then Servers). Both
// report Redis round trips and commands. Each runs on loopback, then
// through a link that holds every chunk of bytes for at least 0.25 ms each
// way, as between hosts (time.Sleep rounds up, more so on a busy machine:
// each sub-benchmark reports the PING round trip it measured, rtt_us).
func BenchmarkSnapshot(b *testing.B) {
	srv := redistest.Start(b)
	now := time.Now()
	f := newFixture(b, srv.Client(b), now)
	f.serverTTL = time.Hour
	f.populate(1000, 100, 200, 5)
	ctx := context.Background()
	links := []struct {
		name string
		addr string
	}{
		{"loopback", srv.Addr()},
		{"slow_link", slowLink(b, srv.Addr(), 250*time.Microsecond)},
	}

	for _, link := range links {
		b.Run("reader/"+link.name, func(b *testing.B) {
			c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: link.addr})
			rtt := pingRTT(b, c)
			snapshottest.BenchSnapshots(b, NewReader(c, Options{StalledAfter: 5 * time.Minute, Now: func() time.Time { return now }}), n)
			b.ReportMetric(rtt, "rtt_us")
		})
	}

	for _, link := range links {
		b.Run("inspector/"+link.name, func(b *testing.B) {
			c, n := snapshottest.NewClient(b, redisclient.Config{Endpoint: link.addr})
			rtt := pingRTT(b, c)
			in := &inspector{c: c, now: now, memory: true}
			scrape := func() {
				names, err := in.queues(ctx)
				require.NoError(b, err)
				for _, q := range names {
					_, _, err := in.getQueueInfo(ctx, q)
					require.NoError(b, err)
				}
				_, err = in.servers(ctx)
				require.NoError(b, err)
			}
			scrape() // warm the connection and load the scripts
			n.Reset()
			b.ReportAllocs()
			for b.Loop() {
				scrape()
			}
			b.ReportMetric(float64(n.RoundTrips())/float64(b.N), "roundtrips/op")
			b.ReportMetric(float64(n.Commands())/float64(b.N), "cmds/op")
			b.ReportMetric(rtt, "rtt_us")
		})
	}
}

// pingRTT is the median PING round trip through c, in microseconds.
func pingRTT(b *testing.B, c *redis.Client) float64 {
	rtts := make([]time.Duration, 21)
	for i := range rtts {
		t0 := time.Now()
		require.NoError(b, c.Ping(context.Background()).Err())
		rtts[i] = time.Since(t0)
	}
	slices.Sort(rtts)
	return float64(rtts[len(rtts)/2].Microseconds())
}

// slowLink forwards TCP connections to addr, holding each chunk of bytes
// read in either direction for delay before passing it on.
func slowLink(tb testing.TB, addr string, delay time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	forward := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(delay)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
			if err != nil {
				_ = dst.Close()
				_ = src.Close()
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", addr)
			if err != nil {
				_ = client.Close()
				continue
			}
			wg.Add(2)
			go forward(server, client)
			go forward(client, server)
		}
	}()
	return ln.Addr().String()
}
