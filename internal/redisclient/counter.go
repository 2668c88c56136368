// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisclient // import "github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Counter is a go-redis hook that counts round trips (one per command sent
// alone, one per pipeline) and commands. Connection set-up (HELLO, AUTH,
// SELECT, CLIENT) also passes through hooks in go-redis; it is not counted
// because it happens once per pooled connection, not per use.
type Counter struct {
	roundTrips atomic.Int64
	commands   atomic.Int64
}

var _ redis.Hook = (*Counter)(nil)

// RoundTrips returns the round trips counted so far.
func (c *Counter) RoundTrips() int64 { return c.roundTrips.Load() }

// Commands returns the commands counted so far.
func (c *Counter) Commands() int64 { return c.commands.Load() }

// Reset sets both counts to zero.
func (c *Counter) Reset() {
	c.roundTrips.Store(0)
	c.commands.Store(0)
}

// DialHook implements redis.Hook.
func (*Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (c *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if !isConnSetup(cmd) {
			c.roundTrips.Add(1)
			c.commands.Add(1)
		}
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (c *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := int64(0)
		for _, cmd := range cmds {
			if !isConnSetup(cmd) {
				n++
			}
		}
		if n > 0 {
			c.roundTrips.Add(1)
			c.commands.Add(n)
		}
		return next(ctx, cmds)
	}
}

// isConnSetup tells the commands go-redis sends when it opens a connection
// (HELLO, AUTH, SELECT, CLIENT SETNAME/SETINFO) from the caller's, CLIENT
// LIST among them.
func isConnSetup(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select":
		return true
	case "client":
		args := cmd.Args()
		if len(args) < 2 {
			return false
		}
		sub, _ := args[1].(string)
		return strings.EqualFold(sub, "setname") || strings.EqualFold(sub, "setinfo")
	}
	return false
}
