// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobgraph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/otelcol-jobs/otelcol-jobs/connector/jobgraphconnector"
)

// The names the collector's Prometheus exporter gives the metric and its
// attributes (default translation, UnderscoreEscapingWithSuffixes: a
// monotonic sum gains _total, the {job} unit adds nothing).
const (
	PromMetric = "jobqueue_graph_enqueues_total"
	promParent = "jobqueue_job_class"
	promChild  = "jobqueue_job_child_class"
	promSystem = "messaging_system"
	promQueue  = "messaging_destination_name"
)

// maxBody bounds what is read of one Prometheus answer, and maxLine one
// line of an OTLP JSON file.
const (
	maxBody = 64 << 20
	maxLine = 64 << 20
)

// stream is one cumulative series of the metric: a new start time (the
// collector restarted, or the edge expired and came back) begins a new one.
type stream struct {
	resource, attributes string
	start                pcommon.Timestamp
}

// accumulator collects jobqueue.graph.enqueues points from successive
// metric batches, as a file exporter writes them: of each cumulative stream
// the newest point counts (it holds the ones before it), delta points add
// up.
type accumulator struct {
	latest map[stream]point
	delta  []Edge
}

type point struct {
	at   pcommon.Timestamp
	edge Edge
}

// newAccumulator returns an empty accumulator.
func newAccumulator() *accumulator { return &accumulator{latest: map[stream]point{}} }

// add takes the metric's points of md; other metrics are ignored, and so
// are points without a parent or child class.
func (a *accumulator) add(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		resource := ""
		for _, sm := range rm.ScopeMetrics().All() {
			for _, m := range sm.Metrics().All() {
				if m.Name() != jobgraphconnector.MetricEnqueues || m.Type() != pmetric.MetricTypeSum {
					continue
				}
				if resource == "" {
					resource = rawJSON(rm.Resource().Attributes())
				}
				cumulative := m.Sum().AggregationTemporality() == pmetric.AggregationTemporalityCumulative
				for _, dp := range m.Sum().DataPoints().All() {
					e, ok := edgeOf(dp)
					if !ok {
						continue
					}
					if !cumulative {
						a.delta = append(a.delta, e)
						continue
					}
					s := stream{resource: resource, attributes: rawJSON(dp.Attributes()), start: dp.StartTimestamp()}
					if p, seen := a.latest[s]; !seen || dp.Timestamp() >= p.at {
						a.latest[s] = point{at: dp.Timestamp(), edge: e}
					}
				}
			}
		}
	}
}

// edges returns what was added: one edge per series and stream.
func (a *accumulator) edges() []Edge {
	edges := append([]Edge(nil), a.delta...)
	for _, p := range a.latest {
		edges = append(edges, p.edge)
	}
	return edges
}

func edgeOf(dp pmetric.NumberDataPoint) (Edge, bool) {
	attr := func(k string) string {
		v, _ := dp.Attributes().Get(k)
		return v.AsString()
	}
	e := Edge{
		Parent: attr(jobgraphconnector.AttrClass), Child: attr(jobgraphconnector.AttrChildClass),
		System: attr(jobgraphconnector.AttrSystem), Queue: attr(jobgraphconnector.AttrChildQueue),
	}
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		e.Count = float64(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		e.Count = dp.DoubleValue()
	}
	return e, e.Parent != "" && e.Child != ""
}

// rawJSON is a map's attributes in a stable form (JSON sorts the keys).
func rawJSON(m pcommon.Map) string {
	b, _ := json.Marshal(m.AsRaw()) // attribute values always marshal
	return string(b)
}

// ReadOTLPJSON reads the edges of a file the collector's file exporter
// wrote with format json: one ExportMetricsServiceRequest per line. Lines
// of other signals (a file shared with traces or logs) hold no metrics and
// add nothing.
func ReadOTLPJSON(r io.Reader) ([]Edge, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	acc := newAccumulator()
	var u pmetric.JSONUnmarshaler
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			return nil, fmt.Errorf("line %d is not OTLP JSON (the file exporter's format: json, without compression)", n)
		}
		md, err := u.UnmarshalMetrics(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		acc.add(md)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("a line is longer than %d MiB: %w", maxLine>>20, err)
		}
		return nil, err
	}
	return acc.edges(), nil
}

// ReadPrometheus reads the edges from endpoint: a URL whose path ends in
// /metrics is scraped as a metrics endpoint (the collector's Prometheus
// exporter), any other is a Prometheus server's base URL, asked through its
// HTTP query API for the sum of each edge's series.
func ReadPrometheus(ctx context.Context, client *http.Client, endpoint string) ([]Edge, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL", endpoint)
	}
	if strings.HasSuffix(u.Path, "/metrics") {
		return scrape(ctx, client, u)
	}
	return query(ctx, client, u)
}

// get fetches u with the Accept header and returns the body, at most
// maxBody bytes of it. Only the query API answers errors in a body of its
// own (JSON); any other answer but 200 is an error.
func get(ctx context.Context, client *http.Client, u *url.URL, accept string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if len(body) > maxBody {
		return nil, fmt.Errorf("GET %s: the answer is larger than %d MiB", u.Redacted(), maxBody>>20)
	}
	if resp.StatusCode != http.StatusOK && (accept != "application/json" || !strings.Contains(resp.Header.Get("Content-Type"), "json")) {
		return nil, fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
	}
	return body, nil
}

// scrape reads the metric's samples from a metrics endpoint in the text
// exposition format.
func scrape(ctx context.Context, client *http.Client, u *url.URL) ([]Edge, error) {
	body, err := get(ctx, client, u, string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	if err != nil {
		return nil, err
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: not the Prometheus text format: %w", u.Redacted(), err)
	}
	var edges []Edge
	for _, m := range families[PromMetric].GetMetric() {
		labels := make(map[string]string, len(m.GetLabel()))
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		e := Edge{Parent: labels[promParent], Child: labels[promChild], System: labels[promSystem], Queue: labels[promQueue]}
		switch {
		case m.GetCounter() != nil:
			e.Count = m.GetCounter().GetValue()
		case m.GetUntyped() != nil:
			e.Count = m.GetUntyped().GetValue()
		}
		if e.Parent != "" && e.Child != "" {
			edges = append(edges, e)
		}
	}
	return edges, nil
}

// graphQuery is each edge's count summed over the series that differ in
// other labels (collector replicas, resource labels).
var graphQuery = fmt.Sprintf("sum by (%s, %s, %s, %s) (%s)", promParent, promChild, promSystem, promQueue, PromMetric)

// notAServer is the hint when a URL taken for a Prometheus server does not
// answer as one: the likely mistake is a collector's exporter without its
// path.
const notAServer = "is it a Prometheus server? a collector's Prometheus exporter is read at its /metrics path"

// query asks a Prometheus server's HTTP API for the edges.
func query(ctx context.Context, client *http.Client, base *url.URL) ([]Edge, error) {
	u := base.JoinPath("api", "v1", "query")
	u.RawQuery = url.Values{"query": {graphQuery}}.Encode()
	body, err := get(ctx, client, u, "application/json")
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, notAServer)
	}
	var answer struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("%s: not a Prometheus query API answer (%s): %w", base.Redacted(), notAServer, err)
	}
	if answer.Status != "success" {
		return nil, fmt.Errorf("%s: query %q: %s: %s", base.Redacted(), graphQuery, answer.ErrorType, answer.Error)
	}
	if answer.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%s: query %q: expected a vector, got %q", base.Redacted(), graphQuery, answer.Data.ResultType)
	}
	var edges []Edge
	for _, r := range answer.Data.Result {
		text, _ := r.Value[1].(string)
		n, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: sample value %v: %w", base.Redacted(), r.Value[1], err)
		}
		e := Edge{Parent: r.Metric[promParent], Child: r.Metric[promChild], System: r.Metric[promSystem], Queue: r.Metric[promQueue], Count: n}
		if e.Parent != "" && e.Child != "" {
			edges = append(edges, e)
		}
	}
	return edges, nil
}
