// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Command jobqctl shows what the job_queue receiver sees in a job system's
// Redis or PostgreSQL, using the receiver's own code, and what reading it
// cost.
//
//	jobqctl snapshot --system sidekiq|resque|celery|asynq|bullmq|rq --endpoint host:port [--namespace NS]
//	    [--username USER] [--password-env VAR] [--db N] [--tls] [--tls-ca-file FILE]
//	    [--timeout 10s] [--stalled-after 5m] [--by-class N]
//	    [--queues-max N] [--include REGEXP]... [--exclude REGEXP]... [--queue NAME]...
//	    [--client-list] [--json]
//	jobqctl snapshot --system river|solid_queue|good_job|oban --endpoint host:port --database DB [--schema S]
//	    [--username ROLE] [--password-env VAR] [--tls] [--tls-ca-file FILE] [--estimate-above N]
//	    [--timeout 10s] [--stalled-after 5m] [--by-class N]
//	    [--queues-max N] [--include REGEXP]... [--exclude REGEXP]... [--json]
//	jobqctl graph (--prometheus URL | --otlp FILE) [--format dot|mermaid|svg|png] [--output FILE]
//
// The queue flags are the receiver's queues settings (max, include, exclude)
// with the same defaults and validation. Names from Redis that contain
// control or other non-printable characters are printed quoted, with Go
// escapes, so that no name can drive the terminal or forge a table row.
//
// graph draws the job dependency graph the job_graph connector exports
// (graph.go).
//
// Exit codes: 0 ok, 1 Redis, PostgreSQL or snapshot error (graph: the edges could not be
// read or drawn), 2 usage error.
package main // import "github.com/otelcol-jobs/otelcol-jobs/cmd/jobqctl"

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/confmap"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/internal/redisclient"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"
)

// Exit codes.
const (
	exitOK    = 0
	exitRedis = 1
	exitUsage = 2
)

func main() {
	// go-redis's own log lines (dial retries, sentinel discovery) would
	// interleave with the table; the error that matters is printed anyway.
	redisclient.RouteLibraryLogs(zap.NewNop())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

const usage = `usage: jobqctl snapshot --system sidekiq|resque|celery|asynq|bullmq|rq [flags]
       jobqctl snapshot --system river|solid_queue|good_job|oban --database DB [flags]
       jobqctl graph (--prometheus URL | --otlp FILE) [--format dot|mermaid|svg|png] [flags]

Takes one snapshot of a job system's Redis (or PostgreSQL tables) exactly as
the job_queue receiver does (read-only) and prints it, with the round trips and
commands (statements) it cost.
Like the receiver it shows at most --queues-max queues and says how many it
cut: --queues-max 0 shows all, --include and --exclude select by name.

graph draws which job classes enqueue which, cycles in red ("jobqctl graph -h").
`

// run is jobqctl without the process around it: arguments in, text out, an
// exit code back.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "graph" {
		return graphCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "snapshot" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usage)
			return exitOK
		}
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	cfg, asJSON, err := parseSnapshotFlags(args[1:], stderr, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "jobqctl: %v\n", err)
		return exitUsage
	}

	s, err := jobqueuereceiver.NewSnapshotter(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "jobqctl: %v\n", err)
		return exitUsage
	}
	defer s.Close()
	snap, err := s.Snapshot(ctx)
	if err != nil {
		// The reader's errors name the system, the server and possibly a key.
		fmt.Fprintf(stderr, "jobqctl: %s\n", printable(err.Error()))
		return exitRedis
	}

	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(snap)
	} else {
		err = printSnapshot(stdout, cfg, snap)
	}
	if err != nil {
		fmt.Fprintf(stderr, "jobqctl: write output: %v\n", err)
		return exitRedis
	}
	return exitOK
}

// parseSnapshotFlags turns the snapshot flags into a validated receiver
// configuration.
func parseSnapshotFlags(args []string, stderr io.Writer, getenv func(string) string) (*jobqueuereceiver.Config, bool, error) {
	cfg := jobqueuereceiver.NewDefaultConfig()
	fs := flag.NewFlagSet("jobqctl snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.System, "system", "", "job system: sidekiq, resque, celery, asynq, bullmq, rq (Redis); river, solid_queue, good_job, oban (PostgreSQL)")
	fs.StringVar(&cfg.Endpoint, "endpoint", cfg.Endpoint, "Redis host:port (PostgreSQL's, default localhost:5432, for the PostgreSQL-backed systems)")
	fs.StringVar(&cfg.Database, "database", "", "PostgreSQL database holding the job tables, as database")
	fs.StringVar(&cfg.Schema, "schema", "", "PostgreSQL schema holding the job tables (default public), as schema")
	fs.Int64Var(&cfg.Postgres.EstimateAbove, "estimate-above", cfg.Postgres.EstimateAbove, "PostgreSQL: count a state beyond this many rows by the planner's estimate (0 = always exact), as postgres.estimate_above")
	fs.StringVar(&cfg.Sentinel.MasterName, "sentinel-master", "", "find the master through Redis Sentinel under this name (with --sentinel)")
	sentinels := fs.String("sentinel", "", "comma-separated host:port of Redis Sentinels (with --sentinel-master; --endpoint is then not used)")
	fs.StringVar(&cfg.Namespace, "namespace", "", "key namespace (Sidekiq <= 6 redis-namespace; Resque: default resque; BullMQ: its prefix, default bull; Celery: kombu's global_keyprefix)")
	fs.StringVar(&cfg.Username, "username", "", "Redis ACL user, or PostgreSQL role")
	passwordEnv := fs.String("password-env", "", "name of the environment variable holding the Redis (or PostgreSQL) password")
	fs.IntVar(&cfg.DB, "db", 0, "Redis database number")
	useTLS := fs.Bool("tls", false, "connect with TLS (system roots unless --tls-ca-file)")
	caFile := fs.String("tls-ca-file", "", "CA certificate to verify the server with (implies --tls)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "give up after this long")
	fs.DurationVar(&cfg.StalledAfter, "stalled-after", cfg.StalledAfter, "in-flight jobs older than this are stalled")
	byClass := fs.Int("by-class", 0, "also break retry/dead down by class and error, reading the newest N entries of each set (0 = off)")
	fs.IntVar(&cfg.Queues.Max, "queues-max", cfg.Queues.Max, "show at most this many queues, by name order (0 = all), as the receiver's queues.max")
	fs.Var((*matchers)(&cfg.Queues.Include), "include", "show only queues whose name matches `regexp` (repeatable: any of them), as queues.include")
	fs.Var((*matchers)(&cfg.Queues.Exclude), "exclude", "hide queues whose name matches `regexp` (repeatable), as queues.exclude")
	fs.Var((*patterns)(&cfg.Queues.Names), "queue", "read this queue instead of discovering them with SCAN (repeatable), as queues.names (BullMQ, Celery)")
	steps := fs.String("celery-priority-steps", "", "Celery: kombu's priority_steps, comma-separated, as celery.priority_steps (default 0,3,6,9)")
	fs.StringVar(&cfg.Celery.Sep, "celery-sep", "", `Celery: kombu's sep, as celery.sep (default "\x06\x16")`)
	fs.BoolVar(&cfg.Celery.Results.Enabled, "celery-results", false, "Celery: also count the result backend's task states, as celery.results.enabled")
	fs.BoolVar(&cfg.ClientList, "client-list", false, "BullMQ: read the workers with CLIENT LIST, as client_list (needs +client|list)")
	asJSON := fs.Bool("json", false, "print the snapshot as JSON (durations in nanoseconds)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage+"\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, false, err
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *sentinels != "" {
		cfg.Sentinel.Addresses = strings.Split(*sentinels, ",")
	}
	endpointSet := false
	fs.Visit(func(f *flag.Flag) { endpointSet = endpointSet || f.Name == "endpoint" })
	if !endpointSet && cfg.IsPostgres() {
		cfg.Endpoint = "localhost:5432"
	}
	if *passwordEnv != "" {
		pw := getenv(*passwordEnv)
		if pw == "" {
			return nil, false, fmt.Errorf("--password-env: environment variable %s is empty or unset", *passwordEnv)
		}
		cfg.Password = configopaque.String(pw)
	}
	if *useTLS || *caFile != "" {
		tlsCfg := configtls.NewDefaultClientConfig()
		tlsCfg.CAFile = *caFile
		cfg.TLS = configoptional.Some(tlsCfg)
	}
	if *steps != "" {
		for _, s := range strings.Split(*steps, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return nil, false, fmt.Errorf("--celery-priority-steps: %q is not an integer", s)
			}
			cfg.Celery.PrioritySteps = append(cfg.Celery.PrioritySteps, n)
		}
	}
	if *byClass < 0 {
		return nil, false, fmt.Errorf("--by-class: must be >= 0, got %d", *byClass)
	}
	if *byClass > 0 {
		cfg.Metrics.JobqueueJobsByClass.Enabled = true
		cfg.ByClass.MaxEntries = *byClass
	}
	// One snapshot is taken, so the collection interval only has to admit
	// the timeout.
	cfg.CollectionInterval = max(cfg.CollectionInterval, cfg.Timeout)
	if err := confmap.Validate(cfg); err != nil {
		return nil, false, err
	}
	return cfg, *asJSON, nil
}

// patterns is a repeatable flag collecting regular expressions; the
// receiver's configuration validation compiles them.
type patterns []string

func (p *patterns) String() string { return strings.Join(*p, " ") }

func (p *patterns) Set(v string) error {
	*p = append(*p, v)
	return nil
}

// matchers are repeated -include or -exclude regular expressions.
type matchers []jobqueuereceiver.QueueMatch

func (m *matchers) String() string {
	res := make([]string, len(*m))
	for i, q := range *m {
		res[i] = q.Regex
	}
	return strings.Join(res, " ")
}

func (m *matchers) Set(v string) error {
	*m = append(*m, jobqueuereceiver.QueueMatch{Regex: v})
	return nil
}

// printSnapshot writes the snapshot as tables. Every string read from Redis
// goes through printable.
func printSnapshot(w io.Writer, cfg *jobqueuereceiver.Config, s *jobqueuereceiver.Snapshot) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ns := ""
	if cfg.Namespace != "" {
		ns = fmt.Sprintf(" namespace %q", cfg.Namespace)
	}
	target, store, commands := cfg.Target(), "Redis", "commands"
	if cfg.IsPostgres() {
		conn := cfg.PostgresConnection()
		target, store, commands = conn.Target(), "PostgreSQL", "statements"
		ns = fmt.Sprintf(" schema %q", conn.Schema)
	}
	fmt.Fprintf(tw, "%s at %s%s, %s\n", s.System, target, ns, s.Time.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "%s cost: %d round trips, %d %s\n", store, s.RoundTrips, s.Commands, commands)

	fmt.Fprintf(tw, "\nQUEUE\tSIZE\tLATENCY\tRUNNING\tLONGEST RUNNING\tSTALLED\tPAUSED\n")
	for _, q := range s.Queues {
		paused := "-"
		if q.PausedKnown {
			paused = yesNo(q.Paused)
		}
		latency := "-" // the system's jobs carry no enqueue time
		if !q.LatencyUnknown {
			latency = duration(q.Latency)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%d\t%s\n",
			printable(q.Name), q.Size, latency, q.Running, duration(q.RunningMaxAge), q.Stalled, paused)
	}
	fmt.Fprintf(tw, "%d of %d discovered queues shown", len(s.Queues), s.QueuesDiscovered)
	if s.QueuesDropped > 0 {
		fmt.Fprintf(tw, " (%d more cut by --queues-max %d, by name order; --queues-max 0 shows all)", s.QueuesDropped, cfg.Queues.Max)
	}
	fmt.Fprintln(tw)

	fmt.Fprintf(tw, "\nSTATE\tQUEUE\tJOBS\n")
	estimated := false
	for _, j := range s.Jobs {
		approx := ""
		if j.Estimated {
			approx, estimated = "~", true
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%d\n", j.State, orDash(printable(j.Queue)), approx, j.Count)
	}
	if estimated {
		fmt.Fprintf(tw, "~ the planner's estimate: the state holds more than --estimate-above %d rows\n", cfg.Postgres.EstimateAbove)
	}
	fmt.Fprintf(tw, "\nTOTALS\tPROCESSED\tFAILED\n")
	for _, t := range s.Totals {
		scope := "all queues"
		if t.Queue != "" {
			scope = printable(t.Queue)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", scope, t.Processed, t.Failed)
	}

	if s.ProcessesUnknown {
		fmt.Fprintf(tw, "\nno processes: %s registers no workers in %s\n", s.System, store)
	} else {
		fmt.Fprintf(tw, "\nPROCESS\tHOST\tPID\tBUSY\tCAPACITY\tMEMORY\tHEARTBEAT AGE\tQUIET\n")
		for _, p := range s.Processes {
			mem := "-"
			if p.MemoryKnown {
				mem = bytesIEC(p.MemoryBytes)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\t%s\n",
				printable(p.ID), printable(p.Hostname), p.PID, p.Busy, p.Concurrency, mem, duration(p.HeartbeatAge), yesNo(p.Quiet))
		}
		fmt.Fprintf(tw, "%d live processes, %d of %d worker slots busy, %d stale registry entries\n",
			len(s.Processes), s.WorkersBusy(), s.WorkersCapacity(), s.ProcessesStale)
	}

	if len(s.ByClass) > 0 {
		fmt.Fprintf(tw, "\nSTATE\tCLASS\tERROR\tJOBS\n")
		for _, c := range s.ByClass {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", c.State, printable(c.Class), orDash(printable(c.ErrorType)), c.Count)
		}
	}
	if len(s.Problems) > 0 {
		fmt.Fprintf(tw, "\nPROBLEM\tKEY\tDETAIL\n")
		for _, p := range s.Problems {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Kind, printable(p.Key), printable(p.Detail))
		}
	}
	return tw.Flush()
}

// printable returns s as is when every character in it is printable (spaces
// other than U+0020 are not), else s quoted with Go escapes: an ESC, a
// carriage return or a tab in a name read from Redis is shown, never
// interpreted by the terminal or the table.
func printable(s string) string {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func duration(d time.Duration) string { return d.Round(time.Millisecond).String() }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bytesIEC formats a byte count with a binary unit, e.g. "150.0 MiB".
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
