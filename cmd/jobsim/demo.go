// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// collectorEndpoint is an address the collector listens on. config/demo.yaml
// reads each from its environment variable, with the same default.
type collectorEndpoint struct {
	flag, env, what, addr string
}

// demo runs the simulator and the collector as a child process until the
// collector exits or ctx ends (Ctrl-C), and returns the collector's exit code.
func demo(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	fs := flag.NewFlagSet("jobsim demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o simOptions
	o.register(fs)
	collector := fs.String("collector", "bin/otelcol-jobs", "the otelcol-jobs binary (make build)")
	config := fs.String("config", "config/demo.yaml", "the collector configuration")
	grace := fs.Duration("grace", 10*time.Second, "how long the collector may take to shut down before it is killed")
	endpoints := []*collectorEndpoint{
		{flag: "prometheus", env: "JOBSIM_PROMETHEUS_ENDPOINT", what: "Prometheus exporter", addr: "127.0.0.1:8889"},
		{flag: "health", env: "JOBSIM_HEALTH_ENDPOINT", what: "health check", addr: "127.0.0.1:13133"},
		{flag: "otlp-grpc", env: "JOBSIM_OTLP_GRPC_ENDPOINT", what: "OTLP/gRPC receiver", addr: "127.0.0.1:4317"},
		{flag: "otlp-http", env: "JOBSIM_OTLP_HTTP_ENDPOINT", what: "OTLP/HTTP receiver", addr: "127.0.0.1:4318"},
	}
	for _, e := range endpoints {
		fs.StringVar(&e.addr, e.flag, e.addr, "the collector's "+e.what+" address")
	}
	spanAlerts := fs.String("span-alerts", "127.0.0.1:4319",
		"where jobsim receives the collector's traces over OTLP/HTTP to print their alert events")
	if err := parseFlags(fs, args); err != nil {
		return 0, err
	}
	for _, f := range []struct{ path, hint string }{{*collector, "build it with: make build"}, {*config, "pass --config"}} {
		if _, err := os.Stat(f.path); err != nil {
			return 1, fmt.Errorf("%w (%s)", err, f.hint)
		}
	}
	for _, e := range endpoints {
		l, err := net.Listen("tcp", e.addr)
		if err != nil {
			return 1, fmt.Errorf("the %s address %s is not free (%v): stop what listens there or pass --%s host:port", e.what, e.addr, err, e.flag)
		}
		_ = l.Close()
	}

	printer, err := startSpanAlertPrinter(*spanAlerts, stdout)
	if err != nil {
		return 1, fmt.Errorf("the span-alert printer cannot listen on %s (%v): stop what listens there or pass --span-alerts host:port", *spanAlerts, err)
	}
	// Closed after the collector has stopped: it sends its last traces on
	// shutdown.
	defer printer.close()
	sim, err := startSimulator(ctx, o, stderr)
	if err != nil {
		return 1, err
	}
	defer sim.close()

	cmd := exec.Command(*collector, "--config", *config)
	cmd.Env = append(os.Environ(), "JOBSIM_SYSTEM="+sim.system.Name,
		"JOBSIM_REDIS_ENDPOINT="+sim.addr, "JOBSIM_SPAN_ALERTS_ENDPOINT="+*spanAlerts,
		"JOBSIM_DATABASE="+sim.database, "JOBSIM_USERNAME="+sim.username)
	for _, e := range endpoints {
		cmd.Env = append(cmd.Env, e.env+"="+e.addr)
	}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own process group: a terminal's Ctrl-C reaches jobsim only, which then
	// stops the collector in order. If jobsim dies, the kernel sends SIGTERM.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return 1, fmt.Errorf("start the collector: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait() // the exit status is read from cmd.ProcessState
		close(exited)
	}()

	// The simulator outlives ctx: it keeps feeding the collector until the
	// collector is down.
	simCtx, stopSim := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { sim.run(simCtx) })
	// Job spans over OTLP, with a failing class and a database outage; they
	// stop at Ctrl-C, while the collector still runs.
	emitCtx, stopEmit := context.WithCancel(simCtx)
	defer context.AfterFunc(ctx, stopEmit)()
	wg.Go(func() { newIncidentEmitter(endpoints[3].addr, time.Now(), stderr).run(emitCtx, o.tick) })
	// Retry loops as Sidekiq and River spans and JSON event logs.
	wg.Go(func() { newRetryEmitter(endpoints[3].addr, time.Now(), stderr).run(emitCtx, o.tick) })
	// Jobs that enqueue jobs: a fan-out and a cycle, as Sidekiq spans.
	wg.Go(func() { newEnqueueEmitter(endpoints[3].addr, time.Now(), stderr).run(emitCtx, o.tick) })
	wg.Go(func() {
		health := "http://" + endpoints[1].addr + "/"
		if waitHealthy(simCtx, health, exited) {
			fmt.Fprintf(stdout, `
jobsim: otelcol-jobs is up, scraping a simulated %s on %s
jobsim:   metrics: curl -s http://%s/metrics | grep jobqueue_
jobsim:   graph:   go run ./cmd/jobqctl graph --prometheus http://%s/metrics --format svg > jobs.svg
jobsim:   health:  curl %s
jobsim:   OTLP in: grpc %s, http %s
jobsim:   Ctrl-C stops the collector and the simulator.

`, sim.system.Simulates, sim.addr, endpoints[0].addr, endpoints[0].addr, health, endpoints[2].addr, endpoints[3].addr)
		}
	})

	select {
	case <-exited:
	case <-ctx.Done():
		fmt.Fprintln(stderr, "jobsim: stopping the collector")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(*grace):
			fmt.Fprintf(stderr, "jobsim: the collector is still running after %s: killing it\n", *grace)
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	stopSim()
	wg.Wait()
	switch code := cmd.ProcessState.ExitCode(); {
	case code < 0:
		return 1, fmt.Errorf("the collector ended: %s", cmd.ProcessState)
	case code > 0:
		return code, fmt.Errorf("the collector exited with code %d", code)
	}
	return 0, nil
}

// waitHealthy polls the health check until it answers 200 (true), or the
// collector exits or ctx ends (false).
func waitHealthy(ctx context.Context, url string, exited <-chan struct{}) bool {
	transport := &http.Transport{DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: time.Second, Transport: transport}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return false
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-exited:
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}
