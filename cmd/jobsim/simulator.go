// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/otelcol-jobs/otelcol-jobs/cmd/jobsim/internal/workload"
	"github.com/otelcol-jobs/otelcol-jobs/internal/pgserver"
	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
)

// summaryEvery is how often a running simulator prints what it did.
const summaryEvery = 30 * time.Second

// simOptions are the flags shared by serve and demo.
type simOptions struct {
	system   string
	listen   string
	redis    string
	postgres string
	seed     uint64
	tick     time.Duration
}

func (o *simOptions) register(fs *flag.FlagSet) {
	systems := workload.Systems()
	names := make([]string, len(systems))
	for i, s := range systems {
		names[i] = s.Name
	}
	fs.StringVar(&o.system, "system", systems[0].Name, "the job system to simulate: "+strings.Join(names, ", "))
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "address of the embedded Redis-protocol server (port 0: any free port)")
	fs.StringVar(&o.redis, "redis", "", "write to this Redis (host:port, must be empty) instead of the embedded server")
	fs.StringVar(&o.postgres, "postgres", "", "PostgreSQL-backed systems (river): use this empty database (postgres://user@host:port/db) instead of starting a private PostgreSQL server")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed: the same seed plays the same workload")
	fs.DurationVar(&o.tick, "tick", time.Second, "simulation step")
}

// simulator is a job system's workload kept alive in one Redis or one
// PostgreSQL database.
type simulator struct {
	embedded *miniredis.Miniredis // nil when writing to an external Redis
	client   *redis.Client
	addr     string
	// The PostgreSQL-backed systems': the private server (nil with
	// --postgres), the pool, the database and the role the receiver reads as.
	pgServer *pgserver.Server
	pool     *pgxpool.Pool
	database string
	username string

	system   workload.System
	workload workload.Simulation
	tick     time.Duration
	log      io.Writer
}

// startSimulator starts the embedded server (or connects to o.redis) and
// prepares the demo scenario; nothing is written before run.
func startSimulator(ctx context.Context, o simOptions, log io.Writer) (*simulator, error) {
	if o.tick <= 0 {
		return nil, fmt.Errorf("--tick must be positive, got %s", o.tick)
	}
	system, ok := workload.Lookup(o.system)
	if !ok {
		return nil, fmt.Errorf("--system: jobsim does not simulate %q", o.system)
	}
	s := &simulator{system: system, tick: o.tick, log: log}
	if system.Postgres() {
		if err := s.startPostgres(ctx, o); err != nil {
			s.close()
			return nil, err
		}
		var err error
		if s.workload, err = system.NewPostgresDemo(s.pool, o.seed); err != nil {
			s.close()
			return nil, err
		}
		return s, nil
	}
	if o.redis == "" {
		s.embedded = miniredis.NewMiniRedis()
		s.embedded.ClockTTL(true) // process entries expire 60 s after their last beat, as in Redis
		if err := s.embedded.StartAddr(o.listen); err != nil {
			return nil, fmt.Errorf("embedded Redis server on %s: %w", o.listen, err)
		}
		s.addr = s.embedded.Addr()
	} else {
		s.addr = o.redis
	}
	cfg := redisclient.Config{Endpoint: s.addr}
	client, err := cfg.NewClient(ctx, 5*time.Second)
	if err != nil {
		s.close()
		return nil, err
	}
	s.client = client
	if o.redis != "" {
		// jobsim consumes the jobs it finds: never let it loose on real data.
		n, err := client.DBSize(ctx).Result()
		if err != nil {
			s.close()
			return nil, fmt.Errorf("redis %s: %w", o.redis, err)
		}
		if n > 0 {
			s.close()
			return nil, fmt.Errorf("redis %s holds %d keys; jobsim writes a simulated %s there and consumes the jobs it finds, so it needs an empty database", o.redis, n, system.Simulates)
		}
	}
	if s.workload, err = system.NewDemo(client, o.seed); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// run steps the workload every tick until ctx ends, then shuts the
// simulated processes down. A failing step is reported and retried on the
// next tick: Redis may come back. The demo runs the OTLP job span and log
// emitters (retries.go, incidents.go) beside it.
func (s *simulator) run(ctx context.Context) {
	ticker := time.NewTicker(s.tick)
	defer ticker.Stop()
	var (
		period, total workload.Report
		lastErr       string
		nextSummary   = time.Now().Add(summaryEvery)
	)
	for now := time.Now(); ; {
		r, err := s.workload.Step(ctx, now)
		period.Add(r)
		total.Add(r)
		switch {
		case err == nil:
			lastErr = ""
		case err.Error() != lastErr && ctx.Err() == nil: // report each new error once
			lastErr = err.Error()
			fmt.Fprintf(s.log, "jobsim: %v (retrying every %s)\n", err, s.tick)
		}
		if !now.Before(nextSummary) {
			fmt.Fprintf(s.log, "jobsim: last %s: %d jobs run, %d failed (%d to retry, %d dead); %d waiting in queues\n",
				summaryEvery, period.Succeeded+period.Failed, period.Failed, period.Retried, period.Died,
				total.Enqueued+total.Requeued-total.Fetched)
			period, nextSummary = workload.Report{}, now.Add(summaryEvery)
		}
		select {
		case <-ctx.Done():
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if _, err := s.workload.Stop(stopCtx, time.Now()); err != nil {
				fmt.Fprintf(s.log, "jobsim: stopping the simulated processes: %v\n", err)
			}
			return
		case now = <-ticker.C:
		}
	}
}

// close releases the client and stops the embedded server.
func (s *simulator) close() {
	if s.client != nil {
		_ = s.client.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.pgServer != nil {
		s.pgServer.Close()
	}
}

// demoRole is the role the collector reads a PostgreSQL-backed system as:
// SELECT only, read-only sessions, as the receiver's README advises.
const demoRole = "otelcol_jobs"

// startPostgres starts a private PostgreSQL server (or takes o.postgres),
// with an empty database and the receiver's read-only role.
func (s *simulator) startPostgres(ctx context.Context, o simOptions) error {
	url := o.postgres
	if url == "" {
		port, err := freePort(o.listen)
		if err != nil {
			return err
		}
		if s.pgServer, err = pgserver.Start(port); err != nil {
			if errors.Is(err, pgserver.ErrNotInstalled) {
				return fmt.Errorf("the %s demo runs a private PostgreSQL server, and %w; or pass --postgres with an empty database (make demo SYSTEM=%s DEMO_FLAGS=\"--postgres postgres://user@host:5432/db\")", s.system.Name, err, s.system.Name)
			}
			return fmt.Errorf("private PostgreSQL server: %w", err)
		}
		if url, err = s.pgServer.CreateDatabase(ctx, "jobsim"); err != nil {
			return err
		}
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("--postgres: %w", err)
	}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return err
	}
	var tables int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
		return fmt.Errorf("postgres %s: %w", cfg.ConnConfig.Host, err)
	}
	if tables > 0 {
		// jobsim runs the jobs it finds: never let it loose on real data.
		return fmt.Errorf("database %s holds %d tables; jobsim runs a real %s there, so it needs an empty database", cfg.ConnConfig.Database, tables, s.system.Simulates)
	}
	s.addr = fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	s.database, s.username = cfg.ConnConfig.Database, cfg.ConnConfig.User
	if s.pgServer == nil {
		return nil // the given database's owner decides who reads it
	}
	// Tables the job system creates later are readable by the role too.
	_, err = s.pool.Exec(ctx, `CREATE ROLE `+demoRole+` LOGIN;
		ALTER ROLE `+demoRole+` SET default_transaction_read_only = on;
		GRANT USAGE ON SCHEMA public TO `+demoRole+`;
		ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO `+demoRole)
	if err != nil {
		return fmt.Errorf("create the receiver's role: %w", err)
	}
	s.username = demoRole
	return nil
}

// freePort is a free TCP port on listen's host.
func freePort(listen string) (int, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return 0, fmt.Errorf("--listen: %w", err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
