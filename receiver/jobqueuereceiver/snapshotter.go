// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/asynq"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/bullmq"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/celery"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/resque"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rq"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Aliases so that callers outside the receiver (jobqctl) can name what a
// Snapshotter returns; the types live in internal/snapshot.
type (
	Snapshot   = snapshot.Snapshot
	Queue      = snapshot.Queue
	StateCount = snapshot.StateCount
	Totals     = snapshot.Totals
	Process    = snapshot.Process
	ClassCount = snapshot.ClassCount
	Problem    = snapshot.Problem
)

// Snapshotter takes snapshots of the job system a Config points at. The
// receiver and jobqctl share it, so both see exactly the same figures.
type Snapshotter struct {
	reader  snapshot.Reader
	client  *redis.Client // nil when the reader was injected (tests)
	counter redisclient.Counter
	timeout time.Duration

	// mu serialises snapshots so that the round-trip counter belongs to one
	// snapshot at a time.
	mu sync.Mutex
}

// NewSnapshotter builds the Redis client and the job system's reader. It does
// not connect: an absent Redis shows up as an error from Snapshot, not here.
// cfg is expected to be valid (see Config.Validate).
func NewSnapshotter(ctx context.Context, cfg *Config) (*Snapshotter, error) {
	return newSnapshotterWithClock(ctx, cfg, nil)
}

// newSnapshotterWithClock is NewSnapshotter with the reader's clock (nil:
// time.Now), so that tests can move time past thresholds and cool-downs.
func newSnapshotterWithClock(ctx context.Context, cfg *Config, now func() time.Time) (*Snapshotter, error) {
	sel, err := cfg.Queues.selection()
	if err != nil {
		return nil, err
	}
	newReader, err := readerFor(cfg.System)
	if err != nil {
		return nil, err
	}
	client, err := cfg.Config.NewClient(ctx, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	s := &Snapshotter{client: client, timeout: cfg.Timeout}
	client.AddHook(&s.counter)
	s.reader = newReader(client, cfg, sel, now)
	return s, nil
}

// newSnapshotterWithReader wraps a reader that needs no Redis client.
func newSnapshotterWithReader(r snapshot.Reader, timeout time.Duration) *Snapshotter {
	return &Snapshotter{reader: r, timeout: timeout}
}

// Snapshot reads the job system once, bounded by the configured timeout, and
// records the Redis round trips and commands it cost.
func (s *Snapshotter) Snapshot(ctx context.Context) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	s.counter.Reset()
	snap, err := s.reader.Snapshot(ctx)
	if err != nil {
		if isTimeout(err) {
			return nil, fmt.Errorf("snapshot took longer than the %s timeout: %w", s.timeout, err)
		}
		return nil, err
	}
	snap.RoundTrips = s.counter.RoundTrips()
	snap.Commands = s.counter.Commands()
	return snap, nil
}

// Close releases the Redis client. It is safe to call more than once.
func (s *Snapshotter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client = nil
	return err
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// readerFor returns the constructor of the system's reader.
func readerFor(system string) (func(redis.Cmdable, *Config, snapshot.Selection, func() time.Time) snapshot.Reader, error) {
	switch system {
	case SystemSidekiq:
		return newSidekiqReader, nil
	case SystemBullMQ:
		return newBullMQReader, nil
	case SystemCelery:
		return newCeleryReader, nil
	case SystemResque:
		return newResqueReader, nil
	case SystemAsynq:
		return newAsynqReader, nil
	case SystemRQ:
		return newRQReader, nil
	}
	return nil, fmt.Errorf("system: %q has no reader", system)
}

func newBullMQReader(client redis.Cmdable, cfg *Config, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	opts := bullmq.Options{
		Prefix:            cfg.Namespace,
		Names:             cfg.Queues.Names,
		DiscoveryInterval: cfg.DiscoveryInterval,
		Selection:         sel,
		StalledAfter:      cfg.StalledAfter,
		ReadWorkers:       cfg.ClientList,
		Now:               now,
	}
	if cfg.Metrics.JobqueueJobsByClass.Enabled {
		opts.ByClassMaxEntries = cfg.ByClass.MaxEntries
	}
	return bullmq.NewReader(client, opts)
}

func newSidekiqReader(client redis.Cmdable, cfg *Config, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	opts := sidekiq.Options{
		Namespace:    cfg.Namespace,
		Selection:    sel,
		StalledAfter: cfg.StalledAfter,
		Now:          now,
	}
	// The breakdown costs Redis work, so it is read only when reported.
	if cfg.Metrics.JobqueueJobsByClass.Enabled {
		opts.ByClassMaxEntries = cfg.ByClass.MaxEntries
	}
	return sidekiq.NewReader(client, opts)
}

// newCeleryReader reads under kombu's global_keyprefix (the namespace).
func newCeleryReader(client redis.Cmdable, cfg *Config, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	opts := celery.Options{
		Prefix:            cfg.Namespace,
		Names:             cfg.Queues.Names,
		DiscoveryInterval: cfg.DiscoveryInterval,
		PrioritySteps:     cfg.Celery.PrioritySteps,
		Sep:               cfg.Celery.Sep,
		Selection:         sel,
		StalledAfter:      cfg.StalledAfter,
		Now:               now,
	}
	if cfg.Celery.Results.Enabled {
		opts.Results = cfg.Celery.Results.MaxKeys
	}
	return celery.NewReader(client, opts)
}

// newResqueReader reads under the namespace Resque uses by default when
// none is configured.
func newResqueReader(client redis.Cmdable, cfg *Config, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	return resque.NewReader(client, resque.Options{
		Namespace:    cfg.Namespace,
		Selection:    sel,
		StalledAfter: cfg.StalledAfter,
		Now:          now,
	})
}

// newAsynqReader reads asynq's fixed "asynq:" keys (no namespace).
func newAsynqReader(client redis.Cmdable, cfg *Config, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	return asynq.NewReader(client, asynq.Options{
		Selection:    sel,
		StalledAfter: cfg.StalledAfter,
		Now:          now,
	})
}

// newRQReader reads RQ's fixed "rq:" keys (no namespace).
func newRQReader(client redis.Cmdable, cfg *Config, sel snapshot.Selection, now func() time.Time) snapshot.Reader {
	return rq.NewReader(client, rq.Options{
		Selection:    sel,
		StalledAfter: cfg.StalledAfter,
		Now:          now,
	})
}
