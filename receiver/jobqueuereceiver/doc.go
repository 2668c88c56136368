// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package jobqueuereceiver scrapes a background-job system's own Redis state
// (read-only) into queue, job, process and worker metrics, and, in a logs
// pipeline, into alert records decided from the same scrape.
package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"
