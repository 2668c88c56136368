// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"context"
	"sort"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// readRegistries runs round trip 1: the queue and process registries, the
// per-state counts, the totals and, when asked, the newest retry/dead
// entries. Everything is global in Sidekiq, so nothing here depends on the
// number of queues.
func (sc *scrape) readRegistries(ctx context.Context) (registries, error) {
	k := &sc.r.keys
	pipe := sc.r.client.Pipeline()
	queueCount := pipe.SCard(ctx, k.queues)
	queues := pipe.SRandMemberN(ctx, k.queues, maxQueueNames)
	processCount := pipe.SCard(ctx, k.processes)
	processes := pipe.SRandMemberN(ctx, k.processes, maxProcesses)
	scheduled := pipe.ZCard(ctx, k.schedule)
	retries := pipe.ZCard(ctx, k.retry)
	dead := pipe.ZCard(ctx, k.dead)
	processed := pipe.Get(ctx, k.processed)
	failed := pipe.Get(ctx, k.failed)
	var retryEntries, deadEntries *redis.StringSliceCmd
	if n := int64(sc.r.opts.ByClassMaxEntries); n > 0 {
		retryEntries = pipe.ZRevRange(ctx, k.retry, 0, n-1)
		deadEntries = pipe.ZRevRange(ctx, k.dead, 0, n-1)
	}
	cmds, err := pipe.Exec(ctx)
	if err := redisread.Failure(system, "read registries", sc.r.from, cmds, err); err != nil {
		return registries{}, err
	}

	var reg registries
	sc.snap.QueuesDiscovered = int(queueCount.Val())
	reg.queues = sc.problems.Members(queues, queueCount, k.queues)
	reg.identities = sc.problems.Members(processes, processCount, k.processes)
	sort.Strings(reg.identities)

	for _, c := range [...]struct {
		state string
		cmd   *redis.IntCmd
		key   string
	}{
		{snapshot.StateScheduled, scheduled, k.schedule},
		{snapshot.StateRetry, retries, k.retry},
		{snapshot.StateDead, dead, k.dead},
	} {
		if sc.problems.WrongType(c.cmd, c.key) {
			continue
		}
		sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: c.state, Count: c.cmd.Val()})
	}

	p, okP := sc.problems.Counter(processed, k.processed)
	f, okF := sc.problems.Counter(failed, k.failed)
	if okP && okF {
		sc.snap.Totals = []snapshot.Totals{{Processed: p, Failed: f}}
	}

	if retryEntries != nil {
		var cells snapshot.ClassCells
		sc.countClasses(&cells, snapshot.StateRetry, retryEntries, k.retry)
		sc.countClasses(&cells, snapshot.StateDead, deadEntries, k.dead)
		sc.snap.ByClass = cells.List()
	}
	return reg, nil
}

type queueCmds struct {
	key    string
	size   *redis.IntCmd
	oldest *redis.StringCmd
}

type processCmds struct {
	hashKey, workKey, workersKey string
	hash                         *redis.SliceCmd
	work, workers                *redis.MapStringStringCmd
}

// Fields read from a process hash, in HMGET order. Sidekiq also writes
// rtt_us, which no figure of the snapshot uses.
var processFields = []string{"info", "busy", "beat", "quiet", "rss", "concurrency"}

// readQueuesAndProcesses runs round trip 2: size and oldest job of every
// selected queue, hash and in-flight work of every registered process.
func (sc *scrape) readQueuesAndProcesses(ctx context.Context, reg registries) error {
	k := &sc.r.keys
	kept, dropped := sc.r.opts.Selection.Apply(reg.queues)
	sc.snap.QueuesDropped = dropped

	queueKeys, workersKeys := k.perQueueAndProcess(kept, reg.identities)
	pipe := sc.r.client.Pipeline()
	qcmds := make([]queueCmds, len(kept))
	for i, key := range queueKeys {
		qcmds[i] = queueCmds{key: key, size: pipe.LLen(ctx, key), oldest: pipe.LIndex(ctx, key, -1)}
	}
	pcmds := make([]processCmds, len(reg.identities))
	for i, workers := range workersKeys {
		c := processCmds{
			hashKey:    workers[:len(workers)-len(":workers")],
			workKey:    workers[:len(workers)-len("ers")],
			workersKey: workers,
		}
		c.hash = pipe.HMGet(ctx, c.hashKey, processFields...)
		c.work = pipe.HGetAll(ctx, c.workKey)
		c.workers = pipe.HGetAll(ctx, c.workersKey)
		pcmds[i] = c
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err := redisread.Failure(system, "read queues and processes", sc.r.from, cmds, err); err != nil {
			return err
		}
	}

	// In-flight jobs are attributed to the reported queues by the name they
	// carry: the raw one, not the bounded one reported.
	queues := make([]snapshot.Queue, 0, len(kept))
	byName := make(map[string]*snapshot.Queue, len(kept))
	for i, raw := range kept {
		if q, ok := sc.queue(raw, qcmds[i]); ok {
			queues = append(queues, q) // within capacity: earlier pointers stay valid
			byName[raw] = &queues[len(queues)-1]
		}
	}
	sc.snap.Queues = queues
	processes := make([]snapshot.Process, 0, len(reg.identities))
	var busy int64
	for i, id := range reg.identities {
		c := &pcmds[i]
		p, live := sc.process(id, c.hashKey, c.hash)
		if !live {
			continue
		}
		processes = append(processes, p)
		busy += p.Busy
		sc.work(byName, c.work, c.workKey)
		sc.work(byName, c.workers, c.workersKey)
	}
	sc.snap.Processes = processes
	// Like Sidekiq's Workers#size: the busy counts the processes report.
	sc.snap.Jobs = append(sc.snap.Jobs, snapshot.StateCount{State: snapshot.StateBusy, Count: busy})
	return nil
}
