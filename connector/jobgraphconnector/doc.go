// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package jobgraphconnector implements the job_graph connector: it finds
// which job classes enqueue which in job traces (internal/jobevent
// recognises the executions and the producer spans), counts each edge as
// jobqueue.graph.enqueues (traces -> metrics), and raises a job_cycle alert
// for each cycle among the live edges (traces -> logs). It is shaped like
// contrib's servicegraph connector: halves of edges wait in a bounded store,
// edges are bounded and expire.
package jobgraphconnector // import "github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"
