// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

// Package burst detects failure clusters in job executions: bursts of
// failures of one job class (failure_cluster), and one error failing many
// classes at once (dependency_failure). It counts in sliding windows of
// fixed buckets kept in a statestore.Store, so collector replicas sharing a
// Redis store raise each alert once; it knows nothing of pdata or of the
// attribute spellings of job systems.
//
// A class cluster fires when the failures of a class in the window exceed
// MinFailures (and, when MinFailureRatio is set, its failure ratio exceeds
// it over at least MinExecutions executions). It escalates each time the
// failures pass MinFailures times another EscalationFactor, and resolves
// once the failures drop below half of MinFailures (or the ratio below half
// of MinFailureRatio). A dependency cluster fires when one error fingerprint
// fails at least MinClasses classes within DependencyWindow, escalates as the
// number of classes grows by EscalationFactor and resolves below half of
// MinClasses.
//
// Windows are fixed buckets: a window of 1h in 12 buckets counts the current
// 5-minute bucket (from its start) and the 11 before it, so a failure
// leaves the count between 55 and 60 minutes after it happened, when its
// bucket leaves the window. Events count at their own time; events older
// than the window are ignored.
//
// Per incoming batch the detector applies one pipeline of store ops: the
// counts, and claims on the new counts, which the store decides in the same
// round trip (statestore.Claim). Each replica remembers the level of every
// cluster it has seen, so the store raises a cluster only past it and
// resolves only one known to fire; Sweep, run on a timer, resolves clusters
// no event arrives for any more and refreshes what this replica knows of the
// others' decisions.
package burst // import "github.com/otelcol-jobs/otelcol-jobs/processor/failureclusterprocessor/internal/burst"

import (
	"errors"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-jobs/otelcol-jobs/internal/alert"
	"github.com/otelcol-jobs/otelcol-jobs/internal/statestore"
	"github.com/otelcol-jobs/otelcol-jobs/internal/textcut"
)

// Config holds the detection rules and bounds.
type Config struct {
	// Window is how far back failures of a class are counted, in Buckets
	// fixed buckets.
	Window  time.Duration
	Buckets int
	// MinFailures: a class fires when its failures in the window exceed it.
	MinFailures int64
	// MinFailureRatio, when above 0, also requires failures/executions above
	// it, over at least MinExecutions executions.
	MinFailureRatio float64
	MinExecutions   int64
	// EscalationFactor: a firing cluster escalates each time its count
	// grows past the threshold times another factor (1: never).
	EscalationFactor float64
	// Severity of failure_cluster records.
	Severity alert.Severity

	// MinClasses: an error fingerprint failing in at least this many classes
	// within DependencyWindow fires dependency_failure (0: off).
	MinClasses         int64
	DependencyWindow   time.Duration
	DependencySeverity alert.Severity

	// MaxClasses and MaxFingerprints bound the classes and fingerprints
	// tracked (least recently seen ones are forgotten first) and the
	// clusters that can be active at once.
	MaxClasses      int
	MaxFingerprints int

	// Dedupe is how long the store remembers an execution it counted, by
	// its trace and span ids, so that it counts once however often it
	// arrives (its span and its log record, two replicas); 0: executions
	// are not marked, for a store only this detector uses.
	Dedupe time.Duration
}

// Validate reports rules the detector cannot apply.
func (c *Config) Validate() error {
	var errs []error
	if err := (statestore.Window{Length: c.Window, Buckets: c.Buckets}).Validate(); err != nil {
		errs = append(errs, fmt.Errorf("window and buckets: %w", err))
	}
	if c.MinFailures < 1 {
		errs = append(errs, errors.New("min_failures: must be at least 1"))
	}
	if c.MinFailureRatio < 0 || c.MinFailureRatio >= 1 {
		errs = append(errs, errors.New("min_failure_ratio: must be at least 0 and below 1"))
	}
	if c.MinExecutions < 0 {
		errs = append(errs, errors.New("min_executions: must not be negative"))
	}
	if c.EscalationFactor < 1 {
		errs = append(errs, errors.New("escalation_factor: must be at least 1"))
	}
	if c.MinClasses != 0 && c.MinClasses < 2 {
		errs = append(errs, errors.New("min_classes: must be 0 (off) or at least 2"))
	}
	if c.MinClasses > classesPerFingerprint {
		errs = append(errs, fmt.Errorf("min_classes: must be at most %d", classesPerFingerprint))
	}
	if c.MinClasses > 0 {
		if c.DependencyWindow < time.Second {
			errs = append(errs, errors.New("dependency_window: must be at least 1s"))
		} else if err := (statestore.Window{Length: c.DependencyWindow, Buckets: 1}).Validate(); err != nil {
			errs = append(errs, fmt.Errorf("dependency_window: %w", err))
		}
	}
	if c.MaxClasses < 1 || c.MaxClasses > maxTracked {
		errs = append(errs, fmt.Errorf("max_classes: must be between 1 and %d", maxTracked))
	}
	if c.MaxFingerprints < 1 || c.MaxFingerprints > maxTracked {
		errs = append(errs, fmt.Errorf("max_fingerprints: must be between 1 and %d", maxTracked))
	}
	if c.Dedupe < 0 {
		errs = append(errs, errors.New("dedupe: must not be negative"))
	}
	return errors.Join(errs...)
}

const (
	// errorTypesKept is the size of each class's top-K of error types:
	// room beyond the one reported, so a new type can climb.
	errorTypesKept = 20
	// classesPerFingerprint bounds the classes counted per fingerprint.
	classesPerFingerprint = 64
	// maxTracked bounds max_classes and max_fingerprints.
	maxTracked = 10_000_000
	// maxClipped bounds the class, system, queue and message kept per entry.
	maxClipped = 256

	activeClassesKey = "fc:active"
	activePrintsKey  = "fc:dep:active"
	// markKeyPrefix starts the executions' dedupe marks.
	markKeyPrefix = "fc:m:"
)

// Stats describes what the detector tracks, for the processor's telemetry.
type Stats struct {
	Classes, Fingerprints               int
	EvictedClasses, EvictedFingerprints int64
}

// Detector finds failure clusters; it is safe for concurrent use.
type Detector struct {
	cfg    Config
	store  statestore.Store
	clock  clockwork.Clock
	window statestore.Window
	seed   maphash.Seed
	regTTL time.Duration
	// classRule and fingerprintRule are the rules as the store applies them:
	// failures over executions, and classes of a fingerprint.
	classRule, fingerprintRule statestore.Rule
	batchCap                   int // distinct classes, fingerprints per batch (bounds its scratch memory)

	mu      sync.Mutex
	classes *tracked[*classState]
	prints  *tracked[*fingerprintState]
}

// classState is what a replica keeps of a class between batches. Its strings
// are owned copies; member, id and the keys never change.
type classState struct {
	subject                // hash, and the last known level
	member          string // system \x00 class \x00 queue (queue only for classless events)
	system          string
	class           string
	queue           string // of the last failure
	id              string
	failuresKey     string // failures window
	executionsKey   string // executions window
	firstFailureKey string // Max of -first failure time
	lastFailureKey  string // Max of last failure time
	epoch           int64  // window-long epoch of topKey
	topKey          string // error types top-K of epoch
	prevTopKey      string // of epoch-1
	traces          traceRing
}

// fingerprintState is what a replica keeps of an error fingerprint.
type fingerprintState struct {
	subject
	print   string // the fingerprint, starting with the normalized error type
	typeLen int
	sample  string // one original message, clipped
	id      string
	key     string // classes failing with it (distinct set)
	traces  traceRing
}

func (p *fingerprintState) errType() string { return p.print[:p.typeLen] }

// traceRing keeps the last alert.MaxExampleTraceIDs distinct trace ids.
type traceRing struct {
	ids  [alert.MaxExampleTraceIDs]pcommon.TraceID
	next int
}

func (r *traceRing) add(id pcommon.TraceID) {
	if id.IsEmpty() {
		return
	}
	for _, x := range r.ids {
		if x == id {
			return
		}
	}
	r.ids[r.next] = id
	r.next = (r.next + 1) % len(r.ids)
}

// addAll adds the ids of another ring, oldest first.
func (r *traceRing) addAll(from *traceRing) {
	for k := len(from.ids); k >= 1; k-- {
		r.add(from.ids[(from.next-k+len(from.ids))%len(from.ids)])
	}
}

// list returns the ids, most recent first.
func (r *traceRing) list() []pcommon.TraceID {
	out := make([]pcommon.TraceID, 0, len(r.ids))
	for k := 1; k <= len(r.ids); k++ {
		if id := r.ids[(r.next-k+len(r.ids))%len(r.ids)]; !id.IsEmpty() {
			out = append(out, id)
		}
	}
	return out
}

// New returns a detector over store (which it does not own) on clock.
func New(cfg Config, store statestore.Store, clock clockwork.Clock) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	d := &Detector{
		cfg:    cfg,
		store:  store,
		clock:  clock,
		window: statestore.Window{Length: cfg.Window, Buckets: cfg.Buckets},
		seed:   maphash.MakeSeed(),
		regTTL: max(24*time.Hour, 2*cfg.Window, 2*cfg.DependencyWindow),
		// A class fires past MinFailures (and MinFailureRatio over at least
		// MinExecutions), resolves below half of them.
		classRule: statestore.Rule{
			Threshold: float64(cfg.MinFailures), Factor: cfg.EscalationFactor, Calm: float64(cfg.MinFailures) / 2,
			MinRatio: cfg.MinFailureRatio, CalmRatio: cfg.MinFailureRatio / 2, MinOf: cfg.MinExecutions,
		},
		// A fingerprint fires from MinClasses, escalates as the classes pass
		// (MinClasses-1) times another factor (5 and 9 classes with the
		// defaults), resolves below half of MinClasses.
		fingerprintRule: statestore.Rule{
			Threshold: float64(cfg.MinClasses - 1), Factor: cfg.EscalationFactor, Calm: float64(cfg.MinClasses) / 2,
		},
		batchCap: min(max(cfg.MaxClasses, cfg.MaxFingerprints), 1<<16),
	}
	var err error
	if d.classes, err = newTracked[*classState](cfg.MaxClasses); err != nil {
		return nil, err
	}
	if d.prints, err = newTracked[*fingerprintState](cfg.MaxFingerprints); err != nil {
		return nil, err
	}
	return d, nil
}

// Stats reports what the detector tracks.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Stats{
		Classes: d.classes.Len(), Fingerprints: d.prints.Len(),
		EvictedClasses: d.classes.evicted, EvictedFingerprints: d.prints.evicted,
	}
}

// classFor returns the tracked state of the class with hash h, creating it
// from the names (which it copies). Called with d.mu held.
func (d *Detector) classFor(h uint64, system, class, classlessQueue string) *classState {
	if c, ok := d.classes.Get(h); ok {
		return c
	}
	member := system + "\x00" + class + "\x00" + classlessQueue
	c := newClassState(h, member)
	d.classes.Add(h, c)
	return c
}

func newClassState(h uint64, member string) *classState {
	system, class, classlessQueue := splitMember(member)
	id := alert.NewID(alert.FailureCluster, member)
	return &classState{
		subject: subject{hash: h}, member: member, system: system, class: class, queue: classlessQueue, id: id,
		failuresKey: "fc:f:" + id, executionsKey: "fc:x:" + id, firstFailureKey: "fc:s:" + id, lastFailureKey: "fc:t:" + id,
		epoch: -1,
	}
}

// topKeys returns the class's top-K keys of epoch and of the one before,
// remembering them for the next batch. Called with d.mu held.
func (c *classState) topKeys(epoch int64) (cur, prev string) {
	switch {
	case epoch == c.epoch:
	case epoch == c.epoch+1:
		c.epoch, c.prevTopKey, c.topKey = epoch, c.topKey, topKey(c.id, epoch)
	default:
		c.epoch, c.prevTopKey, c.topKey = epoch, topKey(c.id, epoch-1), topKey(c.id, epoch)
	}
	return c.topKey, c.prevTopKey
}

func topKey(id string, epoch int64) string { return fmt.Sprintf("fc:e:%s:%d", id, epoch) }

// fingerprintFor returns the tracked state of fingerprint fp with hash h, creating
// it (copying fp and a clipped sample message). Called with d.mu held.
func (d *Detector) fingerprintFor(h uint64, fp []byte, typeLen int, sample string) *fingerprintState {
	if p, ok := d.prints.Get(h); ok {
		return p
	}
	p := newPrintState(h, string(fp), typeLen)
	p.sample = strings.Clone(name(sample))
	d.prints.Add(h, p)
	return p
}

func newPrintState(h uint64, print string, typeLen int) *fingerprintState {
	id := alert.NewID(alert.DependencyFailure, print)
	return &fingerprintState{subject: subject{hash: h}, print: print, typeLen: typeLen, id: id, key: "fc:d:" + id}
}

// splitMember is the inverse of system \x00 class \x00 queue; names never
// hold NUL bytes (see clean).
func splitMember(m string) (system, class, classlessQueue string) {
	var parts [3]string
	for k := 0; k < 2; k++ {
		i := 0
		for i < len(m) && m[i] != 0 {
			i++
		}
		parts[k] = m[:i]
		if i < len(m) {
			m = m[i+1:]
		} else {
			m = ""
		}
	}
	parts[2] = m
	return parts[0], parts[1], parts[2]
}

func (d *Detector) memberHash(member string) uint64 { return maphash.String(d.seed, member) }

// name is s as a tracked name: at most maxClipped bytes, cut on a rune
// boundary, with NUL bytes (the member separator) replaced. It allocates
// only to replace NUL bytes.
func name(s string) string {
	s = textcut.Prefix(s, maxClipped)
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", " ")
	}
	return s
}
