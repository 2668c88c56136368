// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobevent"

import (
	"errors"
	"fmt"
)

// Config adds the user's own keys to the built-in conventions. Components
// embed it with `mapstructure:",squash"`. Each list names attribute keys (for
// log records also keys of a map or JSON body), tried in order and before the
// built-in keys.
type Config struct {
	// JobIDKeys hold the job id. A CONSUMER span, a parentless INTERNAL span
	// or a log record with an outcome that carries one is a job execution.
	JobIDKeys []string `mapstructure:"job_id_keys"`
	// JobClassKeys hold the job class (kind, task, worker name).
	JobClassKeys []string `mapstructure:"job_class_keys"`
	// QueueKeys hold the queue name.
	QueueKeys []string `mapstructure:"queue_keys"`
	// AttemptKeys hold the attempt number; AttemptOffset is added to the
	// value so that the first attempt is 1 (set 1 for 0-based counters).
	AttemptKeys   []string `mapstructure:"attempt_keys"`
	AttemptOffset int      `mapstructure:"attempt_offset"`
	// OutcomeKeys hold an outcome word (see the package documentation).
	OutcomeKeys []string `mapstructure:"outcome_keys"`
	// ErrorTypeKeys and ErrorMessageKeys describe a failure.
	ErrorTypeKeys    []string `mapstructure:"error_type_keys"`
	ErrorMessageKeys []string `mapstructure:"error_message_keys"`

	_ struct{}
}

// Validate reports configuration errors with the YAML key they concern.
func (c *Config) Validate() error {
	errs := []error{
		validateKeys("job_id_keys", c.JobIDKeys),
		validateKeys("job_class_keys", c.JobClassKeys),
		validateKeys("queue_keys", c.QueueKeys),
		validateKeys("attempt_keys", c.AttemptKeys),
		validateKeys("outcome_keys", c.OutcomeKeys),
		validateKeys("error_type_keys", c.ErrorTypeKeys),
		validateKeys("error_message_keys", c.ErrorMessageKeys),
	}
	if c.AttemptOffset < 0 || c.AttemptOffset > maxAttemptOffset {
		errs = append(errs, fmt.Errorf("attempt_offset: must be between 0 and %d, got %d", maxAttemptOffset, c.AttemptOffset))
	} else if c.AttemptOffset != 0 && len(c.AttemptKeys) == 0 {
		errs = append(errs, errors.New("attempt_offset: set without attempt_keys"))
	}
	return errors.Join(errs...)
}

// maxAttemptOffset bounds attempt_offset: the known counters need at most 2
// (Sidekiq's retry_count).
const maxAttemptOffset = 10

func validateKeys(name string, keys []string) error {
	seen := make(map[string]struct{}, len(keys))
	for i, k := range keys {
		if k == "" {
			return fmt.Errorf("%s[%d]: must not be empty", name, i)
		}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("%s: %q is listed twice", name, k)
		}
		seen[k] = struct{}{}
	}
	return nil
}
