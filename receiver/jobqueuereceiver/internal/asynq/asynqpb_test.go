// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package asynq

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// asynqProto describes asynq 0.26's internal/proto/asynq.proto (the
// messages written to Redis: TaskMessage, ServerInfo, WorkerInfo), so that
// tests encode and decode them with the protobuf runtime itself, as asynq's
// generated code does, independently of the reader's protowire decoding.
const asynqProto = `
name: "asynq.proto" package: "asynq" syntax: "proto3"
dependency: "google/protobuf/timestamp.proto"
message_type {
  name: "TaskMessage"
  field { name: "type" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "payload" number: 2 label: LABEL_OPTIONAL type: TYPE_BYTES }
  field { name: "headers" number: 15 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".asynq.TaskMessage.HeadersEntry" }
  field { name: "id" number: 3 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "queue" number: 4 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "retry" number: 5 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "retried" number: 6 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "error_msg" number: 7 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "last_failed_at" number: 11 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "timeout" number: 8 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "deadline" number: 9 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "unique_key" number: 10 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "group_key" number: 14 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "retention" number: 12 label: LABEL_OPTIONAL type: TYPE_INT64 }
  field { name: "completed_at" number: 13 label: LABEL_OPTIONAL type: TYPE_INT64 }
  nested_type {
    name: "HeadersEntry"
    field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_STRING }
    options { map_entry: true }
  }
}
message_type {
  name: "ServerInfo"
  field { name: "host" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "pid" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "server_id" number: 3 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "concurrency" number: 4 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "queues" number: 5 label: LABEL_REPEATED type: TYPE_MESSAGE type_name: ".asynq.ServerInfo.QueuesEntry" }
  field { name: "strict_priority" number: 6 label: LABEL_OPTIONAL type: TYPE_BOOL }
  field { name: "status" number: 7 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "start_time" number: 8 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" }
  field { name: "active_worker_count" number: 9 label: LABEL_OPTIONAL type: TYPE_INT32 }
  nested_type {
    name: "QueuesEntry"
    field { name: "key" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
    field { name: "value" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
    options { map_entry: true }
  }
}
message_type {
  name: "WorkerInfo"
  field { name: "host" number: 1 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "pid" number: 2 label: LABEL_OPTIONAL type: TYPE_INT32 }
  field { name: "server_id" number: 3 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "task_id" number: 4 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "task_type" number: 5 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "task_payload" number: 6 label: LABEL_OPTIONAL type: TYPE_BYTES }
  field { name: "queue" number: 7 label: LABEL_OPTIONAL type: TYPE_STRING }
  field { name: "start_time" number: 8 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" }
  field { name: "deadline" number: 9 label: LABEL_OPTIONAL type: TYPE_MESSAGE type_name: ".google.protobuf.Timestamp" }
}
`

// asynqMessages are the message descriptors of asynqProto.
type asynqMessages struct {
	task, server, worker protoreflect.MessageDescriptor
}

var pb = loadAsynqProto()

func loadAsynqProto() asynqMessages {
	var fdp descriptorpb.FileDescriptorProto
	if err := prototext.Unmarshal([]byte(asynqProto), &fdp); err != nil {
		panic(err)
	}
	_ = timestamppb.Now() // registers google/protobuf/timestamp.proto
	fd, err := protodesc.NewFile(&fdp, protoregistry.GlobalFiles)
	if err != nil {
		panic(err)
	}
	m := fd.Messages()
	return asynqMessages{m.ByName("TaskMessage"), m.ByName("ServerInfo"), m.ByName("WorkerInfo")}
}

// message builds a message of md; fields maps field names to values:
// string, []byte, int32, int64, bool, time.Time (a Timestamp) or
// map[string]string / map[string]int32 (a map field).
func message(tb testing.TB, md protoreflect.MessageDescriptor, fields map[string]any) *dynamicpb.Message {
	tb.Helper()
	m := dynamicpb.NewMessage(md)
	for name, v := range fields {
		fd := md.Fields().ByName(protoreflect.Name(name))
		require.NotNil(tb, fd, name)
		switch v := v.(type) {
		case time.Time:
			m.Set(fd, protoreflect.ValueOfMessage(timestamppb.New(v).ProtoReflect()))
		case map[string]string:
			mm := m.Mutable(fd).Map()
			for k, e := range v {
				mm.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfString(e))
			}
		case map[string]int32:
			mm := m.Mutable(fd).Map()
			for k, e := range v {
				mm.Set(protoreflect.ValueOfString(k).MapKey(), protoreflect.ValueOfInt32(e))
			}
		default:
			m.Set(fd, protoreflect.ValueOf(v))
		}
	}
	return m
}

// marshal encodes a message as asynq does (proto.Marshal).
func marshal(tb testing.TB, md protoreflect.MessageDescriptor, fields map[string]any) string {
	tb.Helper()
	b, err := proto.Marshal(message(tb, md, fields))
	require.NoError(tb, err)
	return string(b)
}

// unmarshal decodes b as asynq's Decode* functions do (proto.Unmarshal).
func unmarshal(md protoreflect.MessageDescriptor, b []byte) (*dynamicpb.Message, error) {
	m := dynamicpb.NewMessage(md)
	return m, proto.Unmarshal(b, m)
}

// get returns field name of m (its default when unset).
func get(m *dynamicpb.Message, name string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}

// timestampOf reads a Timestamp field as asynq does (AsTime, the Unix epoch
// when unset).
func timestampOf(m *dynamicpb.Message, name string) time.Time {
	ts := get(m, name).Message()
	fields := ts.Descriptor().Fields()
	return time.Unix(ts.Get(fields.ByName("seconds")).Int(), ts.Get(fields.ByName("nanos")).Int())
}
