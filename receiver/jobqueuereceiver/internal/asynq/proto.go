// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/asynq"

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// The messages below are read with protowire, field by field, rather than
// with generated types: the snapshot needs a few fields of each, and asynq's
// .proto is not a dependency of this module. Field numbers are those of
// asynq's internal/proto/asynq.proto (unchanged from 0.22 to 0.26).
//
// Decoding follows what proto.Unmarshal does with asynq's generated types,
// so that a message the Inspector skips as bad data is skipped here too: a
// truncated or malformed message fails, a string field that is not valid
// UTF-8 fails (proto3 strings are checked), a known field with another wire
// type is ignored like an unknown field, and the last occurrence of a scalar
// field wins.

// serverInfo is what the snapshot uses of asynq's ServerInfo, the value of
// `asynq:servers:{host:pid:id}`.
type serverInfo struct {
	host        string
	pid         int64
	concurrency int64
	queues      []string
	status      string
}

// ServerInfo field numbers.
const (
	serverHost        = 1
	serverPID         = 2
	serverID          = 3
	serverConcurrency = 4
	serverQueues      = 5 // map<string, int32>: queue name -> priority
	serverStatus      = 7
	serverStarted     = 8 // google.protobuf.Timestamp
)

func parseServerInfo(b []byte) (serverInfo, error) {
	var s serverInfo
	err := walk(b, func(num protowire.Number, typ protowire.Type, x uint64, v []byte) error {
		var err error
		switch {
		case num == serverHost && typ == protowire.BytesType:
			s.host, err = protoString(v, num)
		case num == serverPID && typ == protowire.VarintType:
			s.pid = int64(int32(x))
		case num == serverConcurrency && typ == protowire.VarintType:
			s.concurrency = int64(int32(x))
		case num == serverStatus && typ == protowire.BytesType:
			s.status, err = protoString(v, num)
		case num == serverID && typ == protowire.BytesType:
			_, err = protoString(v, num) // checked as proto.Unmarshal does
		case num == serverStarted && typ == protowire.BytesType:
			_, err = parseTimestamp(v) // likewise
		case num == serverQueues && typ == protowire.BytesType:
			var q string
			q, err = mapKey(v)
			if err == nil {
				s.queues = append(s.queues, q)
			}
		}
		return err
	})
	return s, err
}

// workerInfo is what the snapshot uses of asynq's WorkerInfo, one value of
// the `asynq:workers:{host:pid:id}` hash per task being processed.
type workerInfo struct {
	queue string
	// started is when the worker started the task; zero when absent.
	started time.Time
}

// WorkerInfo field numbers.
const (
	workerQueue    = 7
	workerStarted  = 8 // google.protobuf.Timestamp
	workerDeadline = 9 // google.protobuf.Timestamp
)

func parseWorkerInfo(b []byte) (workerInfo, error) {
	var w workerInfo
	err := walk(b, func(num protowire.Number, typ protowire.Type, _ uint64, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		var err error
		switch num {
		case workerQueue:
			w.queue, err = protoString(v, num)
		case workerStarted:
			w.started, err = parseTimestamp(v)
		case workerDeadline:
			_, err = parseTimestamp(v) // checked as proto.Unmarshal does
		case 1, 3, 4, 5: // host, server_id, task_id, task_type: strings, checked as proto.Unmarshal does
			_, err = protoString(v, num)
		}
		return err
	})
	return w, err
}

// parseTimestamp reads a google.protobuf.Timestamp (seconds = 1, nanos = 2).
func parseTimestamp(b []byte) (time.Time, error) {
	var sec, nsec int64
	err := walk(b, func(num protowire.Number, typ protowire.Type, x uint64, _ []byte) error {
		if typ != protowire.VarintType {
			return nil
		}
		switch num {
		case 1:
			sec = int64(x)
		case 2:
			nsec = int64(int32(x))
		}
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(sec, nsec), nil
}

// mapKey returns the key (field 1, a string) of a map entry.
func mapKey(b []byte) (string, error) {
	var key string
	err := walk(b, func(num protowire.Number, typ protowire.Type, _ uint64, v []byte) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		var err error
		key, err = protoString(v, num)
		return err
	})
	return key, err
}

var errInvalidUTF8 = errors.New("string field is not valid UTF-8")

func protoString(v []byte, num protowire.Number) (string, error) {
	if !utf8.Valid(v) {
		return "", fmt.Errorf("field %d: %w", num, errInvalidUTF8)
	}
	return string(v), nil
}

// walk calls fn for each field of the message b, in order: a varint's value
// in x, a length-delimited field's bytes in v (a slice of b). Fixed-width
// and group fields are checked and skipped; asynq's messages have none.
func walk(b []byte, fn func(num protowire.Number, typ protowire.Type, x uint64, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if !num.IsValid() {
			return fmt.Errorf("field number %d out of range", num)
		}
		b = b[n:]
		var (
			x uint64
			v []byte
		)
		switch typ {
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if typ == protowire.VarintType || typ == protowire.BytesType {
			if err := fn(num, typ, x, v); err != nil {
				return err
			}
		}
	}
	return nil
}
