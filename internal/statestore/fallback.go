// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package statestore // import "github.com/otelcol-jobs/otelcol-jobs/internal/statestore"

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Fallback applies batches to a shared store and, while that store is
// unavailable, to a local one, so data keeps flowing through an outage.
// The outage is logged once when it starts and once when it ends. While it
// lasts, the shared store is tried again with one batch every retryAfter;
// the other batches go straight to local memory without waiting.
//
// Local state is per replica: during an outage replicas count on their own
// and may each raise an alert the shared store would have raised once.
type Fallback struct {
	shared, local Store
	logger        *zap.Logger
	retryAfter    time.Duration
	clock         clockwork.Clock
	outage        func(err error) // nil: not reported

	mu      sync.Mutex
	down    bool
	since   time.Time // start of the outage
	retryAt time.Time // when the next batch probes the shared store
	probing bool      // a probe is in flight
}

// WithFallback returns a store that uses shared, and local while shared is
// unavailable (its Apply errors wrap ErrUnavailable). It owns both stores.
func WithFallback(shared, local Store, logger *zap.Logger, retryAfter time.Duration, opts ...Option) *Fallback {
	o := newOptions(opts)
	return &Fallback{
		shared:     shared,
		local:      local,
		logger:     logger,
		retryAfter: retryAfter,
		clock:      o.clock,
		outage:     o.outage,
	}
}

// Apply implements Store. It returns an error only for an invalid batch,
// ops the shared store refused (e.g. a key of another type) or a context the
// caller cancelled; never for an outage.
func (f *Fallback) Apply(ctx context.Context, b *Batch) error {
	if err := b.validate(); err != nil {
		return err
	}
	useShared, probe := f.route()
	if useShared {
		err := f.shared.Apply(ctx, b)
		switch {
		case !errors.Is(err, ErrUnavailable):
			if probe {
				f.recovered()
			}
			return err
		case ctx.Err() != nil:
			// The caller gave up (e.g. shutdown): not an outage.
			if probe {
				f.failed(err, probe)
			}
			return err
		}
		f.failed(err, probe)
		b.clearResults()
	}
	return f.local.Apply(ctx, b)
}

// route says whether this batch goes to the shared store and whether it is
// the probe of an outage.
func (f *Fallback) route() (useShared, probe bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !f.down:
		return true, false
	case f.probing || f.clock.Now().Before(f.retryAt):
		return false, false
	}
	f.probing = true
	return true, true
}

func (f *Fallback) failed(err error, probe bool) {
	if f.startOutage(err, probe) && f.outage != nil {
		f.outage(err)
	}
}

// startOutage records a failed batch and reports whether it started an
// outage.
func (f *Fallback) startOutage(err error, probe bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.clock.Now()
	f.retryAt = now.Add(f.retryAfter)
	if probe {
		f.probing = false
		f.logger.Debug("Shared state store still unavailable", zap.Error(err))
		return false
	}
	if f.down {
		return false // a batch sent before the outage was noticed
	}
	f.down, f.since = true, now
	f.logger.Warn("Shared state store unavailable: keeping state in local memory until it is back; "+
		"replicas may each raise an alert meanwhile",
		zap.Error(err), zap.Duration("retry_interval", f.retryAfter))
	return true
}

func (f *Fallback) recovered() {
	f.mu.Lock()
	f.down, f.probing = false, false
	f.logger.Info("Shared state store available again: state is shared again",
		zap.Duration("outage", f.clock.Since(f.since)))
	f.mu.Unlock()
	if f.outage != nil {
		f.outage(nil)
	}
}

// Stats implements Store: the local store's size, and whether it stands in
// for the shared one right now.
func (f *Fallback) Stats() Stats {
	s := f.local.Stats()
	f.mu.Lock()
	s.Fallback = f.down
	f.mu.Unlock()
	return s
}

// Close implements Store.
func (f *Fallback) Close() error { return errors.Join(f.shared.Close(), f.local.Close()) }
