// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Command jobsim plays a simulated background-job workload for the demo,
// tests and benchmarks of otelcol-jobs.
//
//	jobsim serve [--system sidekiq] [--listen 127.0.0.1:0 | --redis host:port] [--seed 1] [--tick 1s]
//	jobsim demo  [--system sidekiq] [--collector bin/otelcol-jobs] [--config config/demo.yaml] [...]
//
// serve keeps a living workload of a job system (Sidekiq 6.4 unless
// --system says otherwise) in an embedded Redis-protocol server (or in an
// empty Redis of yours) until interrupted. demo does the same and runs the
// collector against it as a child process.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage:
  jobsim serve [flags]   keep a simulated job system (--system, default Sidekiq 6.4) in Redis until interrupted
  jobsim demo [flags]    the same, plus the otelcol-jobs collector scraping it

Run "jobsim <command> -h" for the flags of a command.
`

// run executes one command and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var (
		code int
		err  error
	)
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], stdout, stderr)
	case "demo":
		code, err = demo(ctx, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "jobsim: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "jobsim: %v\n", err)
		return max(code, 1)
	}
	return code
}
