// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
)

// NewFactory creates the factory of the job_queue receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config { return NewDefaultConfig() }

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c := cfg.(*Config)
	return newMetricsReceiver(set, c, next, func(ctx context.Context) (*Snapshotter, error) {
		return NewSnapshotter(ctx, c)
	})
}

// newMetricsReceiver is the seam for tests: they pass a Snapshotter over a
// fake reader and, through opts, a ticker channel.
func newMetricsReceiver(
	set receiver.Settings,
	cfg *Config,
	next consumer.Metrics,
	newSnapshotter func(context.Context) (*Snapshotter, error),
	opts ...scraperhelper.ControllerOption,
) (receiver.Metrics, error) {
	s, err := newScraper(cfg, set, newSnapshotter)
	if err != nil {
		return nil, err
	}
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	opts = append(opts, scraperhelper.AddMetricsScraper(metadata.Type, sc))
	return scraperhelper.NewMetricsController(&cfg.ControllerConfig, set, next, opts...)
}
