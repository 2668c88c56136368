// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// errUsage reports bad command-line flags; the flag package has already
// printed what was wrong.
var errUsage = errors.New("usage")

// serve keeps the workload running until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("jobsim serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o simOptions
	o.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	sim, err := startSimulator(ctx, o, stderr)
	if err != nil {
		return err
	}
	defer sim.close()
	where := sim.addr
	if sim.database != "" {
		where = fmt.Sprintf("%s, database %s as %s", sim.addr, sim.database, sim.username)
	}
	fmt.Fprintf(stdout, "jobsim: serving a simulated %s workload on %s (seed %d); Ctrl-C stops\n", sim.system.Simulates, where, o.seed)
	sim.run(ctx)
	return nil
}

// parseFlags parses args, refusing stray positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}
