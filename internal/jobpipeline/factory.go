// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobpipeline // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobpipeline"

import (
	"context"
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
)

// The job processors annotate spans and log records and add alerts to them.
var mutates = processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true})

// Lifecycle is a processor's start (nil: none) and shutdown; shutdown also
// runs when the processor cannot be made.
type Lifecycle struct {
	Start    component.StartFunc
	Shutdown component.ShutdownFunc
}

func (l Lifecycle) options() []processorhelper.Option {
	opts := []processorhelper.Option{mutates, processorhelper.WithShutdown(l.Shutdown)}
	if l.Start != nil {
		opts = append(opts, processorhelper.WithStart(l.Start))
	}
	return opts
}

// NewTraces makes the collector's traces processor of a job processor.
func NewTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces,
	process processorhelper.ProcessTracesFunc, l Lifecycle,
) (processor.Traces, error) {
	tp, err := processorhelper.NewTraces(ctx, set, cfg, next, process, l.options()...)
	if err != nil {
		return nil, errors.Join(err, l.Shutdown(ctx))
	}
	return tp, nil
}

// NewLogs makes the collector's logs processor of a job processor.
func NewLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs,
	process processorhelper.ProcessLogsFunc, l Lifecycle,
) (processor.Logs, error) {
	lp, err := processorhelper.NewLogs(ctx, set, cfg, next, process, l.options()...)
	if err != nil {
		return nil, errors.Join(err, l.Shutdown(ctx))
	}
	return lp, nil
}
