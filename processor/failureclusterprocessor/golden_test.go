// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package failureclusterprocessor

import (
	"testing"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/internal/goldentest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
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

// The same cases with the state on a real Redis give the same output.
func TestGoldenRedis(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.Name, func(t *testing.T) {
			cfg := *c.Config.(*Config)
			cfg.State.Backend = statestore.BackendRedis
			cfg.State.Redis.Endpoint = redistest.Start(t).Addr()
			cfg.State.Redis.Timeout = 2 * time.Second // a shared 2-core machine
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
	var cases []goldenCase
	for _, c := range []goldentest.Case{
		{Name: "traces_river_burst_resolves", Config: NewDefaultConfig(), ResolveAfter: time.Hour},
		{Name: "traces_appsignal_bullmq_burst", Config: NewDefaultConfig()},
		{Name: "traces_dependency_failure", Config: NewDefaultConfig()},
		{Name: "traces_bullmq_otel_below_threshold", Config: NewDefaultConfig()},
		{Name: "traces_non_job", Config: NewDefaultConfig()},
	} {
		cases = append(cases, goldenCase{Case: c})
	}
	for _, c := range []goldentest.Case{
		{Name: "logs_burst_resolves", Config: NewDefaultConfig(), ResolveAfter: time.Hour},
		{Name: "logs_dependency_failure", Config: NewDefaultConfig()},
		{Name: "logs_sidekiq_json_below_threshold", Config: NewDefaultConfig()},
		{Name: "logs_non_job", Config: NewDefaultConfig()},
	} {
		cases = append(cases, goldenCase{Case: c, logs: true})
	}
	return cases
}
