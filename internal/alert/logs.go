// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert // import "github.com/otelcol-jobs/otelcol-jobs/internal/alert"

import "go.opentelemetry.io/collector/pdata/plog"

// AppendLogs adds n alert records to ld. Record i is alert(i), raised by a
// record of ld's ResourceLogs at index resource(i); it goes into a
// ResourceLogs of its own, a copy of that resource with one scope named
// scopeName/scopeVersion, so a pipeline can route alerts apart from the data
// that raised them. Alerts raised under the same resource share one scope.
func AppendLogs(ld plog.Logs, scopeName, scopeVersion string, n int, at func(i int) (a *Alert, resource int)) {
	if n == 0 {
		return
	}
	rls := ld.ResourceLogs()
	scopes := make(map[int]plog.LogRecordSlice, 1)
	for i := range n {
		a, src := at(i)
		records, ok := scopes[src]
		if !ok {
			rl := rls.AppendEmpty()
			rls.At(src).Resource().CopyTo(rl.Resource())
			sl := rl.ScopeLogs().AppendEmpty()
			sl.Scope().SetName(scopeName)
			sl.Scope().SetVersion(scopeVersion)
			records = sl.LogRecords()
			scopes[src] = records
		}
		a.FillLogRecord(records.AppendEmpty())
	}
}
