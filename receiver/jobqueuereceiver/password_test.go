// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// A wrong password must fail the scrape clearly (not read as an empty
// Sidekiq) and never appear in the logs.
func TestPasswordNeverLogged(t *testing.T) {
	const password = "correct-horse-battery-staple"
	srv := redistest.Start(t, redistest.WithArgs("--requirepass", "the-real-one"))
	cfg := configFor(srv.Addr())
	cfg.Password = password
	r := startReceiver(t, cfg)
	_, err := r.scrape(t)
	require.ErrorContains(t, err, "WRONGPASS")

	for _, e := range r.logs.All() {
		assert.NotContains(t, e.Message, password)
		assert.NotContains(t, fmt.Sprint(e.ContextMap()), password)
	}
	assert.NotContains(t, fmt.Sprintf("%+v", cfg), password, "the config prints redacted")
}
