// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package alert // import "github.com/otelcol-jobs/otelcol-jobs/internal/alert"

import (
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Severity is an alert's severity, ordered: a higher one is an escalation.
// In component configs it is written info, warn, error or fatal.
type Severity uint8

const (
	SeverityInfo Severity = iota + 1
	SeverityWarn
	SeverityError
	SeverityFatal
)

// String is the log SeverityText: INFO, WARN, ERROR or FATAL.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "INFO"
	case SeverityWarn:
		return "WARN"
	case SeverityError:
		return "ERROR"
	case SeverityFatal:
		return "FATAL"
	}
	return ""
}

// Number is the log SeverityNumber: the first of the OpenTelemetry range of
// that name.
func (s Severity) Number() plog.SeverityNumber {
	switch s {
	case SeverityInfo:
		return plog.SeverityNumberInfo
	case SeverityWarn:
		return plog.SeverityNumberWarn
	case SeverityError:
		return plog.SeverityNumberError
	case SeverityFatal:
		return plog.SeverityNumberFatal
	}
	return plog.SeverityNumberUnspecified
}

// UnmarshalText reads info, warn (or warning), error or fatal, in any case.
func (s *Severity) UnmarshalText(text []byte) error {
	switch strings.ToLower(string(text)) {
	case "info":
		*s = SeverityInfo
	case "warn", "warning":
		*s = SeverityWarn
	case "error":
		*s = SeverityError
	case "fatal":
		*s = SeverityFatal
	default:
		return fmt.Errorf("unknown severity %q: use info, warn, error or fatal", text)
	}
	return nil
}

// MarshalText writes the config spelling (info, warn, error, fatal).
func (s Severity) MarshalText() ([]byte, error) {
	if s.String() == "" {
		return nil, fmt.Errorf("invalid severity %d", uint8(s))
	}
	return []byte(strings.ToLower(s.String())), nil
}
