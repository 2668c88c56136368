// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraph

import (
	"bytes"
	"context"
	"image/color"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph/jobgraphtest"
)

// small is a fan-out beside a cycle of two classes.
func small() *Graph {
	return New([]Edge{
		{Parent: "ImportJob", Child: "ImportRowJob", System: "sidekiq", Queue: "imports", Count: 5000},
		{Parent: "WebhookDeliveryJob", Child: "WebhookRetryJob", System: "sidekiq", Queue: "webhooks", Count: 30},
		{Parent: "WebhookRetryJob", Child: "WebhookDeliveryJob", System: "sidekiq", Queue: "default", Count: 29},
	})
}

func write(t *testing.T, g *Graph, f Format) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, Write(context.Background(), &b, g, f))
	return b.Bytes()
}

func TestDOT(t *testing.T) {
	assert.Equal(t, `digraph jobs {
  graph [rankdir=LR, fontname="Helvetica"];
  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10, color="#555555"];
  n0 [label="ImportJob"];
  n1 [label="ImportRowJob"];
  n2 [label="WebhookDeliveryJob", color=red, fontcolor=red];
  n3 [label="WebhookRetryJob", color=red, fontcolor=red];
  n0 -> n1 [label="5000 (imports)", penwidth=6.00, tooltip="sidekiq"];
  n2 -> n3 [label="30 (webhooks)", penwidth=3.02, tooltip="sidekiq", color=red, fontcolor=red];
  n3 -> n2 [label="29 (default)", penwidth=3.00, tooltip="sidekiq", color=red, fontcolor=red];
}
`, string(write(t, small(), FormatDOT)))
}

func TestMermaid(t *testing.T) {
	assert.Equal(t, `flowchart LR
  n0["ImportJob"]
  n1["ImportRowJob"]
  n2["WebhookDeliveryJob"]
  n3["WebhookRetryJob"]
  n0 -->|"5000 (imports)"| n1
  n2 -->|"30 (webhooks)"| n3
  n3 -->|"29 (default)"| n2
  linkStyle 0 stroke-width:6.0px
  linkStyle 1 stroke-width:3.0px,stroke:red,color:red
  linkStyle 2 stroke-width:3.0px,stroke:red,color:red
  classDef cycle stroke:red,color:red
  class n2,n3 cycle
`, string(write(t, small(), FormatMermaid)))
}

// Graphviz lays the graph out and draws it: every class, the cycle's
// edges red and the others not, wider with more jobs.
func TestSVG(t *testing.T) {
	svg, err := jobgraphtest.ReadSVG(write(t, small(), FormatSVG))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"ImportJob", "ImportRowJob", "WebhookDeliveryJob", "WebhookRetryJob"}, svg.Classes)
	require.Len(t, svg.Edges, 3)
	byParent := map[string]jobgraphtest.SVGEdge{}
	for _, e := range svg.Edges {
		byParent[e.Parent] = e
	}
	fanOut, cycleA, cycleB := byParent["ImportJob"], byParent["WebhookDeliveryJob"], byParent["WebhookRetryJob"]
	assert.Equal(t, jobgraphtest.SVGEdge{Parent: "ImportJob", Child: "ImportRowJob", Label: "5000 (imports)", Color: "#555555", Width: 6}, fanOut)
	assert.Equal(t, "red", cycleA.Color)
	assert.Equal(t, "WebhookRetryJob", cycleA.Child)
	assert.Equal(t, "red", cycleB.Color)
	assert.Equal(t, "WebhookDeliveryJob", cycleB.Child)
	assert.Greater(t, fanOut.Width, cycleA.Width)
}

// The PNG shows the edges and the cycle: gray lines and red ones (the
// renderer go-graphviz ships drew neither line, see pngRenderer).
func TestPNG(t *testing.T) {
	img, err := jobgraphtest.DecodePNG(write(t, small(), FormatPNG))
	require.NoError(t, err)
	b := img.Bounds()
	assert.Greater(t, b.Dx(), 300)
	assert.Greater(t, b.Dy(), 50)
	// Drawn, the fan-out's 6-point line is some 1,500 gray pixels and the
	// cycle's two 3-point lines and outlines some 750 red ones; without
	// their lines, 380 and 350 are left (arrow heads, label text).
	assert.Greater(t, jobgraphtest.Pixels(img, color.RGBA{0x55, 0x55, 0x55, 0xff}, 16), 1000, "the fan-out's line")
	assert.Greater(t, jobgraphtest.Pixels(img, color.RGBA{0xff, 0, 0, 0xff}, 16), 550, "the cycle's lines and outlines")
}

// Names that would break DOT (quotes, Graphviz's \N escapes), Mermaid
// (quotes, #, |, <) or the terminal (ESC, newline) are drawn as text.
func TestHostileNames(t *testing.T) {
	names := []string{`App\Notifications\Ping`, `Say "hi"`, "Esc\x1b[31mRed", "a|b#c<d>&e`f", "Line\nBreak", "Ünïcödé"}
	var edges []Edge
	for i, n := range names {
		edges = append(edges, Edge{Parent: n, Child: names[(i+1)%len(names)], Queue: `q"|` + n, Count: 1})
	}
	g := New(edges)

	svg, err := jobgraphtest.ReadSVG(write(t, g, FormatSVG))
	require.NoError(t, err)
	shown := strings.NewReplacer("\x1b", `\x1b`, "\n", `\n`)
	var want []string
	for _, n := range names {
		want = append(want, shown.Replace(n))
	}
	assert.ElementsMatch(t, want, svg.Classes)
	for _, e := range svg.Edges {
		assert.Equal(t, "red", e.Color, "one cycle through every class")
		assert.Equal(t, `1 (q"|`+e.Parent+")", e.Label)
	}

	mermaid := string(write(t, g, FormatMermaid))
	line := regexp.MustCompile(`^  (n\d+\["[^"\n]*"\]|n\d+ -->\|"[^"|\n]*"\| n\d+|linkStyle .*|classDef .*|class .*)$`)
	for _, l := range strings.Split(strings.TrimSuffix(mermaid, "\n"), "\n")[1:] {
		assert.Regexp(t, line, l)
	}
	assert.Contains(t, mermaid, `n0["App\Notifications\Ping"]`)
	assert.Contains(t, mermaid, `["Say #34;hi#34;"]`)
	assert.Contains(t, mermaid, `["a#124;b#35;c#60;d#62;#38;e#96;f"]`)
	assert.Contains(t, mermaid, `["Esc#27;[31mRed"]`)
}

func TestUnknownFormat(t *testing.T) {
	err := Write(context.Background(), &bytes.Buffer{}, small(), "gif")
	assert.EqualError(t, err, `unknown format "gif" (one of dot, mermaid, svg, png)`)
}
