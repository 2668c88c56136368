// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testNow is the reader's clock in fixture tests.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// fixture writes broker state the way kombu's Redis transport does (checked
// against the real library by TestAgainstCelery): binding sets, LPUSHed
// messages per priority list, and unacked deliveries in the hash and its
// index.
type fixture struct {
	tb     testing.TB
	c      redis.Cmdable
	prefix string
	now    time.Time
	id     int
}

func newFixture(tb testing.TB, c redis.Cmdable, prefix string) *fixture {
	return &fixture{tb: tb, c: c, prefix: prefix, now: testNow}
}

// declare binds queue to exchange under routingKey, as kombu's _queue_bind.
func (f *fixture) declare(exchange, routingKey, queue string) {
	f.tb.Helper()
	require.NoError(f.tb, f.c.SAdd(context.Background(), f.prefix+"_kombu.binding."+exchange,
		routingKey+DefaultSep+DefaultSep+queue).Err())
}

// message is a Celery protocol 2 message as kombu stores it (JSON).
func (f *fixture) message(task, exchange, routingKey string, priority int) string {
	f.id++
	id := "00000000-0000-0000-0000-" + strconv.Itoa(100000000000+f.id)
	body := base64.StdEncoding.EncodeToString([]byte(`[[1], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]`))
	m := map[string]any{
		"body": body, "content-encoding": "utf-8", "content-type": "application/json",
		"headers": map[string]any{"lang": "py", "task": task, "id": id, "shadow": nil, "eta": nil, "expires": nil,
			"retries": 0, "root_id": id, "parent_id": nil, "argsrepr": "(1,)", "kwargsrepr": "{}", "origin": "gen1@host"},
		"properties": map[string]any{"correlation_id": id, "reply_to": "r", "delivery_mode": 2,
			"delivery_info": map[string]any{"exchange": exchange, "routing_key": routingKey},
			"priority":      priority, "body_encoding": "base64", "delivery_tag": "tag-" + id},
	}
	b, err := json.Marshal(m)
	require.NoError(f.tb, err)
	return string(b)
}

// publish pushes n messages onto queue's list for the priority step.
func (f *fixture) publish(queue string, step, n int) {
	f.tb.Helper()
	list := f.prefix + queue
	if step != 0 {
		list += DefaultSep + strconv.Itoa(step)
	}
	msgs := make([]any, n)
	for i := range msgs {
		msgs[i] = f.message("tasks.work", "", queue, step)
	}
	require.NoError(f.tb, f.c.LPush(context.Background(), list, msgs...).Err())
}

// deliver records a message delivered to a worker ago, as kombu's
// QoS.append: the index, then the hash with [message, exchange, routing_key].
func (f *fixture) deliver(tag, exchange, routingKey string, ago time.Duration) {
	f.tb.Helper()
	f.deliverRaw(tag, f.unacked(exchange, routingKey), ago)
}

func (f *fixture) unacked(exchange, routingKey string) string {
	v, err := json.Marshal([]any{json.RawMessage(f.message("tasks.work", exchange, routingKey, 0)), exchange, routingKey})
	require.NoError(f.tb, err)
	return string(v)
}

func (f *fixture) deliverRaw(tag, value string, ago time.Duration) {
	f.tb.Helper()
	ctx := context.Background()
	at := float64(f.now.Add(-ago).UnixNano()) / 1e9
	require.NoError(f.tb, f.c.ZAdd(ctx, f.prefix+"unacked_index", redis.Z{Score: at, Member: tag}).Err())
	require.NoError(f.tb, f.c.HSet(ctx, f.prefix+"unacked", tag, value).Err())
}

// populate writes queues q0000.. each declared on its own exchange (as
// Celery declares a queue), with jobs messages spread over the priority
// steps and unacked messages per queue, delivered a minute apart.
func (f *fixture) populate(queues, jobs, unacked int) {
	f.tb.Helper()
	ctx := context.Background()
	pipe := f.c.Pipeline()
	for i := range queues {
		q := "q" + strconv.Itoa(10000 + i)[1:]
		pipe.SAdd(ctx, f.prefix+"_kombu.binding."+q, q+DefaultSep+DefaultSep+q)
		byStep := map[int][]any{}
		for j := range jobs {
			step := DefaultPrioritySteps[j%len(DefaultPrioritySteps)]
			byStep[step] = append(byStep[step], f.message("tasks.work", "", q, step))
		}
		for step, msgs := range byStep {
			list := f.prefix + q
			if step != 0 {
				list += DefaultSep + strconv.Itoa(step)
			}
			pipe.LPush(ctx, list, msgs...)
		}
		for j := range unacked {
			tag := q + "-" + strconv.Itoa(j)
			pipe.ZAdd(ctx, f.prefix+"unacked_index", redis.Z{Score: float64(f.now.Add(-time.Duration(j) * time.Minute).Unix()), Member: tag})
			pipe.HSet(ctx, f.prefix+"unacked", tag, f.unacked(q, q))
		}
		if pipe.Len() > 1000 {
			_, err := pipe.Exec(ctx)
			require.NoError(f.tb, err)
		}
	}
	_, err := pipe.Exec(ctx)
	require.NoError(f.tb, err)
}
