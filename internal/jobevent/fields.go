// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// slot numbers a key the extractor reads. The built-in keys have fixed slots;
// NewExtractor numbers the user's keys after them.
type slot int

// The keys the built-in conventions read.
const (
	keyID slot = iota
	keyKind
	keyQueue
	keyAttempt
	keyStatus
	keyErrorType
	keyErrorMessage
	keyErrorMsg
	keyResourceName
	keySidekiqJobID
	keySidekiqJobQueue
	keySidekiqJobRetryCount
	keyBullMQJobID
	keyBullMQJobName
	keyBullMQJobAttemptsMade
	keyBullMQQueueName
	keyBullMQQueueOperation
	keyCeleryAction
	keyCeleryTaskName
	keyCeleryState
	keyCeleryRetries
	keyCeleryRetryReason
	keyCodeNamespace
	keyMessagingSystem
	keyMessagingOperation
	keyMessagingOperationType
	keyMessagingMessageID
	keyMessagingMessageIDOld
	keyMessagingDestination
	keyMessagingDestinationName
	keyMessagingSidekiqJobClass
	keyMessagingBullMQJobName
	keyMessagingBullMQJobAttempts
	keyMessagingBullMQJobFailedReason
	keyMessagingResqueJobClass
	// Log records.
	keyJID
	keyClass
	keyJob
	keyRetryCount
	keyEvent
	keyMsg
	keyErrorClass
	keyErrorMessageLog
	keyError
	keyExceptionMessage
	keyCtx
	keyJobID
	keyJobIDCamel
	keyTaskID
	keyJobClass
	keyJobNameCamel
	keyJobKind
	keyTask
	keyTaskName
	keyWorker
	keyQueueName
	keyQueueNameCamel
	keyAttemptsMade
	keyAttempts
	keyRetries
	keyState
	keyOutcome
	keyMessage
	keyExceptionType
	keyErr
	keyReason
	keyFailedReason
	numBuiltinKeys
)

var builtinKeys = [numBuiltinKeys]string{
	keyID:                             "id",
	keyKind:                           "kind",
	keyQueue:                          "queue",
	keyAttempt:                        "attempt",
	keyStatus:                         "status",
	keyErrorType:                      "error.type",
	keyErrorMessage:                   "error.message",
	keyErrorMsg:                       "error.msg",
	keyResourceName:                   "resource.name",
	keySidekiqJobID:                   "sidekiq.job.id",
	keySidekiqJobQueue:                "sidekiq.job.queue",
	keySidekiqJobRetryCount:           "sidekiq.job.retry_count",
	keyBullMQJobID:                    "bullmq.job.id",
	keyBullMQJobName:                  "bullmq.job.name",
	keyBullMQJobAttemptsMade:          "bullmq.job.attempts.made",
	keyBullMQQueueName:                "bullmq.queue.name",
	keyBullMQQueueOperation:           "bullmq.queue.operation",
	keyCeleryAction:                   "celery.action",
	keyCeleryTaskName:                 "celery.task_name",
	keyCeleryState:                    "celery.state",
	keyCeleryRetries:                  "celery.retries",
	keyCeleryRetryReason:              "celery.retry.reason",
	keyCodeNamespace:                  "code.namespace",
	keyMessagingSystem:                "messaging.system",
	keyMessagingOperation:             "messaging.operation",
	keyMessagingOperationType:         "messaging.operation.type",
	keyMessagingMessageID:             "messaging.message.id",
	keyMessagingMessageIDOld:          "messaging.message_id",
	keyMessagingDestination:           "messaging.destination",
	keyMessagingDestinationName:       "messaging.destination.name",
	keyMessagingSidekiqJobClass:       "messaging.sidekiq.job_class",
	keyMessagingBullMQJobName:         "messaging.bullmq.job.name",
	keyMessagingBullMQJobAttempts:     "messaging.bullmq.job.attempts",
	keyMessagingBullMQJobFailedReason: "messaging.bullmq.job.failedReason",
	keyMessagingResqueJobClass:        "messaging.resque.job_class",
	keyJID:                            "jid",
	keyClass:                          "class",
	keyJob:                            "job",
	keyRetryCount:                     "retry_count",
	keyEvent:                          "event",
	keyMsg:                            "msg",
	keyErrorClass:                     "error_class",
	keyErrorMessageLog:                "error_message",
	keyError:                          "error",
	keyExceptionMessage:               "exception.message",
	keyCtx:                            "ctx",
	keyJobID:                          "job_id",
	keyJobIDCamel:                     "jobId",
	keyTaskID:                         "task_id",
	keyJobClass:                       "job_class",
	keyJobNameCamel:                   "jobName",
	keyJobKind:                        "job_kind",
	keyTask:                           "task",
	keyTaskName:                       "task_name",
	keyWorker:                         "worker",
	keyQueueName:                      "queue_name",
	keyQueueNameCamel:                 "queueName",
	keyAttemptsMade:                   "attemptsMade",
	keyAttempts:                       "attempts",
	keyRetries:                        "retries",
	keyState:                          "state",
	keyOutcome:                        "outcome",
	keyMessage:                        "message",
	keyExceptionType:                  "exception.type",
	keyErr:                            "err",
	keyReason:                         "reason",
	keyFailedReason:                   "failedReason",
}

// maxRecorded bounds the slots whose values one pass over a record's maps
// holds: the built-in keys and the user's first ones. The user's keys
// beyond it are looked up in the maps.
const maxRecorded = 128

// Every built-in key must be held: a compile error when they outgrow
// maxRecorded.
var _ [maxRecorded - numBuiltinKeys]struct{}

// keyIndex numbers the keys an Extractor reads: the built-in keys, then the
// user's own.
type keyIndex struct {
	names []string        // by slot
	user  map[string]slot // the user's keys that are no built-in key
	// filter has a bit set for each key's length and two of its bytes:
	// most other keys (an HTTP span's, say) are turned down by one test.
	filter [64]uint64
}

func newKeyIndex() keyIndex {
	k := keyIndex{names: builtinKeys[:]}
	for _, name := range builtinKeys {
		k.filter[filterIndex(name)] |= filterBit(name)
	}
	return k
}

// mayRead is false for most keys that are not in the index, and true for
// all that are. A key of a length no indexed key has is turned down without
// reading its bytes, which may not be in the CPU cache yet.
func (k *keyIndex) mayRead(name string) bool {
	w := k.filter[filterIndex(name)]
	return w != 0 && name != "" && w&filterBit(name) != 0
}

func filterIndex(name string) int { return len(name) % 64 }

func filterBit(name string) uint64 {
	n := len(name)
	return 1 << ((name[n-1] ^ name[n/2]) % 64)
}

// add returns name's slot, numbering it when it is new.
func (k *keyIndex) add(name string) slot {
	if s := slices.Index(k.names, name); s >= 0 {
		return slot(s)
	}
	s := slot(len(k.names))
	k.names = append(k.names[:len(k.names):len(k.names)], name)
	k.filter[filterIndex(name)] |= filterBit(name)
	if k.user == nil {
		k.user = make(map[string]slot)
	}
	k.user[name] = s
	return s
}

// userSlot is the slot of one of the user's own keys.
func (k *keyIndex) userSlot(name string) (slot, bool) {
	if len(k.user) == 0 {
		return 0, false // most configurations: no map lookup per attribute
	}
	s, ok := k.user[name]
	return s, ok
}

// maxValues bounds the values fields holds, so that the per-record state
// stays small. Job spans carry about ten of the keys the extractor reads;
// the richest real job log record, a BullMQ worker's winston line with the
// job's fields in both its own and BullMQ's spellings, carries 13. Past it,
// the values not held are looked up in the maps.
const maxValues = 16

// fields are the values of the keys an extractor reads, taken from up to
// three maps in order (a span's attributes; a log record's attributes, body
// and Sidekiq "ctx" map) in one pass over each: a key's value is its first
// one in the first map that has it, as pcommon.Map.Get finds it.
type fields struct {
	ix   *keyIndex
	maps [3]pcommon.Map
	n    int
	held [maxRecorded]uint8           // by slot: the index in vals; 0: not held
	vals [1 + maxValues]pcommon.Value // vals[0] stays empty
	nval int
	// direct is the slots below which get reads held values: maxRecorded,
	// or 0 once a value could not be held for want of room.
	direct slot
}

func newFields(ix *keyIndex) fields {
	return fields{ix: ix, direct: maxRecorded}
}

func (f *fields) add(m pcommon.Map) {
	if f.n == len(f.maps) {
		return
	}
	f.maps[f.n] = m
	f.n++
	for name, v := range m.All() {
		if !f.ix.mayRead(name) {
			continue
		}
		// builtinKeys again, as a switch (TestBuiltinKeys keeps the two in
		// step): Go compiles it into a jump on the key's length and a few
		// compares, about three times faster than a map lookup.
		var s slot
		switch name {
		case "id":
			s = keyID
		case "kind":
			s = keyKind
		case "queue":
			s = keyQueue
		case "attempt":
			s = keyAttempt
		case "status":
			s = keyStatus
		case "error.type":
			s = keyErrorType
		case "error.message":
			s = keyErrorMessage
		case "error.msg":
			s = keyErrorMsg
		case "resource.name":
			s = keyResourceName
		case "sidekiq.job.id":
			s = keySidekiqJobID
		case "sidekiq.job.queue":
			s = keySidekiqJobQueue
		case "sidekiq.job.retry_count":
			s = keySidekiqJobRetryCount
		case "bullmq.job.id":
			s = keyBullMQJobID
		case "bullmq.job.name":
			s = keyBullMQJobName
		case "bullmq.job.attempts.made":
			s = keyBullMQJobAttemptsMade
		case "bullmq.queue.name":
			s = keyBullMQQueueName
		case "bullmq.queue.operation":
			s = keyBullMQQueueOperation
		case "celery.action":
			s = keyCeleryAction
		case "celery.task_name":
			s = keyCeleryTaskName
		case "celery.state":
			s = keyCeleryState
		case "celery.retries":
			s = keyCeleryRetries
		case "celery.retry.reason":
			s = keyCeleryRetryReason
		case "code.namespace":
			s = keyCodeNamespace
		case "messaging.system":
			s = keyMessagingSystem
		case "messaging.operation":
			s = keyMessagingOperation
		case "messaging.operation.type":
			s = keyMessagingOperationType
		case "messaging.message.id":
			s = keyMessagingMessageID
		case "messaging.message_id":
			s = keyMessagingMessageIDOld
		case "messaging.destination":
			s = keyMessagingDestination
		case "messaging.destination.name":
			s = keyMessagingDestinationName
		case "messaging.sidekiq.job_class":
			s = keyMessagingSidekiqJobClass
		case "messaging.bullmq.job.name":
			s = keyMessagingBullMQJobName
		case "messaging.bullmq.job.attempts":
			s = keyMessagingBullMQJobAttempts
		case "messaging.bullmq.job.failedReason":
			s = keyMessagingBullMQJobFailedReason
		case "messaging.resque.job_class":
			s = keyMessagingResqueJobClass
		case "jid":
			s = keyJID
		case "class":
			s = keyClass
		case "job":
			s = keyJob
		case "retry_count":
			s = keyRetryCount
		case "event":
			s = keyEvent
		case "msg":
			s = keyMsg
		case "error_class":
			s = keyErrorClass
		case "error_message":
			s = keyErrorMessageLog
		case "error":
			s = keyError
		case "exception.message":
			s = keyExceptionMessage
		case "ctx":
			s = keyCtx
		case "job_id":
			s = keyJobID
		case "jobId":
			s = keyJobIDCamel
		case "task_id":
			s = keyTaskID
		case "job_class":
			s = keyJobClass
		case "jobName":
			s = keyJobNameCamel
		case "job_kind":
			s = keyJobKind
		case "task":
			s = keyTask
		case "task_name":
			s = keyTaskName
		case "worker":
			s = keyWorker
		case "queue_name":
			s = keyQueueName
		case "queueName":
			s = keyQueueNameCamel
		case "attemptsMade":
			s = keyAttemptsMade
		case "attempts":
			s = keyAttempts
		case "retries":
			s = keyRetries
		case "state":
			s = keyState
		case "outcome":
			s = keyOutcome
		case "message":
			s = keyMessage
		case "exception.type":
			s = keyExceptionType
		case "err":
			s = keyErr
		case "reason":
			s = keyReason
		case "failedReason":
			s = keyFailedReason
		default:
			var ok bool
			if s, ok = f.ix.userSlot(name); !ok {
				continue
			}
		}
		f.hold(s, v)
	}
}

// hold keeps v as the value of s unless s already has one: the first
// occurrence wins, as with pcommon.Map.Get.
func (f *fields) hold(s slot, v pcommon.Value) {
	switch {
	case s >= maxRecorded || f.held[s] != 0:
	case f.nval == maxValues:
		f.direct = 0
	default:
		f.nval++
		f.vals[f.nval] = v
		f.held[s] = uint8(f.nval)
	}
}

// absent reports, without a call, that s has no value: the lists of keys
// the conventions try are long, and most of their keys are absent.
func (f *fields) absent(s slot) bool {
	return s < f.direct && f.held[s] == 0
}

func (f *fields) get(s slot) (pcommon.Value, bool) {
	if s >= f.direct {
		return f.lookup(s)
	}
	i := f.held[s]
	return f.vals[i], i != 0
}

// lookup finds the value of a key that fields could not hold in the maps,
// as add would have found it.
func (f *fields) lookup(s slot) (pcommon.Value, bool) {
	for _, m := range f.maps[:f.n] {
		if v, ok := m.Get(f.ix.names[s]); ok {
			return v, true
		}
	}
	return pcommon.Value{}, false
}

func (f *fields) has(s slot) bool {
	if s < f.direct {
		return f.held[s] != 0
	}
	_, ok := f.lookup(s)
	return ok
}

// strAt is the string value of s, or "".
func (f *fields) strAt(s slot) string {
	if s < f.direct { // get, inlined: strAt reads most keys
		if i := f.held[s]; i != 0 {
			return f.vals[i].Str() // "" for other types
		}
		return ""
	}
	if v, ok := f.lookup(s); ok {
		return v.Str()
	}
	return ""
}

// str is the first non-empty string value of keys, then of more.
func (f *fields) str(keys, more []slot) string {
	if len(keys) != 0 { // the user's keys: most configurations have none
		if s := f.firstStr(keys); s != "" {
			return s
		}
	}
	return f.firstStr(more)
}

func (f *fields) firstStr(keys []slot) string {
	for _, k := range keys {
		if k >= f.direct {
			if s := f.strAt(k); s != "" {
				return s
			}
		} else if i := f.held[k]; i != 0 { // strAt, inlined
			if s := f.vals[i].Str(); s != "" {
				return s
			}
		}
	}
	return ""
}

// hasID reports whether one of keys holds a usable id, without rendering it.
func (f *fields) hasID(keys []slot) bool {
	_, ok := f.firstID(keys)
	return ok
}

// id is the first usable id of keys, then of more.
func (f *fields) id(keys, more []slot) string {
	var v pcommon.Value
	var ok bool
	if len(keys) != 0 {
		v, ok = f.firstID(keys)
	}
	if !ok {
		v, ok = f.firstID(more)
	}
	if !ok {
		return ""
	}
	return idString(v)
}

func (f *fields) firstID(keys []slot) (pcommon.Value, bool) {
	for _, k := range keys {
		if f.absent(k) {
			continue
		}
		if v, ok := f.get(k); ok && isID(v) {
			return v, true
		}
	}
	return pcommon.Value{}, false
}

// attempt is the 1-based attempt from the first counter present in keys,
// then more; 1 when none is present and firstUnmarked; else 0 (unknown).
func (f *fields) attempt(keys, more []counterKey, firstUnmarked bool) int {
	if len(keys) != 0 {
		if a, ok := f.firstAttempt(keys); ok {
			return a
		}
	}
	if a, ok := f.firstAttempt(more); ok {
		return a
	}
	if firstUnmarked {
		return 1
	}
	return 0
}

func (f *fields) firstAttempt(keys []counterKey) (int, bool) {
	for _, k := range keys {
		if f.absent(k.key) {
			continue
		}
		if v, ok := f.get(k.key); ok {
			return attemptNumber(v, k.offset), true
		}
	}
	return 0, false
}

// outcome is the first outcome word found under keys, then more.
func (f *fields) outcome(keys, more []slot) Outcome {
	if len(keys) != 0 {
		if o := f.firstOutcome(keys); o != OutcomeUnknown {
			return o
		}
	}
	return f.firstOutcome(more)
}

func (f *fields) firstOutcome(keys []slot) Outcome {
	for _, k := range keys {
		if f.absent(k) {
			continue
		}
		if s := f.strAt(k); s != "" {
			if o := parseOutcome(s); o != OutcomeUnknown {
				return o
			}
		}
	}
	return OutcomeUnknown
}
