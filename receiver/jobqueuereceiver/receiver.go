// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
)

// jobQueueReceiver is one job_queue receiver. A job_queue/<name> named in a
// metrics and in a logs pipeline is one instance (see receivers), so one
// ticker takes one snapshot per interval and both signals come from it:
// metrics for the metrics pipeline, alert records for the logs pipeline.
//
// The ticker is a scraperhelper metrics controller, which brings the
// collection interval, initial delay, timeout and scraper telemetry; its
// scrape also evaluates the alert rules and hands the records to the logs
// consumer. In a logs-only pipeline the controller's (empty) metrics go
// nowhere. A second controller for logs would read Redis twice.
type jobQueueReceiver struct {
	cfg            *Config
	set            receiver.Settings
	newSnapshotter func(context.Context) (*Snapshotter, error)
	opts           []scraperhelper.ControllerOption

	// The pipelines' consumers, set by the factory before Start; nil when
	// the receiver is not in a pipeline of that signal.
	metrics consumer.Metrics
	logs    consumer.Logs

	// The collector starts and stops the instance once per pipeline.
	startOnce, shutdownOnce sync.Once
	controller              receiver.Metrics
	release                 func()
}

// newReceiver is the seam for tests: they pass a Snapshotter over a fake
// reader and, through opts, a ticker channel.
func newReceiver(
	set receiver.Settings,
	cfg *Config,
	newSnapshotter func(context.Context) (*Snapshotter, error),
	opts ...scraperhelper.ControllerOption,
) *jobQueueReceiver {
	return &jobQueueReceiver{cfg: cfg, set: set, newSnapshotter: newSnapshotter, opts: opts, release: func() {}}
}

// Start builds the scraper for the pipelines the receiver is in and starts
// the controller; once, however many pipelines start it.
func (r *jobQueueReceiver) Start(ctx context.Context, host component.Host) error {
	var err error
	r.startOnce.Do(func() { err = r.start(ctx, host) })
	return err
}

func (r *jobQueueReceiver) start(ctx context.Context, host component.Host) error {
	s, err := newScraper(r.cfg, r.set, r.newSnapshotter, r.logs)
	if err != nil {
		return err
	}
	next := r.metrics
	if next == nil {
		s.noMetrics = true
		next, err = consumer.NewMetrics(func(context.Context, pmetric.Metrics) error { return nil })
		if err != nil {
			return err
		}
	}
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return err
	}
	opts := append(r.opts[:len(r.opts):len(r.opts)], scraperhelper.AddMetricsScraper(metadata.Type, sc))
	r.controller, err = scraperhelper.NewMetricsController(&r.cfg.ControllerConfig, r.set, next, opts...)
	if err != nil {
		return err
	}
	return r.controller.Start(ctx, host)
}

// Shutdown stops the controller (safe without Start) and releases the
// shared instance, so that a new configuration gets a new receiver.
func (r *jobQueueReceiver) Shutdown(ctx context.Context) error {
	var err error
	r.shutdownOnce.Do(func() {
		r.release()
		if r.controller != nil {
			err = r.controller.Shutdown(ctx)
		}
	})
	return err
}

// receivers holds the receiver of each configuration in use, so that the
// pipelines naming the same job_queue/<name> (the collector passes them the
// same *Config) share one. Contrib's sharedcomponent does this for its
// receivers, but it is internal to contrib.
var receivers = sharedReceivers{byConfig: map[*Config]*jobQueueReceiver{}}

type sharedReceivers struct {
	mu       sync.Mutex
	byConfig map[*Config]*jobQueueReceiver
}

// get returns cfg's receiver, creating it on first use.
func (s *sharedReceivers) get(cfg *Config, set receiver.Settings) *jobQueueReceiver {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.byConfig[cfg]; ok {
		return r
	}
	redisclient.RouteLibraryLogs(set.Logger)
	r := newReceiver(set, cfg, func(ctx context.Context) (*Snapshotter, error) { return NewSnapshotter(ctx, cfg) })
	r.release = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.byConfig, cfg)
	}
	s.byConfig[cfg] = r
	return r
}
