// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package deploy holds the Prometheus alert rules and the Grafana dashboard
// shipped for the job_queue receiver's metrics, and reads back which metric
// and label names they use, so that tests can hold them to what the
// receiver exports (deploy_test.go against metadata.yaml, the distribution
// test against the built collector's /metrics). Nothing here is linked into
// the collector.
package deploy // import "github.com/otelcol-jobs/otelcol-jobs/deploy"

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The shipped files.
var (
	//go:embed prometheus/jobqueue-rules.yaml
	PrometheusRules []byte
	//go:embed grafana/jobqueue.json
	GrafanaDashboard []byte
)

// Expression is one PromQL query of a shipped file.
type Expression struct {
	// Where says where it comes from, e.g. "rule queue_latency_high" or
	// "panel Queue size".
	Where string
	// Query is the PromQL, with Grafana's variables replaced by values
	// Prometheus accepts ($__rate_interval by 5m, $__range by the
	// dashboard's default 3h, the others by .*).
	Query string
	// Labels are the label names the query's results are shown with: a
	// legend's {{label}}, an annotation's $labels.label, the label of a
	// template variable's label_values.
	Labels []string
}

// Rule is one alerting rule of PrometheusRules.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules returns the alerting rules of PrometheusRules.
func Rules() ([]Rule, error) {
	var file struct {
		Groups []struct {
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(PrometheusRules, &file); err != nil {
		return nil, fmt.Errorf("jobqueue-rules.yaml: %w", err)
	}
	var rules []Rule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules, nil
}

// dashboard is what Expressions reads of GrafanaDashboard.
type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr   string `json:"expr"`
		Legend string `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

// labelValues is a Grafana template query: label_values(selector, label).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// Expressions returns every query of the rules and the dashboard: rule
// expressions, panel targets, and the selectors of the template variables'
// label_values queries.
func Expressions() ([]Expression, error) {
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	var out []Expression
	for _, r := range rules {
		e := Expression{Where: "rule " + r.Alert, Query: r.Expr}
		for _, text := range r.Annotations {
			e.Labels = append(e.Labels, submatches(templateLabels, text)...)
		}
		out = append(out, e)
	}
	var d dashboard
	if err := json.Unmarshal(GrafanaDashboard, &d); err != nil {
		return nil, fmt.Errorf("jobqueue.json: %w", err)
	}
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			for _, t := range p.Targets {
				out = append(out, Expression{
					Where: "panel " + p.Title, Query: grafanaVariables.Replace(t.Expr), Labels: submatches(legendLabels, t.Legend),
				})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		text, _ := q["query"].(string)
		m := labelValues.FindStringSubmatch(text)
		if m == nil {
			return nil, fmt.Errorf("jobqueue.json: variable %s: expected label_values(selector, label), got %q", v.Name, text)
		}
		out = append(out, Expression{Where: "variable " + v.Name, Query: grafanaVariables.Replace(m[1]), Labels: []string{m[2]}})
	}
	return out, nil
}

// submatches returns the first group of every match of re in text.
func submatches(re *regexp.Regexp, text string) []string {
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

var (
	grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__range", "3h", "$system", ".*", "$server", ".*", "$queue", ".*")
	templateLabels   = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)
	legendLabels     = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)
)

// PromQL's lexical pieces that References takes apart.
var (
	quoted      = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	matchers    = regexp.MustCompile(`\{[^{}]*\}`)
	matcherName = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
	ranges      = regexp.MustCompile(`\[[^\]]*\]`)
	grouping    = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)`)
	identifier  = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	call        = regexp.MustCompile(`[a-zA-Z_][a-zA-Z0-9_]*\s*\(`)
	keywords    = []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN", "atan2"}
)

// References returns the metric names and label names a PromQL query uses
// (sorted, without duplicates). It is a lexer, not a parser: the queries
// are also checked by promtool, which does parse them.
func References(query string) (metrics, labels []string) {
	// Strings first (they may hold anything), then the label matchers.
	q := quoted.ReplaceAllString(query, `""`)
	q = matchers.ReplaceAllStringFunc(q, func(block string) string {
		for _, m := range matcherName.FindAllStringSubmatch(block, -1) {
			labels = append(labels, m[1])
		}
		return " "
	})
	q = ranges.ReplaceAllString(q, " ")
	q = grouping.ReplaceAllStringFunc(q, func(clause string) string {
		inner := grouping.FindStringSubmatch(clause)[1]
		labels = append(labels, identifier.FindAllString(inner, -1)...)
		return " "
	})
	q = call.ReplaceAllString(q, " ") // functions and aggregations
	for _, id := range identifier.FindAllString(q, -1) {
		if !slices.Contains(keywords, id) {
			metrics = append(metrics, id)
		}
	}
	slices.Sort(metrics)
	slices.Sort(labels)
	return slices.Compact(metrics), slices.Compact(labels)
}
