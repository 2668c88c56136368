// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package celery // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/celery"

import (
	"errors"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/rawjson"
)

var errNotUnacked = errors.New("not the JSON array [message, exchange, routing_key] kombu writes")

// parseUnacked returns the exchange and routing key of an `unacked` value,
// the JSON array [message, exchange, routing_key] kombu's QoS.append writes.
// The message, which holds the task's arguments and can be megabytes, is
// skipped unread.
func parseUnacked(value string) (exchange, routingKey string, err error) {
	i := rawjson.SkipSpace(value, 0)
	if i >= len(value) || value[i] != '[' {
		return "", "", errNotUnacked
	}
	var fields [3]string
	i++
	for n := range fields {
		i = rawjson.SkipSpace(value, i)
		end, ok := rawjson.SkipValue(value, i)
		if !ok {
			return "", "", errNotUnacked
		}
		fields[n] = value[i:end]
		i = rawjson.SkipSpace(value, end)
		want := byte(',')
		if n == len(fields)-1 {
			want = ']'
		}
		if i >= len(value) || value[i] != want {
			return "", "", errNotUnacked
		}
		i++
	}
	if rawjson.SkipSpace(value, i) != len(value) || fields[0] == "" || fields[0][0] != '{' {
		return "", "", errNotUnacked
	}
	exchange, okE := rawjson.String(fields[1])
	routingKey, okR := rawjson.String(fields[2])
	if !okE || !okR {
		return "", "", errNotUnacked
	}
	return exchange, routingKey, nil
}
