// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Extractor recognises job executions in spans and log records. It is
// immutable after NewExtractor and safe for concurrent use; At gives the
// Reader of one batch.
type Extractor struct {
	keys keyIndex
	user convention
	// idKeys are the names of the id keys; a JSON log body that has none of
	// them is not parsed.
	idKeys []string
}

// maxJSONBody bounds the string log bodies that are parsed as JSON.
const maxJSONBody = 1 << 20

// NewExtractor validates cfg and returns an Extractor that reads the user's
// keys before the built-in conventions.
func NewExtractor(cfg Config) (*Extractor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	x := &Extractor{keys: newKeyIndex()}
	x.user = convention{
		id:           x.slots(cfg.JobIDKeys),
		class:        x.slots(cfg.JobClassKeys),
		queue:        x.slots(cfg.QueueKeys),
		outcome:      x.slots(cfg.OutcomeKeys),
		errorType:    x.slots(cfg.ErrorTypeKeys),
		errorMessage: x.slots(cfg.ErrorMessageKeys),
	}
	for _, k := range cfg.AttemptKeys {
		x.user.attempt = append(x.user.attempt, counterKey{x.keys.add(k), cfg.AttemptOffset})
	}
	for _, s := range slices.Concat(jobLogs.id, x.user.id) {
		x.idKeys = append(x.idKeys, x.keys.names[s])
	}
	return x, nil
}

// slots numbers the user's keys.
func (x *Extractor) slots(names []string) []slot {
	var out []slot
	for _, n := range names {
		out = append(out, x.keys.add(n))
	}
	return out
}

// Reader reads the spans and log records of one batch: the extractor and the
// batch's clock, read once by the caller, which bounds event times.
type Reader struct {
	x   *Extractor
	now time.Time
}

// At returns the Reader of a batch whose clock reads now.
func (x *Extractor) At(now time.Time) Reader { return Reader{x: x, now: now} }

// FromSpan fills ev and reports true when span is a job execution. It
// returns false without allocating, and without touching ev, for any other
// span. A batch's spans are best read scope by scope (Scope), which decides
// what a scope says of its spans once.
func (r Reader) FromSpan(scope pcommon.InstrumentationScope, span ptrace.Span, ev *Event) bool {
	// What the span's kind, name and parent say first: most spans are
	// turned down without looking the scope up.
	if !r.x.mayBeExecution(span) {
		return false
	}
	s := r.Scope(scope)
	return !s.skip && r.x.fromSpan(&s, span, r.now, ev)
}

// fromSpan reads span, which mayBeExecution let through.
func (x *Extractor) fromSpan(scope *SpanScope, span ptrace.Span, now time.Time, ev *Event) bool {
	f := newFields(&x.keys)
	f.add(span.Attributes())
	c := x.spanConvention(scope, span, &f)
	if c == nil {
		return false
	}
	*ev = Event{TraceID: span.TraceID(), SpanID: span.SpanID()}
	x.fillJob(c, &f, ev)
	ev.Time = clamp(span.EndTimestamp(), span.StartTimestamp(), now)

	status := span.Status()
	failed := status.Code() == ptrace.StatusCodeError ||
		f.outcome(x.user.outcome, c.outcome) == OutcomeFailure ||
		f.strAt(keyErrorType) != ""
	if !failed && c.failureEvent == "" {
		ev.Outcome = OutcomeSuccess
		return true
	}
	var exception pcommon.Map
	var hasException bool
	var reason string
	events := span.Events()
	for i := 0; i < events.Len(); i++ {
		e := events.At(i)
		switch name := e.Name(); {
		case name == "exception":
			exception, hasException = e.Attributes(), true
		case c.failureEvent != "" && name == c.failureEvent:
			failed = true
			reason = str(e.Attributes(), c.failureReason)
		}
	}
	if !failed {
		ev.Outcome = OutcomeSuccess
		return true
	}
	ev.Outcome = OutcomeFailure

	var excType, excMessage string
	if hasException {
		excType, excMessage = str(exception, "exception.type"), str(exception, "exception.message")
	}
	ev.ErrorMessage = firstNonEmpty(
		f.str(x.user.errorMessage, nil), excMessage, status.Message(), reason, f.str(c.errorMessage, nil))
	ev.ErrorType = firstNonEmpty(f.str(x.user.errorType, c.errorType), excType)
	if ev.ErrorType == "" {
		ev.ErrorType = errorTypeFromMessage(ev.ErrorMessage)
	}
	return true
}

// FromLog fills ev and reports true when lr records a job execution: it
// carries a job id and an outcome. It returns false without touching ev
// otherwise, and without allocating unless the body is a JSON object that
// mentions an id key.
func (r Reader) FromLog(lr plog.LogRecord, ev *Event) bool {
	x := r.x
	f := newFields(&x.keys)
	f.add(lr.Attributes())
	var bodyText string
	switch body := lr.Body(); body.Type() {
	case pcommon.ValueTypeMap:
		f.add(body.Map())
	case pcommon.ValueTypeStr:
		if m, ok := x.jsonBody(body.Str()); ok {
			f.add(m)
		} else {
			bodyText = body.Str()
		}
	}
	if ctx, ok := f.get(keyCtx); ok && ctx.Type() == pcommon.ValueTypeMap {
		f.add(ctx.Map())
	}

	c := &jobLogs
	if !f.hasID(x.user.id) && !f.hasID(c.id) {
		return false
	}
	outcome := f.outcome(x.user.outcome, c.outcome)
	if outcome == OutcomeUnknown {
		outcome = logMessageOutcome(&f, bodyText)
		// A message that reads as a success but is logged as an error
		// says something else ("job completed with errors").
		if outcome == OutcomeSuccess && lr.SeverityNumber() >= plog.SeverityNumberError {
			outcome = OutcomeUnknown
		}
	}
	if outcome == OutcomeUnknown {
		return false
	}

	*ev = Event{TraceID: lr.TraceID(), SpanID: lr.SpanID(), Outcome: outcome}
	x.fillJob(c, &f, ev)
	if ev.System == "" {
		ev.System = logSystem(&f)
	}
	ev.Time = clamp(lr.Timestamp(), lr.ObservedTimestamp(), r.now)
	if outcome == OutcomeFailure {
		x.logError(c, &f, ev)
	}
	return true
}

// logError sets the error of a failed log record: its keys, the user's
// first; else the error logged as a map; else a type derived from the
// message.
func (x *Extractor) logError(c *convention, f *fields, ev *Event) {
	errObj, hasErrObj := errorObject(f)
	ev.ErrorMessage = f.str(x.user.errorMessage, c.errorMessage)
	if ev.ErrorMessage == "" && hasErrObj {
		ev.ErrorMessage = str(errObj, "message")
	}
	ev.ErrorType = f.str(x.user.errorType, c.errorType)
	if ev.ErrorType == "" && hasErrObj {
		ev.ErrorType = firstNonEmpty(str(errObj, "type"), str(errObj, "name"))
	}
	if ev.ErrorType == "" {
		ev.ErrorType = errorName(f.strAt(keyError), ev.ErrorMessage)
	}
	if ev.ErrorType == "" {
		ev.ErrorType = errorTypeFromMessage(ev.ErrorMessage)
	}
}

// logMessageOutcome is the outcome a log record's message gives: its msg or
// message key, else its plain string body.
func logMessageOutcome(f *fields, bodyText string) Outcome {
	for _, k := range logMessages {
		if s := f.strAt(k); s != "" {
			if o := messageOutcome(s); o != OutcomeUnknown {
				return o
			}
		}
	}
	return messageOutcome(bodyText)
}

// logSystem names the job system of a log record from the keys it has.
func logSystem(f *fields) string {
	for _, k := range logSystems {
		if f.has(k.key) {
			return k.system
		}
	}
	return ""
}

// errorName is the error key's value when it names the error's type beside
// a message of its own ({"error": "CardDeclinedError", "error_message":
// "card declined"}): one word, not the message.
func errorName(errorValue, message string) string {
	if errorValue == message || len(errorValue) > maxDerivedErrorType || strings.ContainsAny(errorValue, " \t\n") {
		return ""
	}
	return errorValue
}

// errorObject is the error logged as a map under err or error, as pino's
// error serializer writes it: type, message, stack.
func errorObject(f *fields) (pcommon.Map, bool) {
	for _, k := range [...]slot{keyErr, keyError} {
		if v, ok := f.get(k); ok && v.Type() == pcommon.ValueTypeMap {
			return v.Map(), true
		}
	}
	return pcommon.Map{}, false
}

// fillJob sets the fields every convention shares: system, id, class, queue
// and attempt, the user's keys first.
func (x *Extractor) fillJob(c *convention, f *fields, ev *Event) {
	ev.System = c.system
	if s := f.strAt(keyMessagingSystem); s != "" && !isSystem(s, c.system) {
		ev.System = s
	}
	ev.ID = f.id(x.user.id, c.id)
	ev.Class = f.str(x.user.class, c.class)
	ev.Queue = f.str(x.user.queue, c.queue)
	ev.Attempt = f.attempt(x.user.attempt, c.attempt, c.firstAttemptUnmarked)
}

// jsonBody parses a log body that is a JSON object mentioning an id key.
func (x *Extractor) jsonBody(s string) (pcommon.Map, bool) {
	for s != "" && isJSONSpace(s[0]) {
		s = s[1:]
	}
	if len(s) > maxJSONBody || !strings.HasPrefix(s, "{") {
		return pcommon.Map{}, false
	}
	if !x.mentionsID(s) {
		return pcommon.Map{}, false
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return pcommon.Map{}, false
	}
	m := pcommon.NewMap()
	if err := m.FromRaw(raw); err != nil {
		return pcommon.Map{}, false
	}
	return m, true
}

// mentionsID reports whether the JSON text s may have an id key: a quoted
// id key followed by a colon. One pass over s, however many id keys there
// are; a match inside a string value only costs a parse.
func (x *Extractor) mentionsID(s string) bool {
	for {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return false
		}
		key := s[:i]
		for key != "" && isJSONSpace(key[len(key)-1]) {
			key = key[:len(key)-1]
		}
		s = s[i+1:]
		if !strings.HasSuffix(key, `"`) {
			continue
		}
		key = key[:len(key)-1]
		key = key[strings.LastIndexByte(key, '"')+1:]
		if x.keys.mayRead(key) && slices.Contains(x.idKeys, key) {
			return true
		}
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// clamp is the event time: ts, else fallback, else now; never after now, so
// a producer's skewed clock cannot push events into future windows.
func clamp(ts, fallback pcommon.Timestamp, now time.Time) time.Time {
	if ts == 0 {
		ts = fallback
	}
	// Compared as unsigned nanoseconds: AsTime would wrap a corrupt
	// timestamp beyond 2262 into the past.
	if ts == 0 || ts >= pcommon.NewTimestampFromTime(now) {
		return now
	}
	return ts.AsTime()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
