// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package sidekiq // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/sidekiq"

import (
	"strings"
)

// keys are the global keys, namespace included.
type keys struct {
	prefix                                                      string
	queues, processes, schedule, retry, dead, processed, failed string
}

// perQueueAndProcess returns the list key of every queue and the
// `<identity>:workers` key of every process, whose prefixes are the process
// hash and `:work` keys. All are slices of one string: building a string per
// key would cost an allocation each, 1,600 for 1,000 queues and 200 processes.
func (k *keys) perQueueAndProcess(queues, identities []string) (queueKeys, workersKeys []string) {
	const queuePrefix, workersSuffix = "queue:", ":workers"
	n := 0
	for _, q := range queues {
		n += len(k.prefix) + len(queuePrefix) + len(q)
	}
	for _, id := range identities {
		n += len(k.prefix) + len(id) + len(workersSuffix)
	}
	var b strings.Builder
	b.Grow(n)
	for _, q := range queues {
		b.WriteString(k.prefix)
		b.WriteString(queuePrefix)
		b.WriteString(q)
	}
	for _, id := range identities {
		b.WriteString(k.prefix)
		b.WriteString(id)
		b.WriteString(workersSuffix)
	}
	all, off := b.String(), 0
	slice := func(l int) string {
		off += l
		return all[off-l : off]
	}
	queueKeys = make([]string, len(queues))
	for i, q := range queues {
		queueKeys[i] = slice(len(k.prefix) + len(queuePrefix) + len(q))
	}
	workersKeys = make([]string, len(identities))
	for i, id := range identities {
		workersKeys[i] = slice(len(k.prefix) + len(id) + len(workersSuffix))
	}
	return queueKeys, workersKeys
}
