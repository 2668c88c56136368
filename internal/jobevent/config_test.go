// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobevent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"empty is valid", Config{}, ""},
		{"all keys", Config{JobIDKeys: []string{"a"}, JobClassKeys: []string{"b"}, QueueKeys: []string{"c"}, AttemptKeys: []string{"d"},
			AttemptOffset: 1, OutcomeKeys: []string{"e"}, ErrorTypeKeys: []string{"f"}, ErrorMessageKeys: []string{"g"}}, ""},
		{"empty key", Config{QueueKeys: []string{"q", ""}}, "queue_keys[1]: must not be empty"},
		{"duplicate key", Config{JobIDKeys: []string{"id", "id"}}, `job_id_keys: "id" is listed twice`},
		{"negative offset", Config{AttemptKeys: []string{"a"}, AttemptOffset: -1}, "attempt_offset: must be between 0 and 10, got -1"},
		{"offset without keys", Config{AttemptOffset: 1}, "attempt_offset: set without attempt_keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			_, err = NewExtractor(tt.cfg)
			require.ErrorContains(t, err, tt.want, "NewExtractor validates too")
		})
	}
}

// A component embeds Config with squash; the user's keys then sit at the
// top of the component's configuration.
func TestConfigUnmarshalSquashed(t *testing.T) {
	type componentConfig struct {
		Config `mapstructure:",squash"`
		Window string `mapstructure:"window"`
	}
	cm := confmap.NewFromStringMap(map[string]any{
		"window":             "10m",
		"job_id_keys":        []any{"app.job.id"},
		"job_class_keys":     []any{"app.job.class"},
		"queue_keys":         []any{"app.queue"},
		"attempt_keys":       []any{"app.attempt"},
		"attempt_offset":     1,
		"outcome_keys":       []any{"app.result"},
		"error_type_keys":    []any{"app.error.kind"},
		"error_message_keys": []any{"app.error.text"},
	})
	var got componentConfig
	require.NoError(t, cm.Unmarshal(&got))
	assert.Equal(t, componentConfig{Window: "10m", Config: Config{
		JobIDKeys: []string{"app.job.id"}, JobClassKeys: []string{"app.job.class"}, QueueKeys: []string{"app.queue"},
		AttemptKeys: []string{"app.attempt"}, AttemptOffset: 1, OutcomeKeys: []string{"app.result"},
		ErrorTypeKeys: []string{"app.error.kind"}, ErrorMessageKeys: []string{"app.error.text"},
	}}, got)
	require.NoError(t, confmap.Validate(&got))

	require.Error(t, confmap.NewFromStringMap(map[string]any{"job_id_key": []any{"typo"}}).Unmarshal(&got),
		"unknown keys are rejected")
}

// The extractor keeps its own copy of the keys.
func TestNewExtractorCopiesConfig(t *testing.T) {
	cfg := Config{JobIDKeys: []string{"app.job.id"}}
	x := newTestExtractor(t, cfg)
	cfg.JobIDKeys[0] = "changed"
	scope, span := spanSpec{name: "job", kind: consumer, attrs: map[string]any{"app.job.id": "a"}}.build(t)
	var ev Event
	require.True(t, x.FromSpan(scope, span, &ev))
	assert.Equal(t, "a", ev.ID)
}
