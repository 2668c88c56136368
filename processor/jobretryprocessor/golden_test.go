// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobretryprocessor

import (
	"testing"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/goldentest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// The golden cases: each testdata/<case>/input.yaml goes through the
// processor batch by batch and must come out as expected.yaml (see
// internal/goldentest; -update rewrites expected.yaml). testdata/README.md
// says where each input comes from.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.Name, func(t *testing.T) { c.run(t) })
	}
}

// The same cases with the state on a real Redis give the same output, but
// traces_window: Redis expires a run counter by its own clock, which the
// case's fake clock cannot move a day on.
func TestGoldenRedis(t *testing.T) {
	for _, c := range goldenCases() {
		if c.Name == "traces_window" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			cfg := *c.Config.(*Config)
			cfg.State = redisConfig(redistest.Start(t)).State
			c.Config, c.CheckOnly = &cfg, true
			c.run(t)
		})
	}
}

type goldenCase struct {
	goldentest.Case
	logs bool
}

func (c goldenCase) run(t *testing.T) {
	if c.logs {
		goldentest.Logs(t, NewFactory(), c.Case)
	} else {
		goldentest.Traces(t, NewFactory(), c.Case)
	}
}

func goldenCases() []goldenCase {
	one, ten := 1, 10
	fatal := alert.SeverityFatal
	overrides := NewDefaultConfig()
	overrides.ClassOverrides = []ClassOverride{
		{Class: "^Billing::", MaxRetries: &one, Severity: &fatal},
		{Class: "Job$", MaxRetries: &ten},
	}
	maxRetries2 := NewDefaultConfig()
	maxRetries2.MaxRetries = 2

	var cases []goldenCase
	for _, c := range []goldentest.Case{
		{Name: "traces_river_attempts", Config: NewDefaultConfig()},
		{Name: "traces_appsignal_bullmq_resolves", Config: NewDefaultConfig()},
		{Name: "traces_bullmq_otel_below_threshold", Config: NewDefaultConfig()},
		{Name: "traces_bullmq_otel_max_retries_2", Config: maxRetries2},
		{Name: "traces_sidekiq_by_job_id", Config: NewDefaultConfig()},
		{Name: "traces_active_job_in_sidekiq", Config: NewDefaultConfig()},
		{Name: "traces_celery_datadog_semconv", Config: NewDefaultConfig()},
		{Name: "traces_class_overrides", Config: overrides},
		{Name: "traces_window", Config: NewDefaultConfig()},
		{Name: "traces_non_job", Config: NewDefaultConfig()},
	} {
		cases = append(cases, goldenCase{Case: c})
	}
	for _, c := range []goldentest.Case{
		{Name: "logs_sidekiq_json_fires", Config: NewDefaultConfig()},
		{Name: "logs_seed_events_resolves", Config: NewDefaultConfig()},
		{Name: "logs_non_job", Config: NewDefaultConfig()},
	} {
		cases = append(cases, goldenCase{Case: c, logs: true})
	}
	return cases
}
