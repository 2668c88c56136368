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
// timer. The timer's resolutions go on at once in a logs pipeline, as a batch
// of their own; in a traces pipeline they wait for the next batch and travel
// as span events on its first job span (else its first span).
package failureclusterprocessor // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor"
