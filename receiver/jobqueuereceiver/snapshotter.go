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
	store   store // nil when the reader was injected (tests)
	timeout time.Duration

	// mu serialises snapshots so that the round-trip counter belongs to one
	// snapshot at a time.
	mu sync.Mutex
}

// store is the client of the job system's store (Redis or PostgreSQL) as a
// Snapshotter needs it.
type store interface {
	counter() roundTripCounter
	// explain adds to an error what the user should check.
	explain(err error) error
	// retryable says whether a failed snapshot may be taken again at once
	// on a new connection (a dropped PostgreSQL session).
	retryable(ctx context.Context, err error) bool
	close() error
}

// roundTripCounter is redisclient.Counter or pgclient.Counter.
type roundTripCounter interface {
	Reset()
	RoundTrips() int64
	Commands() int64
}

// NewSnapshotter builds the store's client and the job system's reader. It
// does not connect: an absent server shows up as an error from Snapshot,
// not here. cfg is expected to be valid (see Config.Validate).
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
	if cfg.IsPostgres() {
		return newPostgresSnapshotter(ctx, cfg, sel, now)
	}
	newReader, err := readerFor(cfg.System)
	if err != nil {
		return nil, err
	}
	client, err := cfg.Config.NewClient(ctx, cfg.Timeout)
	if err != nil {
		return nil, err
	}
	rs := &redisStore{client: client}
	client.AddHook(&rs.count)
	return &Snapshotter{reader: newReader(client, cfg, sel, now), store: rs, timeout: cfg.Timeout}, nil
}

// newSnapshotterWithReader wraps a reader that needs no client.
func newSnapshotterWithReader(r snapshot.Reader, timeout time.Duration) *Snapshotter {
	return &Snapshotter{reader: r, timeout: timeout}
}

// Snapshot reads the job system once, bounded by the configured timeout, and
// records the round trips and commands (statements) it cost.
func (s *Snapshotter) Snapshot(ctx context.Context) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	if s.store == nil {
		return s.snapshot(ctx)
	}
	counter := s.store.counter()
	counter.Reset()
	snap, err := s.snapshot(ctx)
	if err != nil && s.store.retryable(ctx, err) {
		snap, err = s.snapshot(ctx)
	}
	if err != nil {
		return nil, s.store.explain(err)
	}
	snap.RoundTrips = counter.RoundTrips()
	snap.Commands = counter.Commands()
	return snap, nil
}

func (s *Snapshotter) snapshot(ctx context.Context) (*Snapshot, error) {
	snap, err := s.reader.Snapshot(ctx)
	if err != nil && isTimeout(err) {
		return nil, fmt.Errorf("snapshot took longer than the %s timeout: %w", s.timeout, err)
	}
	return snap, err
}

// Close releases the client. It is safe to call more than once.
func (s *Snapshotter) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.store == nil {
		return nil
	}
	err := s.store.close()
	s.store = nil
	return err
}

// redisStore is a Redis-backed system's client.
type redisStore struct {
	client *redis.Client
	count  redisclient.Counter
}

func (r *redisStore) counter() roundTripCounter           { return &r.count }
func (*redisStore) explain(err error) error               { return err }
func (*redisStore) retryable(context.Context, error) bool { return false }
func (r *redisStore) close() error                        { return r.client.Close() }

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
