// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package distribution tests the built otelcol-jobs binary end to end: its
// component list, every shipped configuration, and a real scrape of Sidekiq
// state written by Sidekiq itself, read back from the Prometheus exporter.
package distribution

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gopkg.in/yaml.v3"

	"github.com/otelcol-jobs/otelcol-jobs/internal/collectortest"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestComponents checks that the distribution carries what DESIGN.md
// promises, our receiver included.
func TestComponents(t *testing.T) {
	out, err := exec.Command(collectortest.Binary(t), "components").Output()
	require.NoError(t, err)
	var got struct {
		Receivers, Processors, Exporters, Connectors, Extensions []struct {
			Name   string
			Module string
		}
	}
	require.NoError(t, yaml.Unmarshal(out, &got), "%s", out)
	names := func(list []struct{ Name, Module string }) []string {
		var n []string
		for _, c := range list {
			n = append(n, c.Name)
		}
		return n
	}
	want := map[string][]string{
		"receivers":  {"otlp", "file_log", "job_queue", "host_metrics"},
		"processors": {"batch", "memory_limiter", "transform", "resource_detection"},
		"exporters":  {"debug", "otlp_grpc", "otlp_http", "file", "prometheus"},
		"connectors": {"span_metrics"},
		"extensions": {"health_check"},
	}
	for kind, list := range map[string][]struct{ Name, Module string }{
		"receivers": got.Receivers, "processors": got.Processors, "exporters": got.Exporters,
		"connectors": got.Connectors, "extensions": got.Extensions,
	} {
		for _, name := range want[kind] {
			assert.Contains(t, names(list), name, "%s", kind)
		}
	}
	i := slices.IndexFunc(got.Receivers, func(c struct{ Name, Module string }) bool { return c.Name == "job_queue" })
	require.GreaterOrEqual(t, i, 0)
	assert.Contains(t, got.Receivers[i].Module, "github.com/otelcol-jobs/otelcol-jobs")
}

// validate runs `otelcol-jobs validate` on one configuration file.
func validate(t *testing.T, bin, config string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, "validate", "--config", config)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestShippedConfigsValidate validates every file in config/ and its
// subdirectories (config/logs/) with the variables their headers document.
func TestShippedConfigsValidate(t *testing.T) {
	bin := collectortest.Binary(t)
	files, err := filepath.Glob("../../config/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	nested, err := filepath.Glob("../../config/*/*.yaml")
	require.NoError(t, err)
	files = append(files, nested...)
	env := []string{
		"REDIS_ENDPOINT=127.0.0.1:6379", "REDIS_PASSWORD=secret",
		"PG_ENDPOINT=127.0.0.1:5432", "PG_USERNAME=otelcol_jobs", "PG_PASSWORD=secret", "PG_DATABASE=app",
		"OTLP_ENDPOINT=http://127.0.0.1:4318",
	}
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, "../../config/"), func(t *testing.T) {
			out, err := validate(t, bin, f, env...)
			assert.NoError(t, err, "%s", out)
		})
	}

	t.Run("a broken job_queue config is refused", func(t *testing.T) {
		broken := filepath.Join(t.TempDir(), "broken.yaml")
		require.NoError(t, os.WriteFile(broken, []byte(`
receivers:
  job_queue:
    endpoint: 127.0.0.1:6379
exporters:
  debug: {}
service:
  pipelines:
    metrics: {receivers: [job_queue], exporters: [debug]}
`), 0o600))
		out, err := validate(t, bin, broken)
		require.Error(t, err)
		assert.Contains(t, out, "system: must be set")
	})
}

// get fetches url; ok is false when nothing answers yet.
func get(url string) (status int, body string, ok bool) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err == nil
}

// sample is one Prometheus series: a metric name, the labels that identify
// it here, and the expected value range.
type sample struct {
	name     string
	labels   map[string]string
	min, max float64
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$`)

// find returns the value of the first series in text named s.name that
// carries all of s.labels.
func (s sample) find(text string) (float64, bool) {
	for line := range strings.SplitSeq(text, "\n") {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || m[1] != s.name {
			continue
		}
		matches := true
		for k, v := range s.labels {
			matches = matches && strings.Contains(","+m[2]+",", fmt.Sprintf(",%s=%q,", k, v))
		}
		if !matches {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		return v, err == nil
	}
	return 0, false
}

// TestScrapesSidekiq writes a known state with Sidekiq 6.4's own library
// into a real redis-server, runs the collector on it and reads the values
// back from the Prometheus exporter.
func TestScrapesSidekiq(t *testing.T) {
	bin := collectortest.Binary(t)
	redistest.RequireTool(t, "ruby", "apt-get install -y ruby-sidekiq")
	if err := exec.Command("ruby", "-e", `require "sidekiq/api"`).Run(); err != nil {
		redistest.Missing(t, "the sidekiq gem is not installed (install: apt-get install -y ruby-sidekiq)")
	}
	srv := redistest.Start(t)
	written := time.Now()
	state := exec.Command("ruby", "testdata/sidekiq_state.rb")
	state.Env = append(os.Environ(), "REDIS_URL=redis://"+srv.Addr()+"/0")
	out, err := state.CombinedOutput()
	require.NoError(t, err, "write Sidekiq state: %s", out)

	ports := map[string]int{}
	for _, p := range []string{"prometheus", "health", "grpc", "http"} {
		ports[p] = redistest.FreePort(t)
	}
	config := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
extensions:
  health_check:
    endpoint: 127.0.0.1:%[1]d
receivers:
  job_queue/sidekiq:
    system: sidekiq
    endpoint: %[2]s
    collection_interval: 1s
    timeout: 1s
    stalled_after: 5m
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%[3]d"}
      http: {endpoint: "127.0.0.1:%[4]d"}
exporters:
  debug: {}
  prometheus:
    endpoint: 127.0.0.1:%[5]d
    resource_constant_labels:
      included: [messaging.system, server.address, server.port]
service:
  extensions: [health_check]
  pipelines:
    metrics: {receivers: [job_queue/sidekiq], exporters: [prometheus]}
    traces: {receivers: [otlp], exporters: [debug]}
`, ports["health"], srv.Addr(), ports["grpc"], ports["http"], ports["prometheus"]), 0o600))

	c := collectortest.Start(t, bin, []string{config})
	c.Eventually(t, time.Minute, "the health check", func() string {
		if status, _, ok := get(fmt.Sprintf("http://127.0.0.1:%d/", ports["health"])); !ok || status != http.StatusOK {
			return fmt.Sprintf("status %d", status)
		}
		return ""
	})

	// What testdata/sidekiq_state.rb wrote. The reports job was enqueued
	// 600 s before the script ran; the running job started 600 s before.
	res := map[string]string{"messaging_system": "sidekiq", "server_port": strconv.Itoa(srv.Port())}
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
	exact := func(name string, v float64, labels ...string) sample {
		return sample{name: name, labels: with(labels...), min: v, max: v}
	}
	want := []sample{
		exact("jobqueue_queue_size", 3, "messaging_destination_name", "default"),
		exact("jobqueue_queue_size", 2, "messaging_destination_name", "mailers"),
		exact("jobqueue_queue_size", 1, "messaging_destination_name", "reports"),
		exact("jobqueue_jobs", 4, "jobqueue_job_state", "scheduled"),
		exact("jobqueue_jobs", 2, "jobqueue_job_state", "retry"),
		exact("jobqueue_jobs", 1, "jobqueue_job_state", "dead"),
		exact("jobqueue_jobs_processed_total", 100),
		exact("jobqueue_jobs_failed_total", 7),
		exact("jobqueue_processes", 1),
		exact("jobqueue_workers_busy", 1),
		exact("jobqueue_workers_capacity", 5),
		exact("jobqueue_jobs_stalled", 1, "messaging_destination_name", "default"),
		exact("jobqueue_jobs_stalled", 0, "messaging_destination_name", "mailers"),
	}
	// Ages grow while the test runs: bound them by the time since the state was written.
	aged := func(name, queue string) sample {
		return sample{name: name, labels: with("messaging_destination_name", queue), min: 600, max: 600 + time.Since(written).Seconds() + 120}
	}
	c.Eventually(t, time.Minute, "the scraped values", func() string {
		_, body, ok := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", ports["prometheus"]))
		if !ok {
			return "no answer from the Prometheus exporter"
		}
		for _, s := range append(want, aged("jobqueue_queue_latency_seconds", "reports"), aged("jobqueue_job_running_max_age_seconds", "default")) {
			v, found := s.find(body)
			if !found {
				return fmt.Sprintf("no %s%v in:\n%s", s.name, s.labels, grepJobqueue(body))
			}
			if v < s.min || v > s.max {
				return fmt.Sprintf("%s%v = %v, want %v..%v", s.name, s.labels, v, s.min, s.max)
			}
		}
		return ""
	})
	c.Stop(t)
}

func grepJobqueue(body string) string {
	var lines []string
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, "jobqueue_") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// TestScrapeSurvivesRedisRestart checks the fault story at the binary level:
// Redis going away does not take the collector down, and values come back.
func TestScrapeSurvivesRedisRestart(t *testing.T) {
	bin := collectortest.Binary(t)
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	seed := func() {
		require.NoError(t, rdb.SAdd(ctx, "queues", "default").Err())
		require.NoError(t, rdb.LPush(ctx, "queue:default", `{"class":"A","queue":"default","jid":"0123456789abcdef01234567","enqueued_at":1}`).Err())
	}
	seed()
	prom := redistest.FreePort(t)
	config := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `
receivers:
  job_queue:
    system: sidekiq
    endpoint: %s
    collection_interval: 1s
    timeout: 1s
exporters:
  prometheus:
    endpoint: 127.0.0.1:%d
service:
  pipelines:
    metrics: {receivers: [job_queue], exporters: [prometheus]}
`, srv.Addr(), prom), 0o600))
	c := collectortest.Start(t, bin, []string{config})
	size := sample{name: "jobqueue_queue_size", labels: map[string]string{"messaging_destination_name": "default"}}
	readSize := func() (float64, bool) {
		_, body, ok := get(fmt.Sprintf("http://127.0.0.1:%d/metrics", prom))
		if !ok {
			return 0, false
		}
		return size.find(body)
	}
	c.Eventually(t, time.Minute, "queue size 1", func() string {
		if v, ok := readSize(); !ok || v != 1 {
			return fmt.Sprintf("queue size %v (found %v)", v, ok)
		}
		return ""
	})
	srv.Restart() // a new, empty Redis on the same port
	seed()
	require.NoError(t, rdb.LPush(ctx, "queue:default", `{"class":"A","queue":"default","jid":"0123456789abcdef01234568","enqueued_at":2}`).Err())
	c.Eventually(t, time.Minute, "queue size 2 after the restart", func() string {
		if v, ok := readSize(); !ok || v != 2 {
			return fmt.Sprintf("queue size %v (found %v)", v, ok)
		}
		return ""
	})
	c.Stop(t)
}

// TestDocumentedConfigsValidate validates every complete configuration (a
// yaml block with a service section) shown in the project's Markdown, so the
// docs cannot drift from the components' config keys.
func TestDocumentedConfigsValidate(t *testing.T) {
	bin := collectortest.Binary(t)
	docs, err := filepath.Glob("../../*.md")
	require.NoError(t, err)
	for _, pattern := range []string{"../../docs/*.md", "../../receiver/*/README.md", "../../processor/*/README.md"} {
		more, err := filepath.Glob(pattern)
		require.NoError(t, err)
		docs = append(docs, more...)
	}
	env := []string{
		"REDIS_ENDPOINT=127.0.0.1:6379", "REDIS_PASSWORD=secret", "JOBQ_REDIS_PASSWORD=secret",
		"OTLP_ENDPOINT=http://127.0.0.1:4318",
	}
	found := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		require.NoError(t, err)
		for i, block := range strings.Split(string(text), "```yaml\n")[1:] {
			block, _, _ = strings.Cut(block, "```")
			if !strings.Contains(block, "\nservice:") {
				continue
			}
			found++
			name := strings.TrimPrefix(doc, "../../") + "#" + strconv.Itoa(i+1)
			t.Run(name, func(t *testing.T) {
				f := filepath.Join(t.TempDir(), "config.yaml")
				require.NoError(t, os.WriteFile(f, []byte(block), 0o600))
				out, err := validate(t, bin, f, env...)
				assert.NoError(t, err, "%s\n%s", out, block)
			})
		}
	}
	require.NotZero(t, found, "the README shows at least one complete configuration")
}
