// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph"
)

const graphUsage = `usage: jobqctl graph (--prometheus URL | --otlp FILE) [--format dot|mermaid|svg|png] [--output FILE]

Draws the job dependency graph that the job_graph connector exports
(jobqueue.graph.enqueues: which job classes enqueue which): one box per
class, one arrow per parent, child and queue, wider the more jobs went along
it, and every cycle (classes that enqueue each other, or themselves) in red.

--prometheus reads a collector's Prometheus exporter when the URL's path ends
in /metrics (e.g. http://127.0.0.1:8889/metrics), else asks the Prometheus
server at the URL (e.g. http://prometheus:9090) for each edge's total.
--otlp reads a file the collector's file exporter wrote (format: json).
`

// exitGraph is jobqctl graph's exit code when the edges cannot be read or
// drawn (usage errors exit with exitUsage).
const exitGraph = 1

// graphCmd is jobqctl graph: it reads the edges, writes the picture to
// stdout (or --output) and a one-line summary, cycles named, to stderr.
func graphCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jobqctl graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prometheus := fs.String("prometheus", "", "read the edges from this Prometheus server, or collector Prometheus exporter (a URL ending in /metrics)")
	otlpFile := fs.String("otlp", "", "read the edges from this OTLP JSON file, as the collector's file exporter writes it")
	format := fs.String("format", string(jobgraph.FormatDOT), "output format: dot, mermaid, svg or png")
	output := fs.String("output", "", "write the graph to this file instead of stdout")
	timeout := fs.Duration("timeout", 10*time.Second, "give up reading --prometheus after this long")
	fs.Usage = func() {
		fmt.Fprint(stderr, graphUsage+"\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "jobqctl graph: "+format+"\n", a...)
		return exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	case (*prometheus == "") == (*otlpFile == ""):
		return usageErr("give one of --prometheus URL or --otlp FILE")
	case !slices.Contains(jobgraph.Formats, jobgraph.Format(*format)):
		return usageErr("--format: %q is not one of dot, mermaid, svg, png", *format)
	case *timeout <= 0:
		return usageErr("--timeout: must be > 0, got %s", *timeout)
	case jobgraph.Format(*format) == jobgraph.FormatPNG && *output == "" && isTerminal(stdout):
		return usageErr("--format png: a PNG on the terminal is noise: pass --output FILE or redirect stdout")
	}

	edges, source, err := readEdges(ctx, *prometheus, *otlpFile, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "jobqctl graph: %s\n", printable(err.Error()))
		return exitGraph
	}
	if len(edges) == 0 {
		fmt.Fprintf(stderr, "jobqctl graph: %s holds no %s series with a parent and a child class: is the job_graph connector "+
			"in a traces pipeline feeding its metrics there, and have job spans that enqueue jobs reached it?\n",
			printable(source), jobgraphconnector.MetricEnqueues)
		return exitGraph
	}
	g := jobgraph.New(edges)

	w, closeOutput, err := openOutput(*output, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "jobqctl graph: %v\n", err)
		return exitGraph
	}
	err = errors.Join(jobgraph.Write(ctx, w, g, jobgraph.Format(*format)), closeOutput())
	if err != nil {
		fmt.Fprintf(stderr, "jobqctl graph: write the graph: %v\n", err)
		return exitGraph
	}
	fmt.Fprintln(stderr, summary(g))
	return exitOK
}

// isTerminal reports whether w is a terminal (a character device, as
// /dev/tty is).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// readEdges reads the edges from the one source given, and names it.
func readEdges(ctx context.Context, prometheus, otlpFile string, timeout time.Duration) ([]jobgraph.Edge, string, error) {
	if otlpFile != "" {
		f, err := os.Open(otlpFile)
		if err != nil {
			return nil, otlpFile, err
		}
		defer f.Close()
		edges, err := jobgraph.ReadOTLPJSON(f)
		if err != nil {
			return nil, otlpFile, fmt.Errorf("%s: %w", otlpFile, err)
		}
		return edges, otlpFile, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	transport := &http.Transport{DisableKeepAlives: true}
	defer transport.CloseIdleConnections()
	edges, err := jobgraph.ReadPrometheus(ctx, &http.Client{Transport: transport}, prometheus)
	return edges, prometheus, err
}

// openOutput returns the file at path (created or truncated), or stdout
// when path is empty, and how to close it.
func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

// summary is one line on the graph and its cycles, e.g.
// "jobqctl graph: 5 classes, 4 edges, 2050 jobs enqueued; 1 cycle (red): A, B".
func summary(g *jobgraph.Graph) string {
	var jobs float64
	for _, e := range g.Edges {
		jobs += e.Count
	}
	var b strings.Builder
	fmt.Fprintf(&b, "jobqctl graph: %d classes, %d edges, %.0f jobs enqueued", len(g.Classes), len(g.Edges), jobs)
	switch len(g.Cycles) {
	case 0:
		b.WriteString("; no cycle")
	case 1:
		b.WriteString("; 1 cycle (red): ")
	default:
		fmt.Fprintf(&b, "; %d cycles (red): ", len(g.Cycles))
	}
	for i, classes := range g.Cycles {
		if i > 0 {
			b.WriteString("; ")
		}
		for j, c := range classes {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(printable(c))
		}
	}
	return b.String()
}
