// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package retry decides, for a batch of job executions, how often each job
// has retried and which excessive_retries alerts fire, escalate or resolve.
// It knows job events, thresholds and the state store, nothing of pdata.
//
// A job is system + class + id. Its retries are its attempt number minus one
// when the instrumentation records attempts; otherwise the number of earlier
// executions of the same job seen within the window (a run counter in the
// store whose TTL is the window, started by the job's first execution, by the
// event's own time, and removed when the job succeeds: only jobs that failed
// are held). Past a rule's MaxRetries the detector fires once, again
// on each doubling (3 → 4 retries fires level 1, 7 level 2, 13 level 3, ...),
// and resolves when the job succeeds, only if it fired. Those decisions come
// from store ops that answer for exactly one caller (MemberMax, RemoveMember,
// and for jobs counted by id a Claim on the run counter, taken by the store
// on the new count), so processors sharing a Redis store raise each alert
// once, and a batch costs one round trip.
//
// With a shared store, each execution counted by id is marked by its trace
// and span ids (statestore.Batch.CountOnce) for dedupe: the same execution
// seen again, as a log record after its span, by another pipeline or
// replica, reads the count without adding to it. Executions without those
// ids are counted as they come.
//
// Only a success past the threshold looks for an alert to resolve, which
// keeps successes (most runs) free of store ops. So a job counted by id
// whose window ends while it alerts (its count starts again) and that then
// succeeds within its threshold resolves nothing: its alert mark expires
// one window after its last failure.
package retry // import "github.com/otelcol-jobs/otelcol-jobs/processor/jobretryprocessor/internal/retry"

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/filter"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/idhash"
	"github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
)

// Rule is the threshold of the jobs whose class it matches.
type Rule struct {
	// Class selects the jobs by class; nil matches every class.
	Class      filter.Filter
	MaxRetries int64
	Severity   alert.Severity
}

// Run is one job execution of a batch and what the detector made of it.
type Run struct {
	jobevent.Event
	// ParentSpanID is the parent of the execution's span. An execution whose
	// parent is an execution of the same job in the batch is the same run
	// seen by a second instrumentation (ActiveJob inside Sidekiq): it is
	// not counted again and raises nothing.
	ParentSpanID pcommon.SpanID
	// Retries is set by Detect: how many times the job ran before this
	// execution, -1 when unknown.
	Retries int64
}

// Found is an alert record to emit, on the span or log record of Run.
type Found struct {
	Run   int
	Alert alert.Alert
}

// Detector counts retries over a store. It is safe for concurrent use.
type Detector struct {
	store  statestore.Store
	window time.Duration
	// factor is how much the retries must grow past the threshold for an
	// alert to escalate again (2: each doubling).
	factor float64
	// rules are tried in order; the last one matches every class.
	rules []Rule
	// dedupe is how long an execution's mark lives; 0: not marked.
	dedupe  time.Duration
	scratch sync.Pool
}

// New returns a detector over store. rules are the per-class overrides in
// order, then the default rule (Class nil), which must come last; factor is
// the escalation factor (at least 1; 1 never escalates). dedupe is how long
// the store remembers an execution it counted by id, so that it counts once
// however often it arrives (0: executions are not marked, for a store only
// this detector uses).
func New(store statestore.Store, window time.Duration, factor float64, rules []Rule, dedupe time.Duration) (*Detector, error) {
	if len(rules) == 0 || rules[len(rules)-1].Class != nil {
		return nil, errors.New("the last rule must match every class")
	}
	if window < time.Millisecond {
		return nil, fmt.Errorf("window must be at least 1ms, got %v", window)
	}
	if !(factor >= 1) || math.IsInf(factor, 0) {
		return nil, fmt.Errorf("escalation factor must be at least 1, got %v", factor)
	}
	d := &Detector{store: store, window: window, factor: factor, rules: rules, dedupe: dedupe}
	d.scratch.New = func() any { return &scratch{classRule: map[string]int{}} }
	return d, nil
}

// Keys of the store, under its key prefix: a run counter and an alert mark
// (a set whose one member holds the highest level fired) per job, named by a
// hash of the job, so that a key is short and bounded whatever the id; and
// the dedupe mark of an execution, named by a hash of its trace and span
// ids.
const (
	runsKeyPrefix  = "retry:n:"
	alertKeyPrefix = "retry:a:"
	execKeyPrefix  = "retry:x:"
	keyLen         = len(runsKeyPrefix) + 16
	markMember     = "level"
)

const noRef = statestore.Ref(-1)

// runState is the detector's bookkeeping for one run.
type runState struct {
	hash uint64 // of the job, once a plan needs it; never 0
	rule int
	plan plan
	// level is the alert level a failure reached.
	level int64
	runs  statestore.Ref // Incr of the run counter
	// mark raises or takes down the alert mark: MemberMax or RemoveMember,
	// or the Claim on the run counter.
	mark  statestore.Ref
	keyAt int // offset of the job's two keys in scratch.keys
	// execAt is the offset of the execution's dedupe mark key, or -1.
	execAt int
	// sameAs is the run this one repeats (nested instrumentation), or -1.
	sameAs int
	// next is the next counted run of the same job in the batch, or -1.
	next int
}

// chainEnds are the first and last counted runs of a job in the batch.
type chainEnds struct{ first, last int }

// maxNestedLookup bounds how many runs of the same job the parent of a
// run is looked for among, so a hostile batch of one job repeated many
// times costs linear time.
const maxNestedLookup = 64

// plan is what a run asks of the store.
type plan uint8

const (
	planNone    plan = iota
	planCount        // Incr the run counter and Claim the mark on it (Final on success)
	planResolve      // RemoveMember the mark: a job with an attempt number succeeded past its threshold
	planFire         // MemberMax the mark: a job with an attempt number failed past its threshold
)

// scratch is the per-call memory, reused through a pool.
type scratch struct {
	state []runState
	// keys holds the batch's keys, written as bytes then converted to one
	// string (one allocation per batch) that every op's key slices.
	keys      []byte
	keyStr    string
	ops       statestore.Batch
	chains    map[uint64]chainEnds // job hash -> its counted runs
	classRule map[string]int       // class -> rule index, bounded
	// examples collects the trace ids of the jobs that alert.
	examples map[jobKey][]pcommon.TraceID
}

// classCacheMax bounds the class -> rule cache of each scratch; classes
// longer than classCacheKeyMax are matched every time instead.
const (
	classCacheMax    = 1024
	classCacheKeyMax = 256
)

// Detect sets each run's Retries and returns the alert records to emit, or
// nil; now is the batch's clock, which judges the runs' ages. It applies one batch of ops to the store (one round trip with Redis),
// none when no run needs state. A store error is returned after the runs got
// whatever the store could answer: their data must pass on regardless.
func (d *Detector) Detect(ctx context.Context, now time.Time, runs []Run) ([]Found, error) {
	if len(runs) == 0 {
		return nil, nil
	}
	s := d.scratch.Get().(*scratch)
	defer d.scratch.Put(s)
	defer s.release()
	s.plan(d, runs, now)

	for i := range runs {
		st := &s.state[i]
		switch st.plan {
		case planCount:
			// A job that succeeded is done: its claim is final and forgets
			// its runs, so that only jobs in a retry loop hold an entry.
			age := now.Sub(runs[i].Time)
			if st.execAt < 0 {
				st.runs = s.ops.Incr(s.runsKey(st), 1, max(d.window-age, time.Millisecond))
			} else {
				st.runs = s.ops.Incr(s.runsKey(st), 0, max(d.window-age, time.Millisecond))
				s.ops.CountOnce(st.runs, s.ops.Dedupe(s.execKey(st), d.dedupe), 1)
			}
			st.mark = s.ops.Claim(st.runs, statestore.Claim{
				Set: s.alertKey(st), Member: markMember, Capacity: 1, TTL: d.window,
				Rule: d.storeRule(st), Final: runs[i].Outcome == jobevent.OutcomeSuccess,
			})
		case planResolve:
			st.mark = s.ops.RemoveMember(s.alertKey(st), markMember)
		case planFire:
			st.mark = s.ops.MemberMax(s.alertKey(st), markMember, st.level, 1, d.window)
		}
	}
	var err error
	if s.ops.Len() > 0 {
		err = d.store.Apply(ctx, &s.ops)
	}

	var found []Found
	for i := range runs {
		r, st := &runs[i], &s.state[i]
		if st.plan == planCount {
			// Jobs counted by id know their retries only now.
			if n := s.ops.Value(st.runs); n > 0 {
				r.Retries = n - 1
				st.level = d.storeRule(st).Level(n, 0)
			}
		}
		if st.mark != noRef && s.ops.OK(st.mark) {
			found = d.decide(found, runs, s, i)
		}
	}
	for i := range runs {
		if j := s.state[i].sameAs; j >= 0 {
			runs[i].Retries = runs[j].Retries
		}
	}
	if len(found) > 0 {
		s.addExamples(runs, found)
	}
	return found, err
}

// plan fills the scratch for runs: each run's job, rule and plan, and the
// keys the plans need.
func (s *scratch) plan(d *Detector, runs []Run, now time.Time) {
	if cap(s.state) < len(runs) {
		s.state = make([]runState, len(runs))
	}
	s.state = s.state[:len(runs)]
	counted := false
	for i := range runs {
		r, st := &runs[i], &s.state[i]
		r.Retries = -1
		*st = runState{runs: noRef, mark: noRef, execAt: -1, sameAs: -1, next: -1}
		if r.ID == "" {
			continue // runs of a job without an id cannot be told apart
		}
		st.rule = d.rule(s, r.Class)
		switch {
		case r.Attempt > 0:
			// Only a job past its threshold can have an alert to resolve.
			r.Retries = int64(r.Attempt - 1)
			if st.level = d.storeRule(st).Level(int64(r.Attempt), 0); st.level == 0 {
				break
			}
			st.hash = jobHash(&r.Event)
			st.plan = planFire
			if r.Outcome == jobevent.OutcomeSuccess {
				st.plan = planResolve
			}
		case now.Sub(r.Time) < d.window: // else older than any window ending now
			st.hash = jobHash(&r.Event)
			st.plan = planCount
			s.chain(i)
			counted = true
		}
	}
	if counted {
		s.markRepeats(runs)
	}
	for i := range s.state {
		st := &s.state[i]
		if st.plan == planNone {
			continue
		}
		st.keyAt = s.addKeys(st.hash)
		if r := &runs[i]; st.plan == planCount && d.dedupe > 0 && !r.TraceID.IsEmpty() && !r.SpanID.IsEmpty() {
			st.execAt = s.addExecKey(r.TraceID, r.SpanID)
		}
	}
	s.keyStr = string(s.keys)
}

// chain links counted run i to the earlier counted runs of its job.
func (s *scratch) chain(i int) {
	if s.chains == nil {
		s.chains = map[uint64]chainEnds{}
	}
	h := s.state[i].hash
	ends, ok := s.chains[h]
	if !ok {
		s.chains[h] = chainEnds{i, i}
		return
	}
	s.state[ends.last].next = i
	s.chains[h] = chainEnds{ends.first, i}
}

// markRepeats finds the runs that repeat another run of the same job in the
// batch: their span is the child of its span (nested instrumentations), or
// the same span (a record delivered twice).
func (s *scratch) markRepeats(runs []Run) {
	for i := range runs {
		st := &s.state[i]
		r := &runs[i]
		if st.plan != planCount || r.ParentSpanID.IsEmpty() && r.SpanID.IsEmpty() {
			continue
		}
		j := s.chains[st.hash].first
		for n := 0; j >= 0 && n < maxNestedLookup; n++ {
			nested := !r.ParentSpanID.IsEmpty() && runs[j].SpanID == r.ParentSpanID
			same := !r.SpanID.IsEmpty() && runs[j].SpanID == r.SpanID && runs[j].TraceID == r.TraceID
			if j != i && (nested || same) && s.state[j].sameAs < 0 {
				st.sameAs, st.plan = j, planNone
				break
			}
			j = s.state[j].next
		}
	}
}

// decide makes run i's alert: the store answered that this call raised the
// job's alert mark (a failure) or took it down (a success).
func (d *Detector) decide(found []Found, runs []Run, s *scratch, i int) []Found {
	st := &s.state[i]
	r := &runs[i]
	rule := &d.rules[st.rule]
	a := alert.Alert{
		Name:      alert.ExcessiveRetries,
		Severity:  rule.Severity,
		ID:        alert.NewID(alert.ExcessiveRetries, r.System, r.Class, r.ID),
		Time:      r.Time,
		Threshold: float64(rule.MaxRetries),
		Value:     float64(r.Retries),
		System:    r.System,
		Queue:     r.Queue,
		Class:     r.Class,
		JobID:     r.ID,
	}
	// "sidekiq job MailJob 1a2b", or "kafka job 1a2b" when no class is known.
	job := r.System + " job " + short(r.ID)
	if r.Class != "" {
		job = r.System + " job " + short(r.Class) + " " + short(r.ID)
	}
	if r.Outcome == jobevent.OutcomeSuccess {
		a.State = alert.StateResolved
		a.Summary = fmt.Sprintf("%s succeeded after %d retries", job, r.Retries)
	} else {
		a.State = alert.StateFiring
		a.ErrorType = r.ErrorType
		a.Summary = fmt.Sprintf("%s retried %d times > %d", job, r.Retries, rule.MaxRetries)
		if r.ErrorType != "" {
			a.Summary += ": " + short(r.ErrorType)
		}
		a.Attributes = []alert.Attribute{alert.Int("alert.escalation_level", st.level)}
	}
	return append(found, Found{Run: i, Alert: a})
}

// storeRule is the run's rule as the store applies it to a run count: the
// level of count-1 retries.
func (d *Detector) storeRule(st *runState) statestore.Rule {
	return statestore.Rule{Threshold: float64(d.rules[st.rule].MaxRetries), Factor: d.factor, Base: 1}
}

// rule is the index of the first rule matching class.
func (d *Detector) rule(s *scratch, class string) int {
	if len(d.rules) == 1 {
		return 0
	}
	if i, ok := s.classRule[class]; ok {
		return i
	}
	i := 0
	for d.rules[i].Class != nil && !d.rules[i].Class.Matches(class) {
		i++
	}
	if len(class) <= classCacheKeyMax {
		if len(s.classRule) >= classCacheMax {
			clear(s.classRule)
		}
		s.classRule[strings.Clone(class)] = i
	}
	return i
}

// addExamples gives each alert the traces of its run and of the batch's
// other runs of the same job (alert.Alert keeps the first few), in one pass
// over the batch.
func (s *scratch) addExamples(runs []Run, found []Found) {
	clear(s.examples)
	if s.examples == nil {
		s.examples = map[jobKey][]pcommon.TraceID{}
	}
	for _, f := range found {
		s.examples[keyOf(&runs[f.Run].Event)] = nil
	}
	for i := range runs {
		if runs[i].ID == "" {
			continue
		}
		k := keyOf(&runs[i].Event)
		if ids, ok := s.examples[k]; ok && len(ids) < 2*alert.MaxExampleTraceIDs {
			s.examples[k] = append(ids, runs[i].TraceID)
		}
	}
	for k := range found {
		f := &found[k]
		own := runs[f.Run].TraceID
		f.Alert.TraceIDs = []pcommon.TraceID{own}
		for _, id := range s.examples[keyOf(&runs[f.Run].Event)] {
			if id != own {
				f.Alert.TraceIDs = append(f.Alert.TraceIDs, id)
			}
		}
	}
	clear(s.examples)
}

// release drops what the scratch holds of the batch.
func (s *scratch) release() {
	s.keys = s.keys[:0]
	s.keyStr = ""
	s.ops.Reset()
	clear(s.chains)
}

// addKeys appends a job's run-counter and alert-mark keys to the batch's key
// bytes and returns their offset.
func (s *scratch) addKeys(hash uint64) int {
	at := len(s.keys)
	var sum [8]byte
	for b := range sum {
		sum[b] = byte(hash >> (56 - 8*b))
	}
	s.keys = append(s.keys, runsKeyPrefix...)
	s.keys = hex.AppendEncode(s.keys, sum[:])
	s.keys = append(s.keys, alertKeyPrefix...)
	s.keys = hex.AppendEncode(s.keys, sum[:])
	return at
}

// addExecKey appends an execution's dedupe mark key to the batch's key
// bytes and returns its offset.
func (s *scratch) addExecKey(trace pcommon.TraceID, span pcommon.SpanID) int {
	at := len(s.keys)
	s.keys = statestore.AppendMark(s.keys, execKeyPrefix, trace, span)
	return at
}

func (s *scratch) execKey(st *runState) string {
	return s.keyStr[st.execAt : st.execAt+keyLen]
}

func (s *scratch) runsKey(st *runState) string {
	return s.keyStr[st.keyAt : st.keyAt+keyLen]
}

func (s *scratch) alertKey(st *runState) string {
	return s.keyStr[st.keyAt+keyLen : st.keyAt+2*keyLen]
}

// jobKey is a job within a batch: the map key of its examples, hashed by
// the runtime's map hash rather than the stable id hash, which is only
// needed for the store's keys.
type jobKey struct{ system, class, id string }

func keyOf(ev *jobevent.Event) jobKey { return jobKey{ev.System, ev.Class, ev.ID} }

// jobHash identifies a job: system, class and id. 0 is kept for "none".
func jobHash(ev *jobevent.Event) uint64 {
	return max(idhash.New().String(ev.System).Byte(0).String(ev.Class).Byte(0).String(ev.ID).Sum64(), 1)
}

// short cuts s for a one-line summary.
func short(s string) string { return alert.Shorten(s, 80) }
