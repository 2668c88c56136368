// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
)

// TestCeleryDemo plays nine minutes of the demo as Celery 5.2 on kombu's
// Redis transport and checks the keys against the simulator's own count and
// kombu's layout: no message lost or duplicated, every unacked message in
// both the hash and its index and routed to a bound queue, the crashed
// worker's mailbox binding and messages left behind, a warm shutdown
// restoring the rest.
func TestCeleryDemo(t *testing.T) {
	m, c := newMiniredis(t)
	sim, err := workload.NewCelery(c, workload.Demo(), 7)
	require.NoError(t, err)
	ctx := context.Background()
	total := play(t, sim, m, 9*60, nil)

	// Every message is in a priority list, unacked, or was acked once run.
	bound := map[string]bool{}
	var listed int64
	for _, k := range m.Keys() {
		exchange, ok := strings.CutPrefix(k, "_kombu.binding.")
		if !ok || exchange == "celery.pidbox" {
			continue
		}
		for _, member := range c.SMembers(ctx, k).Val() {
			assert.Equal(t, exchange+"\x06\x16\x06\x16"+exchange, member, "a queue bound to its own direct exchange")
			bound[exchange] = true
			for _, list := range []string{exchange, exchange + "\x06\x163", exchange + "\x06\x166", exchange + "\x06\x169"} {
				listed += c.LLen(ctx, list).Val()
			}
		}
	}
	assert.Len(t, bound, 4)
	unacked := c.HGetAll(ctx, "unacked").Val()
	index := c.ZRangeWithScores(ctx, "unacked_index", 0, -1).Val()
	require.Len(t, index, len(unacked), "the hash and its index hold the same deliveries")
	for _, z := range index {
		raw, ok := unacked[z.Member.(string)]
		require.True(t, ok)
		var v [3]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(raw), &v), "[message, exchange, routing_key]")
		var exchange, queue string
		require.NoError(t, json.Unmarshal(v[1], &exchange))
		require.NoError(t, json.Unmarshal(v[2], &queue))
		assert.Empty(t, exchange, "apply_async publishes through the default exchange")
		assert.True(t, bound[queue], queue)
		assert.LessOrEqual(t, z.Score, float64(start.Add(9*time.Minute).Unix()))
	}
	assert.Positive(t, total.Retried)
	assert.Positive(t, total.Scheduled)
	assert.EqualValues(t, total.Enqueued+total.Scheduled+total.Retried, listed+int64(len(unacked))+int64(total.Succeeded+total.Failed),
		"no message lost or duplicated")
	assert.EqualValues(t, total.Fetched, int64(len(unacked))+int64(total.Succeeded+total.Failed))
	assert.Zero(t, total.StatProcessed, "Celery keeps no counters in the broker")

	mailboxes := c.SMembers(ctx, "_kombu.binding.celery.pidbox").Val()
	assert.Contains(t, mailboxes, "\x06\x16\x06\x16celery@batch-1.celery.pidbox", "a crashed worker's mailbox stays")

	r, err := sim.Stop(ctx, start.Add(9*time.Minute))
	require.NoError(t, err)
	assert.Positive(t, r.Requeued)
	assert.Equal(t, []string{"\x06\x16\x06\x16celery@batch-1.celery.pidbox"}, c.SMembers(ctx, "_kombu.binding.celery.pidbox").Val(),
		"a warm shutdown removes the mailbox binding")
	left := c.HLen(ctx, "unacked").Val()
	assert.Positive(t, left, "the crashed worker's messages stay unacked")
	assert.EqualValues(t, len(unacked)-r.Requeued, left, "the others went back to their queues")
}
