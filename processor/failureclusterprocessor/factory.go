// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"

import (
	"context"
	"errors"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

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

// The processor annotates spans and log records and adds alerts to them.
var mutates = processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true})

// Each pipeline gets an instance of its own, and with the memory store its
// own state; instances on one Redis share the state, where an execution
// arriving in both pipelines counts once (statestore.Config.DedupeTTL).
// Tests inject a clock through the context (clockwork.AddToContext).
func createTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	p, err := newClusterProcessor(ctx, set, cfg.(*Config), clockwork.FromContext(ctx))
	if err != nil {
		return nil, err
	}
	tp, err := processorhelper.NewTraces(ctx, set, cfg, next, p.processTraces, mutates,
		processorhelper.WithStart(p.start(p.holdResolved)), processorhelper.WithShutdown(p.shutdown))
	if err != nil {
		return nil, errors.Join(err, p.shutdown(ctx))
	}
	return tp, nil
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	p, err := newClusterProcessor(ctx, set, cfg.(*Config), clockwork.FromContext(ctx))
	if err != nil {
		return nil, err
	}
	lp, err := processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs, mutates,
		processorhelper.WithStart(p.start(p.sendResolved(next))), processorhelper.WithShutdown(p.shutdown))
	if err != nil {
		return nil, errors.Join(err, p.shutdown(ctx))
	}
	return lp, nil
}
