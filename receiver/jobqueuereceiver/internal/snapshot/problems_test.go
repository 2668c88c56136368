// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package snapshot

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProblemsBounded(t *testing.T) {
	var p Problems
	for range MaxProblems + 3 {
		p.Add("invalid_json", strings.Repeat("k", 1000), "detail")
	}
	list := p.List()
	require.Len(t, list, MaxProblems+1)
	assert.LessOrEqual(t, len(list[0].Key), 255, "keys are bounded")
	assert.Equal(t, KindTooManyProblems, list[MaxProblems].Kind)
	assert.Equal(t, "3 more problems not listed", list[MaxProblems].Detail)
}

func TestProblemsName(t *testing.T) {
	var p Problems
	assert.Equal(t, "ok", p.Name("ok", "k", "queue name"))
	assert.Equal(t, "caf\uFFFD", p.Name("caf\xe9", "k", "queue name"))
	assert.LessOrEqual(t, len(p.Name(strings.Repeat("q", 1000), "k", "queue name")), 255)
	list := p.List()
	require.Len(t, list, 2)
	assert.Equal(t, KindInvalidUTF8, list[0].Kind)
	assert.Equal(t, "queue name is not valid UTF-8", list[0].Detail)
	assert.Equal(t, KindNameTooLong, list[1].Kind)
	assert.Equal(t, "queue name of 1000 bytes shortened", list[1].Detail)
}
