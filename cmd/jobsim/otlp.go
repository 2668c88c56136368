// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// emitEvery calls emit, every tick until ctx ends, with the time since the
// previous tick (from start at first): emit sends what happened in (from,
// to], and says whether there was anything to send. What the collector does
// not take (not up yet, restarting) is dropped; each new error is reported
// once, naming what was sent.
func emitEvery(ctx context.Context, tick time.Duration, start time.Time, log io.Writer, what string,
	emit func(ctx context.Context, from, to time.Time) (sent bool, err error),
) {
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	last, lastErr := start, ""
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			sent, err := emit(ctx, last, now)
			last = now
			switch {
			case !sent:
			case err == nil:
				lastErr = ""
			case err.Error() != lastErr && ctx.Err() == nil:
				lastErr = err.Error()
				fmt.Fprintf(log, "jobsim: sending %s: %v (dropping them until the collector takes them)\n", what, err)
			}
		}
	}
}

// otlpSender posts traces and logs to a collector's OTLP/HTTP receiver.
type otlpSender struct {
	base   string // http://host:port
	client *http.Client
}

func newOTLPSender(otlpHTTP string) otlpSender {
	return otlpSender{base: "http://" + otlpHTTP, client: &http.Client{Timeout: 5 * time.Second}}
}

func (s otlpSender) traces(ctx context.Context, td ptrace.Traces) error {
	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		return err
	}
	return postOTLP(ctx, s.client, s.base+"/v1/traces", body)
}

func (s otlpSender) logs(ctx context.Context, ld plog.Logs) error {
	body, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		return err
	}
	return postOTLP(ctx, s.client, s.base+"/v1/logs", body)
}

// postOTLP posts one OTLP/HTTP protobuf request body (an
// ExportTraceServiceRequest or ExportLogsServiceRequest: the same wire form
// as TracesData and LogsData) to url, e.g. http://host:4318/v1/traces.
func postOTLP(ctx context.Context, client *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
