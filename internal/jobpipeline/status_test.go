// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobpipeline

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type statusHost struct {
	component.Host
	got []componentstatus.Status
}

func (h *statusHost) Report(ev *componentstatus.Event) { h.got = append(h.got, ev.Status()) }

// The status changes only when the store's health does: an outage or a
// failed batch makes it a recoverable error, a batch that goes well does not
// end an outage, and OK comes once both are over.
func TestStatus(t *testing.T) {
	const (
		bad = componentstatus.StatusRecoverableError
		ok  = componentstatus.StatusOK
	)
	down := errors.New("redis: connection refused")
	var s Status
	s.Outage(down) // before Start: nowhere to report yet
	host := &statusHost{Host: componenttest.NewNopHost()}
	s.start(host)
	assert.Equal(t, []componentstatus.Status{bad}, host.got, "reported at Start")

	s.batch(nil)
	s.batch(down)
	assert.Equal(t, []componentstatus.Status{bad}, host.got, "still the same outage")
	s.batch(nil)
	s.Outage(nil)
	assert.Equal(t, []componentstatus.Status{bad, ok}, host.got)

	s.batch(nil)
	s.batch(errors.New("WRONGTYPE"))
	s.batch(errors.New("WRONGTYPE"))
	s.batch(nil)
	assert.Equal(t, []componentstatus.Status{bad, ok, bad, ok}, host.got)
}
