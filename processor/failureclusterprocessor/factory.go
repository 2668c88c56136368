// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"

import (
	"context"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobpipeline"
	"github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/metadata"
)

// NewFactory creates the factory of the failure_cluster processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithTraces(createTraces, metadata.TracesStability),
		processor.WithLogs(createLogs, metadata.LogsStability),
	)
}

func createDefaultConfig() component.Config { return NewDefaultConfig() }

// Each pipeline gets an instance of its own, and with the memory store its
// own state; instances on one Redis share the state, where an execution
// arriving in both pipelines counts once (statestore.Config.DedupeTTL).
// Tests inject a clock through the context (clockwork.AddToContext).
func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newClusterProcessor(ctx, set, cfg.(*Config), clockwork.FromContext(ctx))
	if err != nil {
		return nil, err
	}
	return jobpipeline.NewTraces(ctx, set, cfg, next, p.processTraces,
		jobpipeline.Lifecycle{Start: p.start(p.sendTraces(next)), Shutdown: p.shutdown})
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newClusterProcessor(ctx, set, cfg.(*Config), clockwork.FromContext(ctx))
	if err != nil {
		return nil, err
	}
	return jobpipeline.NewLogs(ctx, set, cfg, next, p.processLogs,
		jobpipeline.Lifecycle{Start: p.start(p.sendLogs(next)), Shutdown: p.shutdown})
}
