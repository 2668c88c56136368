// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// The printer prints each jobqueue.alert span event of the traces it is
// sent, one line each, and nothing for spans without one; it answers what
// is not OTLP protobuf with 400.
func TestSpanAlertPrinter(t *testing.T) {
	var out syncBuffer
	addr := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	p, err := startSpanAlertPrinter(addr, &out)
	require.NoError(t, err)
	defer p.close()

	td := ptrace.NewTraces()
	spans := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans()
	spans.AppendEmpty().SetName("default process") // no alert
	failing := spans.AppendEmpty()
	failing.SetName("critical process")
	failing.Events().AppendEmpty().SetName("exception")
	a := alert.Alert{Name: alert.FailureCluster, State: alert.StateFiring, Severity: alert.SeverityError,
		Summary: "PaymentCaptureJob: 12 failures in 5m", Time: time.Now()}
	a.AddSpanEvent(failing)
	body, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)

	client := &http.Client{Timeout: 5 * time.Second}
	url := "http://" + addr + "/v1/traces"
	require.NoError(t, postOTLP(context.Background(), client, url, body))
	assert.Equal(t, `jobsim: span alert on "critical process": ERROR failure_cluster firing: PaymentCaptureJob: 12 failures in 5m`+"\n", out.String())

	resp, err := client.Post(url, "application/x-protobuf", bytes.NewReader([]byte("not protobuf")))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
