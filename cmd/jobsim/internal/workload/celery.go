// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// kombuSep is kombu's separator in binding members and priority lists.
	kombuSep = "\x06\x16"
	// celeryPrefetchMultiplier is worker_prefetch_multiplier's default: a
	// worker holds up to this many unacked messages per pool slot.
	celeryPrefetchMultiplier = 4
	// celeryMaxRetries and celeryRetryDelay are a task's max_retries and
	// default_retry_delay defaults (self.retry without arguments).
	celeryMaxRetries = 3
	celeryRetryDelay = 3 * time.Minute
	// kombuVisibilityTimeout is the Redis transport's default: an unacked
	// message delivered longer ago is restored to its queue by any worker.
	kombuVisibilityTimeout = time.Hour
)

// kombuPrioritySteps are the Redis transport's default priority steps; the
// lists of a queue are consumed in this order.
var kombuPrioritySteps = []int{0, 3, 6, 9}

// Celery plays a Scenario as a Celery 5.2 deployment on kombu's Redis
// transport against one Redis database, writing the keys kombu writes, with
// the same commands: a producer declares the task's queue (SADD
// _kombu.binding.<q>) and publishes (LPUSH <q>); a worker binds its queues
// and its pidbox mailbox (SADD _kombu.binding.celery.pidbox) when it starts,
// fetches (RPOP of each priority list, in its queues' order) up to its
// prefetch count into `unacked` (ZADD unacked_index, HSET unacked), acks
// (ZREM, HDEL) and, on a warm shutdown, restores what it holds (RPUSH back,
// redelivered) and removes its mailbox binding.
//
// Scenario notions map as follows: a Process is a worker node
// celery@<hostname> with a prefork pool of Concurrency slots and kombu's
// default prefetch (4 messages per slot); tasks are acks_late, so a running
// task stays unacked until it ends; Retry is the task's max_retries
// (RetryDefault: Celery's 3), each retry a new message published with a
// countdown of default_retry_delay (3 min) that a consuming worker fetches
// at once and holds unacked until due (it does not take a pool slot
// meanwhile, and raises the prefetch count by one); a task out of retries
// fails for good (no dead set). ScheduledShare jobs are published with a
// countdown between ScheduleMin and ScheduleMax, held the same way. Workers
// write no heartbeat or counter in Redis: Heartbeat and PollInterval play no
// part; quieting is cancel_consumer (nothing in Redis says so); a crash
// (kill -9) leaves the worker's mailbox binding and its unacked messages
// behind, which a live worker restores once their delivery is older than
// the visibility timeout (1 h). CleanupInterval plays no part.
//
// Report: Scheduled counts countdown publishes, Retried the retry
// publishes, Discarded the tasks that failed for good, Requeued the
// messages restored; StatProcessed and StatFailed stay 0 (Celery keeps no
// counters in the broker).
//
// It is not safe for concurrent use.
type Celery struct {
	rdb     *redis.Client
	sc      Scenario
	rng     *rand.Rand
	classes map[string]*Class
	workers []*celeryWorker

	start, last time.Time
	declared    map[string]bool
}

// celeryWorker is what one worker node keeps in memory.
type celeryWorker struct {
	spec    *Process
	node    string
	held    []*celeryDelivery // unacked: reserved, ETA-held and running
	quiet   bool
	waiting bool // not started yet
	gone    bool // crashed or stopped
}

// celeryDelivery is one message a worker fetched.
type celeryDelivery struct {
	tag       string
	queue     string
	raw       string // the message as it was in the list
	class     *Class
	retries   int
	deliverAt time.Time
	eta       time.Time // zero: none
	running   bool
	finishAt  time.Time // zero while not running, or never (a long job)
}

// NewCelery prepares a simulator that writes to rdb. Nothing is written
// before the first Step.
func NewCelery(rdb *redis.Client, sc Scenario, seed uint64) (*Celery, error) {
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid scenario: %w", err)
	}
	c := &Celery{
		rdb:      rdb,
		sc:       sc,
		rng:      rand.New(rand.NewPCG(seed, seed^0xce1e)),
		classes:  make(map[string]*Class, len(sc.Classes)),
		declared: map[string]bool{},
	}
	for i := range c.sc.Classes {
		c.classes[c.sc.Classes[i].Name] = &c.sc.Classes[i]
	}
	return c, nil
}

// celeryMessage is a task message (protocol 2) as kombu stores it.
type celeryMessage struct {
	Body            string         `json:"body"`
	ContentEncoding string         `json:"content-encoding"`
	ContentType     string         `json:"content-type"`
	Headers         celeryHeaders  `json:"headers"`
	Properties      celeryMsgProps `json:"properties"`
}

type celeryHeaders struct {
	Lang        string  `json:"lang"`
	Task        string  `json:"task"`
	ID          string  `json:"id"`
	ETA         *string `json:"eta"`
	Expires     *string `json:"expires"`
	Retries     int     `json:"retries"`
	RootID      string  `json:"root_id"`
	ArgsRepr    string  `json:"argsrepr"`
	Origin      string  `json:"origin"`
	Redelivered bool    `json:"redelivered,omitempty"`
}

type celeryMsgProps struct {
	CorrelationID string            `json:"correlation_id"`
	DeliveryMode  int               `json:"delivery_mode"`
	DeliveryInfo  map[string]string `json:"delivery_info"`
	Priority      int               `json:"priority"`
	BodyEncoding  string            `json:"body_encoding"`
	DeliveryTag   string            `json:"delivery_tag"`
}

// uuid is a random UUID in its text form, as Celery's task and delivery ids.
func (c *Celery) uuid() string {
	h := randomHex(c.rng, 16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// message encodes a task of class cl for queue, as apply_async publishes it
// (through the default exchange, routed by the queue's name).
func (c *Celery) message(cl *Class, queue, id string, retries int, eta time.Time) string {
	args := `[[` + strconv.Itoa(c.rng.IntN(1_000_000)) + `], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]`
	m := celeryMessage{
		Body:            base64.StdEncoding.EncodeToString([]byte(args)),
		ContentEncoding: "utf-8",
		ContentType:     "application/json",
		Headers:         celeryHeaders{Lang: "py", Task: cl.Name, ID: id, Retries: retries, RootID: id, ArgsRepr: "(1,)", Origin: "gen1@web"},
		Properties: celeryMsgProps{
			CorrelationID: id, DeliveryMode: 2, BodyEncoding: "base64", DeliveryTag: c.uuid(),
			DeliveryInfo: map[string]string{"exchange": "", "routing_key": queue},
		},
	}
	if !eta.IsZero() {
		s := eta.UTC().Format("2006-01-02T15:04:05.000000+00:00")
		m.Headers.ETA = &s
	}
	return mustJSON(m)
}

// declare binds queue as kombu's queue_declare + queue_bind do (the
// queue's own direct exchange), once per simulator like kombu's cache.
func (c *Celery) declare(ctx context.Context, pipe redis.Pipeliner, queue string) {
	if c.declared[queue] {
		return
	}
	c.declared[queue] = true
	pipe.SAdd(ctx, "_kombu.binding."+queue, queue+kombuSep+kombuSep+queue)
}

// Step advances the simulation to now: workers start, crash or go quiet,
// running tasks end (acked, retried or failed), held ETA tasks start, clients
// publish, workers fetch up to their prefetch count, and expired unacked
// messages are restored. The first Step also seeds the backlogs, the
// workers and the long jobs.
func (c *Celery) Step(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	if c.start.IsZero() {
		if err := c.begin(ctx, now, &rep); err != nil {
			return rep, err
		}
	}
	dt := min(max(now.Sub(c.last), 0), maxStep)
	c.last = now
	if err := c.lifecycle(ctx, now); err != nil {
		return rep, fmt.Errorf("start workers: %w", err)
	}
	if err := c.finish(ctx, now, &rep); err != nil {
		return rep, fmt.Errorf("finish tasks: %w", err)
	}
	if err := c.publish(ctx, now, dt, &rep); err != nil {
		return rep, fmt.Errorf("publish: %w", err)
	}
	if err := c.fetch(ctx, now, &rep); err != nil {
		return rep, fmt.Errorf("fetch: %w", err)
	}
	if err := c.restoreVisible(ctx, now, &rep); err != nil {
		return rep, fmt.Errorf("restore visible: %w", err)
	}
	return rep, nil
}

// Stop shuts the live workers down warmly: each restores the messages it
// holds to their queues (running acks_late tasks included) and removes its
// mailbox binding.
func (c *Celery) Stop(ctx context.Context, now time.Time) (Report, error) {
	var rep Report
	pipe := c.rdb.Pipeline()
	for _, w := range c.workers {
		if w.gone || w.waiting {
			continue
		}
		for _, d := range w.held {
			c.restore(ctx, pipe, d)
			rep.Requeued++
		}
		w.held, w.gone = nil, true
		pipe.SRem(ctx, "_kombu.binding.celery.pidbox", kombuSep+kombuSep+w.node+".celery.pidbox")
	}
	if pipe.Len() == 0 {
		return rep, nil
	}
	_, err := pipe.Exec(ctx)
	return rep, err
}

// begin seeds the backlogs and starts the workers (those not starting
// later), with their long jobs running.
func (c *Celery) begin(ctx context.Context, now time.Time, rep *Report) error {
	c.start, c.last = now, now
	pipe := c.rdb.Pipeline()
	for _, bl := range c.sc.Backlogs {
		cl := c.classes[bl.Class]
		c.declare(ctx, pipe, cl.Queue)
		for range bl.Jobs {
			pipe.LPush(ctx, cl.Queue, c.message(cl, cl.Queue, c.uuid(), 0, time.Time{}))
		}
		rep.Enqueued += bl.Jobs
	}
	for i := range c.sc.Processes {
		spec := &c.sc.Processes[i]
		w := &celeryWorker{spec: spec, node: "celery@" + spec.Hostname, waiting: spec.StartAfter > 0}
		c.workers = append(c.workers, w)
		if w.waiting {
			continue
		}
		c.startWorker(ctx, pipe, w)
		if lj := spec.LongJob; lj != nil {
			cl := c.classes[lj.Class]
			c.declare(ctx, pipe, cl.Queue)
			d := c.deliver(ctx, pipe, w, cl.Queue, c.message(cl, cl.Queue, c.uuid(), 0, time.Time{}), now.Add(-lj.RunningFor))
			d.running = true
			if lj.FinishAfter > 0 {
				d.finishAt = now.Add(lj.FinishAfter)
			}
			rep.Enqueued++
			rep.Fetched++
		}
	}
	_, err := pipe.Exec(ctx)
	return err
}

// startWorker binds the worker's queues and its pidbox mailbox, as a
// worker's consumer does when it starts.
func (c *Celery) startWorker(ctx context.Context, pipe redis.Pipeliner, w *celeryWorker) {
	for _, q := range w.spec.Queues {
		c.declare(ctx, pipe, q)
	}
	pipe.SAdd(ctx, "_kombu.binding.celery.pidbox", kombuSep+kombuSep+w.node+".celery.pidbox")
}

// lifecycle starts, crashes and quiets workers whose time has come.
func (c *Celery) lifecycle(ctx context.Context, now time.Time) error {
	elapsed := now.Sub(c.start)
	pipe := c.rdb.Pipeline()
	for _, w := range c.workers {
		if w.waiting && elapsed >= w.spec.StartAfter {
			w.waiting = false
			c.startWorker(ctx, pipe, w)
		}
		if w.gone || w.waiting {
			continue
		}
		if w.spec.CrashAfter > 0 && elapsed >= w.spec.CrashAfter {
			w.gone = true // its mailbox binding and unacked messages stay
			continue
		}
		if w.spec.QuietAfter > 0 && elapsed >= w.spec.QuietAfter {
			w.quiet = true
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// deliver records a fetched message as kombu's QoS.append does.
func (c *Celery) deliver(ctx context.Context, pipe redis.Pipeliner, w *celeryWorker, queue, raw string, at time.Time) *celeryDelivery {
	d := &celeryDelivery{tag: c.uuid(), queue: queue, raw: raw, deliverAt: at}
	var m celeryMessage
	if err := json.Unmarshal([]byte(raw), &m); err == nil {
		d.class, d.retries = c.classes[m.Headers.Task], m.Headers.Retries
		if m.Headers.ETA != nil {
			d.eta, _ = time.Parse("2006-01-02T15:04:05.000000+00:00", *m.Headers.ETA)
		}
	}
	pipe.ZAdd(ctx, "unacked_index", redis.Z{Score: float64(at.UnixMicro()) / 1e6, Member: d.tag})
	pipe.HSet(ctx, "unacked", d.tag, `[`+raw+`, "", "`+queue+`"]`)
	w.held = append(w.held, d)
	return d
}

// ack removes a delivery as kombu's QoS.ack does.
func ack(ctx context.Context, pipe redis.Pipeliner, d *celeryDelivery) {
	pipe.ZRem(ctx, "unacked_index", d.tag)
	pipe.HDel(ctx, "unacked", d.tag)
}

// restore puts a delivery back onto its queue's consuming end, marked
// redelivered, as kombu's restore_by_tag does.
func (c *Celery) restore(ctx context.Context, pipe redis.Pipeliner, d *celeryDelivery) {
	ack(ctx, pipe, d)
	raw := d.raw
	var m celeryMessage
	if json.Unmarshal([]byte(raw), &m) == nil {
		m.Headers.Redelivered = true
		raw = mustJSON(m)
	}
	pipe.RPush(ctx, d.queue, raw)
}

// finish ends the running tasks due by now (acked; a failure publishes its
// retry first) and starts held ETA tasks that came due.
func (c *Celery) finish(ctx context.Context, now time.Time, rep *Report) error {
	pipe := c.rdb.Pipeline()
	for _, w := range c.workers {
		if w.gone || w.waiting {
			continue
		}
		kept := w.held[:0]
		for _, d := range w.held {
			if !d.running || d.finishAt.IsZero() || d.finishAt.After(now) {
				kept = append(kept, d)
				continue
			}
			if d.class != nil && c.rng.Float64() < d.class.FailRate {
				rep.Failed++
				if d.retries < c.maxRetries(d.class) {
					c.declare(ctx, pipe, d.queue)
					pipe.LPush(ctx, d.queue, c.message(d.class, d.queue, c.uuid(), d.retries+1, now.Add(celeryRetryDelay)))
					rep.Retried++
				} else {
					rep.Discarded++
				}
			} else {
				rep.Succeeded++
			}
			ack(ctx, pipe, d)
		}
		w.held = kept
		c.startDue(w, now)
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (c *Celery) maxRetries(cl *Class) int {
	switch cl.Retry {
	case RetryDefault:
		return celeryMaxRetries
	case RetryNever:
		return 0
	}
	return int(cl.Retry)
}

// startDue gives free pool slots to held messages that are due, oldest
// delivery first.
func (c *Celery) startDue(w *celeryWorker, now time.Time) {
	running := 0
	for _, d := range w.held {
		if d.running {
			running++
		}
	}
	for _, d := range w.held {
		if running >= w.spec.Concurrency {
			return
		}
		if d.running || d.eta.After(now) {
			continue
		}
		d.running, d.finishAt = true, now.Add(runTime(c.rng, d.class))
		running++
	}
}

// publish sends the tasks clients published over the last dt; a share of
// them with a countdown.
func (c *Celery) publish(ctx context.Context, now time.Time, dt time.Duration, rep *Report) error {
	elapsed := now.Sub(c.start).Seconds()
	pipe := c.rdb.Pipeline()
	for i := range c.sc.Classes {
		cl := &c.sc.Classes[i]
		n := poisson(c.rng, cl.rateAt(elapsed)*dt.Seconds())
		if n == 0 {
			continue
		}
		c.declare(ctx, pipe, cl.Queue)
		for range n {
			var eta time.Time
			if cl.ScheduledShare > 0 && c.rng.Float64() < cl.ScheduledShare {
				span := int64(cl.ScheduleMax - cl.ScheduleMin)
				eta = now.Add(cl.ScheduleMin + time.Duration(c.rng.Int64N(span+1)))
				rep.Scheduled++
			} else {
				rep.Enqueued++
			}
			pipe.LPush(ctx, cl.Queue, c.message(cl, cl.Queue, c.uuid(), 0, eta))
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

// fetch has every live, consuming worker take messages while it holds
// fewer than its prefetch count (plus one per held ETA task, as Celery
// raises it), RPOPping each queue's priority lists in order, then start
// what is due. Workers poll on their own clocks, so they take their turns
// in a random order.
func (c *Celery) fetch(ctx context.Context, now time.Time, rep *Report) error {
	empty := map[string]bool{} // lists found empty this step
	pipe := c.rdb.Pipeline()
	for _, i := range c.rng.Perm(len(c.workers)) {
		w := c.workers[i]
		if w.gone || w.waiting || w.quiet {
			continue
		}
		for len(w.held) < c.prefetch(w, now) {
			queue, raw, ok, err := c.pop(ctx, w, empty)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			c.deliver(ctx, pipe, w, queue, raw, now)
			rep.Fetched++
		}
		c.startDue(w, now)
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err := pipe.Exec(ctx)
	return err
}

func (c *Celery) prefetch(w *celeryWorker, now time.Time) int {
	n := celeryPrefetchMultiplier * w.spec.Concurrency
	for _, d := range w.held {
		if d.eta.After(now) {
			n++
		}
	}
	return n
}

// pop takes the next message of the worker's queues, as the Redis
// transport's BRPOP over every priority list of each queue.
func (c *Celery) pop(ctx context.Context, w *celeryWorker, empty map[string]bool) (queue, raw string, ok bool, err error) {
	for _, q := range w.spec.Queues {
		for _, step := range kombuPrioritySteps {
			list := q
			if step != 0 {
				list += kombuSep + strconv.Itoa(step)
			}
			if empty[list] {
				continue
			}
			raw, err := c.rdb.RPop(ctx, list).Result()
			if errors.Is(err, redis.Nil) {
				empty[list] = true
				continue
			}
			if err != nil {
				return "", "", false, err
			}
			return q, raw, true, nil
		}
	}
	return "", "", false, nil
}

// restoreVisible has a live worker restore the unacked messages delivered
// more than the visibility timeout ago that no live worker holds (a crashed
// worker's), as kombu's QoS.restore_visible does.
func (c *Celery) restoreVisible(ctx context.Context, now time.Time, rep *Report) error {
	live := false
	for _, w := range c.workers {
		live = live || (!w.gone && !w.waiting)
	}
	if !live {
		return nil
	}
	var expired []*celeryDelivery
	for _, w := range c.workers {
		if !w.gone {
			continue
		}
		kept := w.held[:0]
		for _, d := range w.held {
			if now.Sub(d.deliverAt) > kombuVisibilityTimeout {
				expired = append(expired, d)
			} else {
				kept = append(kept, d)
			}
		}
		w.held = kept
	}
	if len(expired) == 0 {
		return nil
	}
	sort.Slice(expired, func(i, j int) bool { return expired[i].deliverAt.Before(expired[j].deliverAt) })
	pipe := c.rdb.Pipeline()
	for _, d := range expired {
		c.restore(ctx, pipe, d)
		rep.Requeued++
	}
	_, err := pipe.Exec(ctx)
	return err
}
