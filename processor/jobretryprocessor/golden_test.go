// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"testing"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/goldentest"
)

// The golden cases: each testdata/<case>/input.yaml goes through the
// processor batch by batch and must come out as expected.yaml (see
// internal/goldentest; -update rewrites expected.yaml). testdata/README.md
// says where each input comes from.
func TestGolden(t *testing.T) {
	one, ten := 1, 10
	fatal := alert.SeverityFatal
	overrides := NewDefaultConfig()
	overrides.ClassOverrides = []ClassOverride{
		{Class: "^Billing::", MaxRetries: &one, Severity: &fatal},
		{Class: "Job$", MaxRetries: &ten},
	}
	maxRetries2 := NewDefaultConfig()
	maxRetries2.MaxRetries = 2

	for _, c := range []goldentest.Case{
		{Name: "traces_river_attempts", Config: NewDefaultConfig()},
		{Name: "traces_appsignal_bullmq_resolves", Config: NewDefaultConfig()},
		{Name: "traces_bullmq_otel_below_threshold", Config: NewDefaultConfig()},
		{Name: "traces_bullmq_otel_max_retries_2", Config: maxRetries2},
		{Name: "traces_sidekiq_by_job_id", Config: NewDefaultConfig()},
		{Name: "traces_active_job_in_sidekiq", Config: NewDefaultConfig()},
		{Name: "traces_class_overrides", Config: overrides},
		{Name: "traces_window", Config: NewDefaultConfig()},
		{Name: "traces_non_job", Config: NewDefaultConfig()},
	} {
		t.Run(c.Name, func(t *testing.T) { goldentest.Traces(t, NewFactory(), c) })
	}
	for _, c := range []goldentest.Case{
		{Name: "logs_sidekiq_json_fires", Config: NewDefaultConfig()},
		{Name: "logs_seed_events_resolves", Config: NewDefaultConfig()},
		{Name: "logs_non_job", Config: NewDefaultConfig()},
	} {
		t.Run(c.Name, func(t *testing.T) { goldentest.Logs(t, NewFactory(), c) })
	}
}
