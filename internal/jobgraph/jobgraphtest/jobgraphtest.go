// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package jobgraphtest reads back the pictures jobgraph draws, for tests:
// which classes and edges an SVG shows and in which color, and how many
// pixels of a PNG have a color.
package jobgraphtest // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobgraph/jobgraphtest"

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strconv"
	"strings"
)

// SVG is what a Graphviz SVG of a job graph shows.
type SVG struct {
	// Classes are the node labels, in document order.
	Classes []string
	Edges   []SVGEdge
}

// SVGEdge is one drawn edge: the classes it joins (by their labels), its
// label, and its line's color and width.
type SVGEdge struct {
	Parent, Child string
	Label         string
	Color         string
	Width         float64
}

// svgGroup is a Graphviz <g class="node|edge">: its title (the DOT node
// id, or "from->to"), its first line's stroke and the texts within it
// (at any depth: a tooltip wraps them in a link).
type svgGroup struct {
	class, title  string
	stroke, width string
	hasPath       bool
	texts         []string
}

// ReadSVG reads the classes and edges of an SVG that Graphviz rendered.
func ReadSVG(data []byte) (SVG, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false // the DOCTYPE names a DTD that is not fetched
	var (
		groups []*svgGroup
		cur    *svgGroup
		depth  int     // of <g> within cur
		text   *string // the element whose character data is collected
	)
	attr := func(se xml.StartElement, name string) string {
		for _, a := range se.Attr {
			if a.Name.Local == name {
				return a.Value
			}
		}
		return ""
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return SVG{}, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			switch name := tok.Name.Local; {
			case name == "g" && cur == nil:
				if class := attr(tok, "class"); class == "node" || class == "edge" {
					cur, depth = &svgGroup{class: class}, 0
					groups = append(groups, cur)
				}
			case name == "g":
				depth++
			case cur == nil:
			case name == "title":
				text = &cur.title
			case name == "text":
				cur.texts = append(cur.texts, "")
				text = &cur.texts[len(cur.texts)-1]
			case name == "path" && !cur.hasPath:
				cur.hasPath, cur.stroke, cur.width = true, attr(tok, "stroke"), attr(tok, "stroke-width")
			}
		case xml.CharData:
			if text != nil {
				*text += string(tok)
			}
		case xml.EndElement:
			text = nil
			if tok.Name.Local == "g" && cur != nil {
				if depth == 0 {
					cur = nil
				} else {
					depth--
				}
			}
		}
	}

	var out SVG
	label := map[string]string{}
	for _, g := range groups {
		if g.class == "node" {
			text := strings.Join(g.texts, "\n")
			label[g.title] = text
			out.Classes = append(out.Classes, text)
		}
	}
	for _, g := range groups {
		if g.class != "edge" {
			continue
		}
		from, to, ok := strings.Cut(g.title, "->")
		if !ok || !g.hasPath {
			return SVG{}, fmt.Errorf("edge %q: expected a title from->to and a path", g.title)
		}
		e := SVGEdge{Parent: label[from], Child: label[to], Label: strings.Join(g.texts, "\n"), Color: g.stroke, Width: 1}
		if g.width != "" {
			var err error
			if e.Width, err = strconv.ParseFloat(g.width, 64); err != nil {
				return SVG{}, fmt.Errorf("edge %q: stroke-width %q: %w", g.title, g.width, err)
			}
		}
		out.Edges = append(out.Edges, e)
	}
	return out, nil
}

// PNGSignature starts every PNG file.
const PNGSignature = "\x89PNG\r\n\x1a\n"

// DecodePNG checks the signature and decodes data.
func DecodePNG(data []byte) (image.Image, error) {
	if !bytes.HasPrefix(data, []byte(PNGSignature)) {
		return nil, fmt.Errorf("no PNG signature: starts with %q", data[:min(len(data), 8)])
	}
	return png.Decode(bytes.NewReader(data))
}

// Pixels counts the pixels of img within tolerance (per 8-bit channel) of
// want, ignoring alpha.
func Pixels(img image.Image, want color.RGBA, tolerance uint8) int {
	near := func(a, b uint8) bool { return max(a, b)-min(a, b) <= tolerance }
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			if near(c.R, want.R) && near(c.G, want.G) && near(c.B, want.B) {
				n++
			}
		}
	}
	return n
}
