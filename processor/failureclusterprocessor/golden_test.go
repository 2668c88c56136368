// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"testing"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/goldentest"
)

// The golden cases: each testdata/<case>/input.yaml goes through the
// processor batch by batch and must come out as expected.yaml (see
// internal/goldentest; -update rewrites expected.yaml). testdata/README.md
// says where each input comes from.
func TestGolden(t *testing.T) {
	for _, c := range []goldentest.Case{
		{Name: "traces_river_burst_resolves", Config: NewDefaultConfig(), ResolveAfter: time.Hour},
		{Name: "traces_appsignal_bullmq_burst", Config: NewDefaultConfig()},
		{Name: "traces_dependency_failure", Config: NewDefaultConfig()},
		{Name: "traces_bullmq_otel_below_threshold", Config: NewDefaultConfig()},
		{Name: "traces_non_job", Config: NewDefaultConfig()},
	} {
		t.Run(c.Name, func(t *testing.T) { goldentest.Traces(t, NewFactory(), c) })
	}
	for _, c := range []goldentest.Case{
		{Name: "logs_burst_resolves", Config: NewDefaultConfig(), ResolveAfter: time.Hour},
		{Name: "logs_dependency_failure", Config: NewDefaultConfig()},
		{Name: "logs_sidekiq_json_below_threshold", Config: NewDefaultConfig()},
		{Name: "logs_non_job", Config: NewDefaultConfig()},
	} {
		t.Run(c.Name, func(t *testing.T) { goldentest.Logs(t, NewFactory(), c) })
	}
}
