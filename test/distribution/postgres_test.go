// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package distribution

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgtest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestScrapesRiver runs the built collector on config/river.yaml against a
// River database (migrated by River itself) read as a SELECT-only role, and
// reads the values back from the Prometheus exporter, across a restart of
// PostgreSQL.
func TestScrapesRiver(t *testing.T) {
	bin := collectortest.Binary(t)
	srv := pgtest.Start(t)
	srv.CreateRiverDatabase("app")
	srv.Exec("app",
		`INSERT INTO river_job (state, queue, kind, args, max_attempts, scheduled_at) VALUES
			('available', 'default', 'send', '{}', 25, now() - interval '10 minutes'),
			('available', 'default', 'send', '{}', 25, now()),
			('available', 'mail', 'digest', '{}', 25, now())`,
		`INSERT INTO river_job (state, queue, kind, args, max_attempts, attempt, attempted_at, finalized_at) VALUES
			('discarded', 'mail', 'digest', '{}', 1, 1, now(), now())`,
		"CREATE ROLE otelcol_jobs LOGIN",
		"ALTER ROLE otelcol_jobs SET default_transaction_read_only = on",
		"GRANT USAGE ON SCHEMA public TO otelcol_jobs",
		"GRANT SELECT ON river_job, river_queue TO otelcol_jobs")

	// config/river.yaml as shipped, its listeners and exporter moved to
	// free ports on loopback by a second file merged over it.
	ports := map[string]int{}
	for _, p := range []string{"prometheus", "health", "grpc", "http"} {
		ports[p] = redistest.FreePort(t)
	}
	override := filepath.Join(t.TempDir(), "override.yaml")
	require.NoError(t, os.WriteFile(override, fmt.Appendf(nil, `
extensions::health_check::endpoint: 127.0.0.1:%d
receivers::job_queue/river::collection_interval: 1s
receivers::job_queue/river::timeout: 1s
receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:%d
receivers::otlp::protocols::http::endpoint: 127.0.0.1:%d
exporters::prometheus::endpoint: 127.0.0.1:%d
`, ports["health"], ports["grpc"], ports["http"], ports["prometheus"]), 0o600))
	t.Setenv("PG_ENDPOINT", srv.Addr())
	t.Setenv("PG_DATABASE", "app")
	t.Setenv("PG_USERNAME", "otelcol_jobs")
	t.Setenv("OTLP_ENDPOINT", "http://127.0.0.1:1") // nothing listens: exports fail, scrapes go on

	c := collectortest.Start(t, bin, []string{"../../config/river.yaml", override})
	c.Eventually(t, time.Minute, "the health check", func() string {
		if status, _, ok := get(fmt.Sprintf("http://127.0.0.1:%d/", ports["health"])); !ok || status != http.StatusOK {
			return fmt.Sprintf("status %d", status)
		}
		return ""
	})

	res := map[string]string{"messaging_system": "river", "server_port": strconv.Itoa(srv.Port()), "db_namespace": "app|public"}
	with := func(extra ...string) map[string]string {
		l := map[string]string{}
		for k, v := range res {
			l[k] = v
		}
		for i := 0; i < len(extra); i += 2 {
			l[extra[i]] = extra[i+1]
		}
		return l
	}
	want := []sample{
		{name: "jobqueue_queue_size", labels: with("messaging_destination_name", "default"), min: 2, max: 2},
		{name: "jobqueue_queue_size", labels: with("messaging_destination_name", "mail"), min: 1, max: 1},
		{name: "jobqueue_jobs", labels: with("messaging_destination_name", "mail", "jobqueue_job_state", "discarded"), min: 1, max: 1},
		{name: "jobqueue_queue_latency_seconds", labels: with("messaging_destination_name", "default"), min: 600, max: 900},
	}
	scraped := func() string {
		_, body, ok := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports["prometheus"]))
		if !ok {
			return "no answer from the Prometheus exporter"
		}
		for _, s := range want {
			v, found := s.find(body)
			if !found {
				return fmt.Sprintf("no %s%v in:\n%s", s.name, s.labels, grepJobqueue(body))
			}
			if v < s.min || v > s.max {
				return fmt.Sprintf("%s%v = %v, want %v..%v", s.name, s.labels, v, s.min, s.max)
			}
		}
		return ""
	}
	c.Eventually(t, time.Minute, "the scraped values", scraped)

	// A restart of PostgreSQL does not take the collector down, and the
	// figures follow the table again afterwards.
	srv.Restart()
	srv.Exec("app", "INSERT INTO river_job (state, queue, kind, args, max_attempts) VALUES ('available', 'mail', 'digest', '{}', 25)")
	want[1].min, want[1].max = 2, 2
	c.Eventually(t, time.Minute, "the values after a restart", scraped)
	c.Stop(t)
}
