// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraphconnector // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"

import (
	"context"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector/internal/metadata"
)

// NewFactory creates the factory of the job_graph connector.
func NewFactory() connector.Factory {
	return connector.NewFactory(
		metadata.Type,
		createDefaultConfig,
		connector.WithTracesToMetrics(createTracesToMetrics, metadata.TracesToMetricsStability),
		connector.WithTracesToLogs(createTracesToLogs, metadata.TracesToLogsStability),
	)
}

func createDefaultConfig() component.Config { return NewDefaultConfig() }

// Each pipeline pair gets an instance of its own, as with contrib's
// connectors: the traces -> metrics one counts the edges, the traces -> logs
// one keeps the edge set in the state store and raises the cycles. Tests
// inject a clock through the context (clockwork.AddToContext).
func createTracesToMetrics(ctx context.Context, set connector.Settings, cfg component.Config, next consumer.Metrics) (connector.Traces, error) {
	return newConnector(ctx, set, cfg.(*Config), clockwork.FromContext(ctx), next, nil)
}

func createTracesToLogs(ctx context.Context, set connector.Settings, cfg component.Config, next consumer.Logs) (connector.Traces, error) {
	return newConnector(ctx, set, cfg.(*Config), clockwork.FromContext(ctx), nil, next)
}
