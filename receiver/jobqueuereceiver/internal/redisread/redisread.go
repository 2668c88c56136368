// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package redisread holds what every Redis-backed reader of the job_queue
// receiver needs around its pipelined reads: checks of Redis replies that
// record bad data in the snapshot's Problems, and the rule that tells a failed round trip
// (Failure) from a key of the wrong type, which is only bad data.
package redisread // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/redisread"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// Problem kinds (snapshot.Problem.Kind) that this package reports itself;
// the store-agnostic ones are snapshot's.
const (
	KindWrongType = "wrong_type"
	// KindRegistryTruncated: a registry had more members than a reader
	// reads (see Members).
	KindRegistryTruncated = "registry_truncated"
	// KindInvalidNumber: a count that is not a non-negative integer.
	KindInvalidNumber = "invalid_number"
)

// Problems is snapshot.Problems with the checks of Redis replies.
type Problems struct {
	snapshot.Problems
}

// Members returns a registry's members as a bounded read (SRANDMEMBER with
// a count) returned them; count is the registry's SCARD, to tell (and record
// as KindRegistryTruncated) when the read could not take them all.
func (p *Problems) Members(cmd *redis.StringSliceCmd, count *redis.IntCmd, key string) []string {
	if p.WrongType(cmd, key) {
		return nil
	}
	m := cmd.Val()
	if n := count.Val(); n > int64(len(m)) {
		p.Add(KindRegistryTruncated, key,
			"read "+strconv.Itoa(len(m))+" of "+strconv.FormatInt(n, 10)+" members")
	}
	return m
}

// Counter reads a counter kept as a string (Sidekiq's and Resque's
// stat:processed): a missing one is 0; ok is false when it is of the wrong
// type or not a non-negative integer (recorded).
func (p *Problems) Counter(cmd *redis.StringCmd, key string) (n int64, ok bool) {
	if p.WrongType(cmd, key) {
		return 0, false
	}
	raw := cmd.Val()
	if raw == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		p.Add(KindInvalidNumber, key, "not a non-negative integer")
		return 0, false
	}
	return n, true
}

// Count parses a non-negative integer field named field of key; a bad value
// is recorded as KindInvalidNumber and counts 0.
func (p *Problems) Count(raw, key, field string) int64 {
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		p.Add(KindInvalidNumber, key, field+" is not an integer")
		return 0
	}
	return p.NonNegative(n, key, field)
}

// NonNegative returns n, or 0 (recorded as KindInvalidNumber) when n < 0.
func (p *Problems) NonNegative(n int64, key, field string) int64 {
	if n < 0 {
		p.Add(KindInvalidNumber, key, field+" is negative")
		return 0
	}
	return n
}

// WrongType reports (and records) a WRONGTYPE reply: a key that is not of
// the type the job system uses. Other errors never get here (see Failure).
func (p *Problems) WrongType(cmd redis.Cmder, key string) bool {
	if IsWrongType(cmd.Err()) {
		p.Add(KindWrongType, key, "not a "+expectedType(cmd.Name()))
		return true
	}
	return false
}

// IsWrongType tells a WRONGTYPE reply.
func IsWrongType(err error) bool { return err != nil && redis.HasErrorPrefix(err, "WRONGTYPE") }

func expectedType(command string) string {
	switch command {
	case "scard", "srandmember", "smembers", "sscan":
		return "set"
	case "zcard", "zrange", "zrevrange", "zrangebyscore", "zcount":
		return "sorted set"
	case "llen", "lindex", "lrange":
		return "list"
	case "hlen", "hget", "hmget", "hgetall", "hvals", "hrandfield", "hexists":
		return "hash"
	}
	return "string"
}

// From names the server a client talks to, as " from host:port", for error
// messages; "" when the client does not say.
func From(client redis.Cmdable) string {
	if c, ok := client.(interface{ Options() *redis.Options }); ok {
		return " from " + c.Options().Addr
	}
	return ""
}

// Failure returns the error that fails a whole round trip of system's
// reader: the pipeline did not get through (unreachable, timeout), or the
// server refused a command (NOPERM, LOADING, ...), named with its key. A
// missing key or a WRONGTYPE reply is bad data, handled key by key, and
// gives nil. from is what From returned.
func Failure(system, stage, from string, cmds []redis.Cmder, execErr error) error {
	if execErr == nil {
		return nil
	}
	explained := false
	for _, cmd := range cmds {
		err := cmd.Err()
		if err == nil {
			continue
		}
		if errors.Is(err, redis.Nil) || IsWrongType(err) {
			explained = true
			continue
		}
		var reply redis.Error
		if errors.As(err, &reply) {
			key, _, _ := snapshot.Name(subject(cmd.Args()))
			return fmt.Errorf("%s: %s%s: %s %s: %w", system, stage, from, strings.ToUpper(cmd.Name()), key, err)
		}
		return fmt.Errorf("%s: %s%s: %w", system, stage, from, err)
	}
	// A reply error that no command carries came from setting up the
	// connection (e.g. WRONGPASS from AUTH): nothing was read.
	var reply redis.Error
	if !explained || !errors.As(execErr, &reply) {
		return fmt.Errorf("%s: %s%s: %w", system, stage, from, execErr)
	}
	return nil
}

// subject is what a refused command read, for its error: the key, or a
// SCAN's MATCH pattern (its first argument is only a cursor).
func subject(args []any) string {
	if len(args) < 2 {
		return ""
	}
	if name, _ := args[0].(string); strings.EqualFold(name, "scan") {
		for i := 2; i+1 < len(args); i++ {
			if s, _ := args[i].(string); strings.EqualFold(s, "match") {
				return fmt.Sprint(args[i+1])
			}
		}
	}
	return fmt.Sprint(args[1])
}
