// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
)

// maxTracesBody bounds what the span-alert printer reads of one request.
const maxTracesBody = 32 << 20

// spanAlertPrinter receives the demo collector's traces over OTLP/HTTP
// (config/demo.yaml sends them to JOBSIM_SPAN_ALERTS_ENDPOINT) and prints
// the jobqueue.alert span events the processors put on job spans, one line
// each. The debug exporter prints spans without their events, so without it
// the traces pipeline's alerts would not show on the console.
type spanAlertPrinter struct {
	srv  *http.Server
	done chan struct{}
	mu   sync.Mutex // one line at a time
	out  io.Writer
}

// startSpanAlertPrinter listens on addr and serves until close.
func startSpanAlertPrinter(addr string, out io.Writer) (*spanAlertPrinter, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &spanAlertPrinter{out: out, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", p.traces)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(p.done)
		_ = p.srv.Serve(l)
	}()
	return p, nil
}

func (p *spanAlertPrinter) close() {
	_ = p.srv.Close()
	<-p.done
}

func (p *spanAlertPrinter) traces(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxTracesBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
	if err != nil {
		http.Error(w, "not an OTLP protobuf traces request: "+err.Error(), http.StatusBadRequest)
		return
	}
	p.print(td)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
}

// print writes one line per alert event of td.
func (p *spanAlertPrinter) print(td ptrace.Traces) {
	p.mu.Lock()
	defer p.mu.Unlock()
	forEachAlertEvent(td, func(span ptrace.Span, ev ptrace.SpanEvent) {
		attr := func(key string) string {
			v, _ := ev.Attributes().Get(key)
			return v.AsString()
		}
		fmt.Fprintf(p.out, "jobsim: span alert on %q: %s %s %s: %s\n", span.Name(),
			attr(alert.AttrSeverity), attr(alert.AttrName), attr(alert.AttrState), attr(alert.AttrSummary))
	})
}

// forEachAlertEvent calls fn with each jobqueue.alert span event of td.
func forEachAlertEvent(td ptrace.Traces, fn func(ptrace.Span, ptrace.SpanEvent)) {
	for _, rs := range td.ResourceSpans().All() {
		for _, ss := range rs.ScopeSpans().All() {
			for _, span := range ss.Spans().All() {
				for _, ev := range span.Events().All() {
					if ev.Name() == alert.EventName {
						fn(span, ev)
					}
				}
			}
		}
	}
}
