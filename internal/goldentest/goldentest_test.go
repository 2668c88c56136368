// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goldentest

import (
	"context"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// probeFactory makes processors that stamp each batch's resources with the
// clock the case gave them, so that the cases below show which batches the
// runner sent and when.
func probeFactory() processor.Factory {
	stamp := func(clock clockwork.Clock, attrs pcommon.Map) {
		attrs.PutStr("probe.clock", clock.Now().UTC().Format(time.RFC3339))
	}
	return processor.NewFactory(component.MustNewType("probe"), func() component.Config { return &struct{}{} },
		processor.WithTraces(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
			clock := clockwork.FromContext(ctx)
			return processorhelper.NewTraces(ctx, set, cfg, next, func(_ context.Context, td ptrace.Traces) (ptrace.Traces, error) {
				for _, rs := range td.ResourceSpans().All() {
					stamp(clock, rs.Resource().Attributes())
				}
				return td, nil
			})
		}, component.StabilityLevelDevelopment),
		processor.WithLogs(func(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
			clock := clockwork.FromContext(ctx)
			return processorhelper.NewLogs(ctx, set, cfg, next, func(_ context.Context, ld plog.Logs) (plog.Logs, error) {
				for _, rl := range ld.ResourceLogs().All() {
					stamp(clock, rl.Resource().Attributes())
				}
				return ld, nil
			})
		}, component.StabilityLevelDevelopment))
}

// Three batches: the clock starts a second after the first batch's last
// span, moves to a second after the next one's, and stays for a batch of
// older spans.
func TestTracesClock(t *testing.T) {
	Traces(t, probeFactory(), Case{Name: "traces_clock", Config: &struct{}{}})
}

// The same for log records, by timestamp or else observed timestamp; a
// batch without times leaves the clock where it is.
func TestLogsClock(t *testing.T) {
	Logs(t, probeFactory(), Case{Name: "logs_clock", Config: &struct{}{}})
}
