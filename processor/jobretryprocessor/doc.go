// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package jobretryprocessor implements the job_retry processor: it finds job
// executions in spans and log records (internal/jobevent), annotates each with
// its retry count and raises an excessive_retries alert, as a span event or an
// appended log record, when a job retries more often than allowed. The walk,
// the store, the batch's clock and the alert records are
// internal/jobpipeline's, shared with failure_cluster; this package wires the
// detector (internal/retry) and the annotation. A resolution goes where a
// firing record does, on the successful execution that ends the retries:
// there is no timer.
package jobretryprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor"
