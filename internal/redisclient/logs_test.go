// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

// TestRouteLibraryLogs: a pool that cannot dial logs through zap, at debug
// level and under the go-redis name, instead of printing on stderr.
func TestRouteLibraryLogs(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	routeLibraryLogs(zap.New(core)) // not once: the test may run again
	t.Cleanup(func() { routeLibraryLogs(zap.NewNop()) })

	cfg := Config{Endpoint: "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))}
	client, err := cfg.NewClient(context.Background(), time.Second)
	require.NoError(t, err)
	defer client.Close()
	require.Error(t, client.Ping(context.Background()).Err())

	require.NotZero(t, logs.Len(), "go-redis logged nothing through zap")
	for _, e := range logs.All() {
		assert.Equal(t, zapcore.DebugLevel, e.Level)
		assert.Equal(t, "go-redis", e.LoggerName)
	}
	assert.Contains(t, logs.All()[0].Message, "dial")
}
