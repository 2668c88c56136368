// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraph

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/goccy/go-graphviz"
	"github.com/goccy/go-graphviz/gvc"
)

// Format is an output format of Write.
type Format string

const (
	FormatDOT     Format = "dot"
	FormatMermaid Format = "mermaid"
	FormatSVG     Format = "svg"
	FormatPNG     Format = "png"
)

// Formats lists the formats Write knows.
var Formats = []Format{FormatDOT, FormatMermaid, FormatSVG, FormatPNG}

// cycleColor draws the edges and classes of cycles.
const cycleColor = "red"

// Edge widths run from minWidth (the fewest jobs) to maxWidth (the most),
// by the logarithm of the count: a fan-out of a million rows and an edge of
// ten jobs both stay visible.
const (
	minWidth = 1.0
	maxWidth = 6.0
)

// Width is the line width of an edge with count jobs in a graph whose
// largest edge has most.
func Width(count, most float64) float64 {
	if most <= 0 || count <= 0 {
		return minWidth
	}
	return minWidth + (maxWidth-minWidth)*math.Log1p(count)/math.Log1p(most)
}

// Write writes g to w in format. SVG and PNG are laid out and rendered by
// Graphviz (go-graphviz: Graphviz compiled to WebAssembly, run in-process).
func Write(ctx context.Context, w io.Writer, g *Graph, format Format) error {
	switch format {
	case FormatDOT:
		return writeDOT(w, g)
	case FormatMermaid:
		return writeMermaid(w, g)
	case FormatSVG, FormatPNG:
		return render(ctx, w, g, graphviz.Format(format))
	}
	return fmt.Errorf("unknown format %q (one of %s)", format, formatList())
}

func formatList() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// edgeLabel is an edge's count of jobs and the queue they went to.
func edgeLabel(e Edge) string {
	label := strconv.FormatFloat(e.Count, 'f', -1, 64)
	if e.Queue != "" {
		label += " (" + e.Queue + ")"
	}
	return label
}

// writeDOT writes g in Graphviz's language: classes as nodes n0, n1...
// (in Classes order) labelled with their names, so that no class name can
// break the syntax.
func writeDOT(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	id := make(map[string]int, len(g.Classes))
	bw.WriteString("digraph jobs {\n")
	bw.WriteString("  graph [rankdir=LR, fontname=\"Helvetica\"];\n")
	bw.WriteString("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#f4f4f4\", fontname=\"Helvetica\"];\n")
	bw.WriteString("  edge [fontname=\"Helvetica\", fontsize=10, color=\"#555555\"];\n")
	for i, c := range g.Classes {
		id[c] = i
		fmt.Fprintf(bw, "  n%d [label=%s", i, dotString(c))
		if g.CycleOf(c) >= 0 {
			fmt.Fprintf(bw, ", color=%s, fontcolor=%s", cycleColor, cycleColor)
		}
		bw.WriteString("];\n")
	}
	most := g.MaxCount()
	for _, e := range g.Edges {
		fmt.Fprintf(bw, "  n%d -> n%d [label=%s, penwidth=%.2f", id[e.Parent], id[e.Child], dotString(edgeLabel(e)), Width(e.Count, most))
		if e.System != "" {
			fmt.Fprintf(bw, ", tooltip=%s", dotString(e.System))
		}
		if g.InCycle(e) {
			fmt.Fprintf(bw, ", color=%s, fontcolor=%s", cycleColor, cycleColor)
		}
		bw.WriteString("];\n")
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

// dotString quotes s for DOT. Backslashes are doubled: in a label, \N, \G
// or \l would be Graphviz escapes (a Laravel class App\Notifications\X
// would show the node's name). Characters that are not printable are
// written as Go escapes.
func dotString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError || !strconv.IsPrint(r):
			b.WriteString(strings.ReplaceAll(strings.Trim(strconv.QuoteRune(r), "'"), `\`, `\\`))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// writeMermaid writes g as a Mermaid flowchart: classes as nodes n0, n1...
// with their names as labels, edge widths and the cycles' color as
// linkStyle (edges are numbered in the order they are written).
func writeMermaid(w io.Writer, g *Graph) error {
	bw := bufio.NewWriter(w)
	id := make(map[string]int, len(g.Classes))
	bw.WriteString("flowchart LR\n")
	var inCycle []string
	for i, c := range g.Classes {
		id[c] = i
		fmt.Fprintf(bw, "  n%d[%s]\n", i, mermaidString(c))
		if g.CycleOf(c) >= 0 {
			inCycle = append(inCycle, "n"+strconv.Itoa(i))
		}
	}
	most := g.MaxCount()
	for _, e := range g.Edges {
		fmt.Fprintf(bw, "  n%d -->|%s| n%d\n", id[e.Parent], mermaidString(edgeLabel(e)), id[e.Child])
	}
	for i, e := range g.Edges {
		fmt.Fprintf(bw, "  linkStyle %d stroke-width:%.1fpx", i, Width(e.Count, most))
		if g.InCycle(e) {
			fmt.Fprintf(bw, ",stroke:%s,color:%s", cycleColor, cycleColor)
		}
		bw.WriteString("\n")
	}
	if len(inCycle) > 0 {
		fmt.Fprintf(bw, "  classDef cycle stroke:%s,color:%s\n", cycleColor, cycleColor)
		fmt.Fprintf(bw, "  class %s cycle\n", strings.Join(inCycle, ","))
	}
	return bw.Flush()
}

// mermaidString quotes s for a Mermaid label. Mermaid has no escape
// character inside quotes: characters that its parser or its HTML
// rendering would read (quotes, #, <, >, &, |) and the ones that are not
// printable are written as its entity codes (#34;).
func mermaidString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if strings.ContainsRune("\"#<>&|`", r) || r == utf8.RuneError || !strconv.IsPrint(r) {
			fmt.Fprintf(&b, "#%d;", r)
			continue
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// render lays g out with Graphviz's dot and renders it as SVG or PNG.
func render(ctx context.Context, w io.Writer, g *Graph, format graphviz.Format) error {
	var dot bytes.Buffer
	if err := writeDOT(&dot, g); err != nil {
		return err
	}
	gv, err := newGraphviz(ctx)
	if err != nil {
		return fmt.Errorf("start graphviz: %w", err)
	}
	defer gv.Close()
	graph, err := graphviz.ParseBytes(dot.Bytes())
	if err != nil {
		return fmt.Errorf("graphviz cannot read the graph: %w", err)
	}
	defer graph.Close()
	if err := gv.Render(ctx, graph, format, w); err != nil {
		return fmt.Errorf("graphviz: render %s: %w", format, err)
	}
	return nil
}

// newGraphviz is Graphviz with go-graphviz's PNG renderer corrected (see
// pngRenderer). SVG is Graphviz's own renderer.
func newGraphviz(ctx context.Context) (*graphviz.Graphviz, error) {
	render, err := gvc.NewRenderPlugin(ctx, string(graphviz.PNG),
		pngRenderer{&gvc.ImageRenderer{DefaultRenderEngine: new(gvc.DefaultRenderEngine)}})
	if err != nil {
		return nil, err
	}
	device, err := gvc.PNGDevicePlugin(ctx)
	if err != nil {
		return nil, err
	}
	return graphviz.NewWithPlugins(ctx, render, device)
}

// pngRenderer is go-graphviz's PNG renderer (Graphviz's layout drawn with
// gg) with two faults of v0.2.10 worked around (goccy/go-graphviz#106: edges
// and node outlines missing from PNGs): Graphviz's "filled" argument reaches
// the engine as true for every shape, so an edge's curve was filled instead
// of stroked; and a filled shape was not outlined. A curve is filled when
// its object's fill style says so (a node's style=filled), and every shape
// is outlined in its pen color, as Graphviz's own renderers do. Polygons
// here are always filled: the graphs drawn have filled nodes, and arrow
// heads and the background are filled in Graphviz too.
type pngRenderer struct{ *gvc.ImageRenderer }

func (r pngRenderer) BezierCurve(ctx context.Context, job *gvc.Job, points []*gvc.PointFloat, _ bool) error {
	if job.Object().Fill() != gvc.FillNone {
		if err := r.ImageRenderer.BezierCurve(ctx, job, points, true); err != nil {
			return err
		}
	}
	return r.ImageRenderer.BezierCurve(ctx, job, points, false)
}

func (r pngRenderer) Polygon(ctx context.Context, job *gvc.Job, points []*gvc.PointFloat, _ bool) error {
	if err := r.ImageRenderer.Polygon(ctx, job, points, true); err != nil {
		return err
	}
	return r.ImageRenderer.Polygon(ctx, job, points, false)
}
