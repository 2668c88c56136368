// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package redistest // import "github.com/otelcol-jobs/otelcol-jobs/internal/redistest"

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// RefusedSetUp is a server that refuses a client's connection set-up: go-redis
// reports such a refusal from a pipeline's Exec, not on each command.
type RefusedSetUp struct {
	Name string
	// Username, Password and DB are the refused client's credentials.
	Username, Password string
	DB                 int
	// Cause is what Redis's error says.
	Cause string

	start  []Option
	accept []any // the admin command that makes the server accept the client; nil: none can
}

// adminPassword is the default user's password where the server requires one.
const adminPassword = "secret"

// RefusedSetUps are the refusals a state store or a reader meets on day one:
// a wrong password, a db index the server lacks, and an ACL user without a
// command the state store needs (EVALSHA).
func RefusedSetUps() []RefusedSetUp {
	return []RefusedSetUp{
		{
			Name: "wrong password", Password: "wrong", Cause: "WRONGPASS",
			start: []Option{WithArgs("--requirepass", adminPassword)},
			// A second password for the default user: the admin's stays valid.
			accept: []any{"ACL", "SETUSER", "default", ">wrong"},
		},
		{Name: "db the server lacks", DB: 99, Cause: "DB index"},
		{
			Name: "user without EVALSHA", Username: "state", Password: "pw", Cause: "NOPERM",
			accept: []any{"ACL", "SETUSER", "state", "+evalsha"},
		},
	}
}

// Start starts the server that refuses the client, with the ACL user
// "state" (password "pw", every command but EVALSHA), and returns it with
// an administrator's client.
func (r RefusedSetUp) Start(tb testing.TB) (*Server, *redis.Client) {
	tb.Helper()
	srv := Start(tb, r.start...)
	opts := srv.Client(tb).Options()
	if len(r.start) > 0 { // the server requires the default user's password
		opts.Password = adminPassword
	}
	admin := redis.NewClient(opts)
	tb.Cleanup(func() { _ = admin.Close() })
	if err := admin.Do(context.Background(), "ACL", "SETUSER", "state", "on", ">pw", "~*", "+@all", "-evalsha").Err(); err != nil {
		tb.Fatalf("create the ACL user: %v", err)
	}
	return srv, admin
}

// Accept makes the live server accept the client; false when no change
// can (a db index the server lacks).
func (r RefusedSetUp) Accept(tb testing.TB, admin *redis.Client) bool {
	tb.Helper()
	if r.accept == nil {
		return false
	}
	if err := admin.Do(context.Background(), r.accept...).Err(); err != nil {
		tb.Fatalf("make the server accept the client: %v", err)
	}
	return true
}
