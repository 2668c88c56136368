// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redisread

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFailure reads a real server: a missing key and a key of the wrong type
// are bad data, a refused command fails the round trip and names its key.
func TestFailure(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, admin.Set(ctx, "str", "x", 0).Err())

	pipe := admin.Pipeline()
	missing := pipe.Get(ctx, "absent")
	wrong := pipe.LLen(ctx, "str")
	cmds, err := pipe.Exec(ctx)
	require.Error(t, err)
	require.NoError(t, Failure("celery", "read", From(admin), cmds, err))
	require.ErrorIs(t, missing.Err(), redis.Nil)
	var p Problems
	assert.True(t, p.WrongType(wrong, "str"))
	assert.Equal(t, "not a list", p.List()[0].Detail)
	var hp Problems
	assert.True(t, hp.WrongType(admin.HExists(ctx, "str", "f"), "str"))
	assert.Equal(t, "not a hash", hp.List()[0].Detail)

	require.NoError(t, admin.Do(ctx, "ACL", "SETUSER", "ro", "on", ">pw", "~*", "-@all", "+get").Err())
	ro := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "ro", Password: "pw"})
	defer ro.Close()
	pipe = ro.Pipeline()
	pipe.Get(ctx, "str")
	pipe.LLen(ctx, "queue")
	cmds, err = pipe.Exec(ctx)
	err = Failure("celery", "read queues", From(ro), cmds, err)
	require.ErrorContains(t, err, "celery: read queues from "+srv.Addr()+": LLEN queue: NOPERM")

	// A SCAN is named by its pattern, not its cursor.
	pipe = ro.Pipeline()
	pipe.Scan(ctx, 0, "_kombu.binding.*", 100)
	cmds, err = pipe.Exec(ctx)
	err = Failure("celery", "discover queues", From(ro), cmds, err)
	require.ErrorContains(t, err, "celery: discover queues from "+srv.Addr()+": SCAN _kombu.binding.*: NOPERM")
}

func TestProblemsCount(t *testing.T) {
	var p Problems
	assert.Equal(t, int64(7), p.Count("7", "k", "busy"))
	assert.Zero(t, p.Count("seven", "k", "busy"))
	assert.Zero(t, p.Count("-2", "k", "busy"))
	list := p.List()
	require.Len(t, list, 2)
	assert.Equal(t, KindInvalidNumber, list[0].Kind)
	assert.Equal(t, "busy is not an integer", list[0].Detail)
	assert.Equal(t, "busy is negative", list[1].Detail)
}

func TestProblemsMembers(t *testing.T) {
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, admin.SAdd(ctx, "set", "a", "b", "c").Err())
	require.NoError(t, admin.Set(ctx, "str", "x", 0).Err())

	pipe := admin.Pipeline()
	count, bounded := pipe.SCard(ctx, "set"), pipe.SRandMemberN(ctx, "set", 2)
	strCount, str := pipe.SCard(ctx, "str"), pipe.SRandMemberN(ctx, "str", 2)
	cmds, err := pipe.Exec(ctx)
	require.NoError(t, Failure("rq", "read", "", cmds, err))
	var p Problems
	assert.Len(t, p.Members(bounded, count, "set"), 2)
	assert.Nil(t, p.Members(str, strCount, "str"))
	list := p.List()
	require.Len(t, list, 2)
	assert.Equal(t, KindRegistryTruncated, list[0].Kind)
	assert.Equal(t, "read 2 of 3 members", list[0].Detail)
	assert.Equal(t, KindWrongType, list[1].Kind)
}
