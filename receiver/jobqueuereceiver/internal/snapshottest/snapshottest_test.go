// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshottest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLookUps(t *testing.T) {
	s := &snapshot.Snapshot{
		Queues: []snapshot.Queue{{Name: "a", Size: 1}, {Name: "b", Size: 2}},
		Jobs: []snapshot.StateCount{
			{State: "retry", Count: 3},
			{State: "failed", Queue: "a", Count: 4},
			{State: "active", Queue: "a", Count: 5},
			{State: "failed", Queue: "b", Count: 6},
		},
		Problems: []snapshot.Problem{
			{Kind: "wrong_type", Key: "k1"},
			{Kind: "wrong_type", Key: "k2"},
			{Kind: "invalid_json", Key: "k1"},
		},
	}
	assert.Equal(t, snapshot.Queue{Name: "b", Size: 2}, Queue(t, s, "b"))
	assert.Equal(t, []string{"a", "b"}, QueueNames(s))
	assert.Equal(t, map[string]int64{"failed": 4, "active": 5}, Jobs(s, "a"))
	assert.Equal(t, map[string]int64{"retry": 3}, Jobs(s, ""), "the system-wide states")
	assert.True(t, HasProblem(s, "invalid_json", "k1"))
	assert.False(t, HasProblem(s, "invalid_json", "k2"))
	assert.Equal(t, map[string]int{"wrong_type": 2, "invalid_json": 1}, ProblemKinds(s))
}
