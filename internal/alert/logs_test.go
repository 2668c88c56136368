// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
)

func TestAppendLogs(t *testing.T) {
	ld := plog.NewLogs()
	for _, svc := range []string{"web", "worker"} {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", svc)
		rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("data")
	}
	alerts := []Alert{
		{Name: ExcessiveRetries, Summary: "a", Severity: SeverityWarn},
		{Name: ExcessiveRetries, Summary: "b", Severity: SeverityWarn},
		{Name: FailureCluster, Summary: "c", Severity: SeverityError},
	}
	from := []int{1, 0, 1} // alerts a and c were raised under "worker"

	AppendLogs(ld, "scope", "1.2.3", len(alerts), func(i int) (*Alert, int) { return &alerts[i], from[i] })

	rls := ld.ResourceLogs()
	require.Equal(t, 4, rls.Len(), "the data's two resources, then one per resource that raised alerts")
	worker, web := rls.At(2), rls.At(3)
	svc, _ := worker.Resource().Attributes().Get("service.name")
	assert.Equal(t, "worker", svc.Str())
	svc, _ = web.Resource().Attributes().Get("service.name")
	assert.Equal(t, "web", svc.Str())
	for _, rl := range []plog.ResourceLogs{worker, web} {
		require.Equal(t, 1, rl.ScopeLogs().Len())
		assert.Equal(t, "scope", rl.ScopeLogs().At(0).Scope().Name())
		assert.Equal(t, "1.2.3", rl.ScopeLogs().At(0).Scope().Version())
	}
	got := worker.ScopeLogs().At(0).LogRecords()
	require.Equal(t, 2, got.Len())
	assert.Equal(t, "a", got.At(0).Body().Str())
	assert.Equal(t, "c", got.At(1).Body().Str())
	assert.Equal(t, EventName, got.At(1).EventName())
	assert.Equal(t, "b", web.ScopeLogs().At(0).LogRecords().At(0).Body().Str())

	before := ld.LogRecordCount()
	AppendLogs(ld, "scope", "1.2.3", 0, nil)
	assert.Equal(t, before, ld.LogRecordCount(), "no alerts, nothing added")
}
