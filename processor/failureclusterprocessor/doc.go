// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package failureclusterprocessor implements the failure_cluster processor:
// it finds job executions in spans and log records (internal/jobevent), and
// raises failure_cluster when one job class fails in a burst and
// dependency_failure when one error fails many classes at once (the
// detector is internal/burst), as span events or appended log records. It
// annotates the failures of a firing cluster with the alert's id. The walk,
// the store, the batch's clock and the alert records are internal/jobpipeline's,
// shared with job_retry; this package wires the detector and its resolution
// timer. The timer sends its resolutions on at once, as a batch of their own:
// log records in a logs pipeline, span events on a span of the processor's
// own in a traces pipeline (jobpipeline.Pipeline.NewTraces).
package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"
