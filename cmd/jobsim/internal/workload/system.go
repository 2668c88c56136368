// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package workload simulates job-system deployments in Redis for the demo,
// tests and benchmarks: each simulator writes the keys its job library
// writes, with the same commands, so the job_queue receiver (and the
// library's own API) reads it as a real deployment. River, kept in
// PostgreSQL, runs as itself: the real River library with workers that only
// sleep and fail (river.go). Redis holds the jobs; a
// simulator keeps only what the library keeps in process memory (running
// jobs, unflushed counters).
//
// Time is passed in, never read, so a test can play minutes of workload in
// a fraction of a second, and the same seed with the same times writes the
// same state.
//
// # Adding a job system
//
// A system is a type with the two methods of [Simulation], in a file of its
// own (<system>.go, with its tests beside it), plus one line in systems
// below: the receiver's `system` value, what is simulated (library and
// version, shown by jobsim) and a constructor of its demo workload. `jobsim
// demo --system <name>` (`make demo SYSTEM=<name>`) then steps it every
// tick and runs the collector with config/demo.yaml and JOBSIM_SYSTEM=<name>
// in its environment. The demo workload should show the receiver's alerts
// firing and resolving within a few minutes, as [Demo] does for Sidekiq;
// reuse [Scenario] where its notions fit the system.
package workload // import "github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Simulation is one job system's deployment played against one Redis
// database. jobsim calls Step every tick with the current time and Stop
// once at the end; neither is called concurrently.
type Simulation interface {
	// Step advances the simulation to now. The first Step seeds what
	// exists before the start (queues, backlogs, running jobs, workers).
	// An error leaves the simulation able to Step again: Redis may come
	// back.
	Step(ctx context.Context, now time.Time) (Report, error)
	// Stop shuts the simulated workers down as the library does on a
	// graceful shutdown.
	Stop(ctx context.Context, now time.Time) (Report, error)
}

// System is a job system jobsim can simulate.
type System struct {
	// Name is the job_queue receiver's `system` value.
	Name string
	// Simulates names the library and version whose Redis layout is
	// written, e.g. "Sidekiq 6.4".
	Simulates string
	// NewDemo prepares the demo workload writing to rdb, played with seed;
	// nothing is written before the first Step. Nil for systems kept in
	// PostgreSQL.
	NewDemo func(rdb *redis.Client, seed uint64) (Simulation, error)
	// NewPostgresDemo prepares the demo workload of a system kept in
	// PostgreSQL, on pool's (empty) database; nil for Redis-backed ones.
	NewPostgresDemo func(pool *pgxpool.Pool, seed uint64) (Simulation, error)
}

// Postgres says whether the system keeps its jobs in PostgreSQL.
func (s System) Postgres() bool { return s.NewPostgresDemo != nil }

// systems are the simulated job systems, one line each; the first is the
// default.
var systems = []System{
	{Name: "sidekiq", Simulates: "Sidekiq 6.4", NewDemo: func(rdb *redis.Client, seed uint64) (Simulation, error) {
		return NewSidekiq(rdb, Demo(), seed)
	}},
	{Name: "bullmq", Simulates: "BullMQ 6.7", NewDemo: func(rdb *redis.Client, seed uint64) (Simulation, error) {
		return NewBullMQ(rdb, Demo(), seed)
	}},
	{Name: "resque", Simulates: "Resque 3.0", NewDemo: func(rdb *redis.Client, seed uint64) (Simulation, error) {
		return NewResque(rdb, Demo(), seed)
	}},
	{Name: "celery", Simulates: "Celery 5.2 (kombu 5.2 Redis transport)", NewDemo: func(rdb *redis.Client, seed uint64) (Simulation, error) {
		return NewCelery(rdb, Demo(), seed)
	}},
	{Name: "asynq", Simulates: "asynq 0.26", NewDemo: func(rdb *redis.Client, seed uint64) (Simulation, error) {
		return NewAsynq(rdb, Demo(), seed)
	}},
	{Name: "rq", Simulates: "RQ 1.13", NewDemo: func(rdb *redis.Client, seed uint64) (Simulation, error) {
		return NewRQ(rdb, Demo(), seed)
	}},
	{Name: "river", Simulates: "River 0.51 (the real River client and workers)", NewPostgresDemo: func(pool *pgxpool.Pool, seed uint64) (Simulation, error) {
		return NewRiver(pool, seed)
	}},
}

// Systems returns the simulated job systems, the default first.
func Systems() []System { return slices.Clone(systems) }

// Lookup returns the simulated job system called name.
func Lookup(name string) (System, bool) {
	i := slices.IndexFunc(systems, func(s System) bool { return s.Name == name })
	if i < 0 {
		return System{}, false
	}
	return systems[i], true
}
