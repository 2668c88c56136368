// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package workload

import (
	"encoding/json"
	"fmt"
	"time"
)

// job is a Sidekiq 6.4 job payload, the JSON stored in queue lists, the
// retry/schedule/dead sets and the workers hashes. Times are float epoch
// seconds, as Ruby's Time#to_f writes them.
type job struct {
	Retry        Retry   `json:"retry"`
	Queue        string  `json:"queue"`
	Class        string  `json:"class"`
	Args         []any   `json:"args"`
	JID          string  `json:"jid"`
	CreatedAt    float64 `json:"created_at"`
	EnqueuedAt   float64 `json:"enqueued_at,omitempty"`
	ErrorMessage string  `json:"error_message,omitempty"`
	ErrorClass   string  `json:"error_class,omitempty"`
	FailedAt     float64 `json:"failed_at,omitempty"`
	RetriedAt    float64 `json:"retried_at,omitempty"`
	// RetryCount is absent until the first failure, then 0, 1, ...
	RetryCount *int `json:"retry_count,omitempty"`
}

// MarshalJSON writes the option as Sidekiq does: true, false or a number.
func (r Retry) MarshalJSON() ([]byte, error) {
	switch r {
	case RetryDefault:
		return []byte("true"), nil
	case RetryNever:
		return []byte("false"), nil
	}
	return json.Marshal(int(r))
}

// UnmarshalJSON reads true, false or a number of retries.
func (r *Retry) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true":
		*r = RetryDefault
		return nil
	case "false", "null":
		*r = RetryNever
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil || n < 0 {
		return fmt.Errorf("retry: want true, false or a count, got %s", b)
	}
	*r = Retry(n)
	return nil
}

// epoch is t as Ruby's Time#to_f: float seconds, microsecond precision.
func epoch(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func (j *job) encode() string { return mustJSON(j) }

// mustJSON encodes values built from plain fields, which cannot fail.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func decodeJob(payload string) (*job, error) {
	j := new(job)
	if err := json.Unmarshal([]byte(payload), j); err != nil {
		return nil, fmt.Errorf("not a Sidekiq job payload: %w", err)
	}
	return j, nil
}
