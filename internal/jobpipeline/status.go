// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobpipeline // import "github.com/otelcol-jobs/otelcol-jobs/internal/jobpipeline"

import (
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
)

// Status reports the state store's health as the processor's component
// status, as contrib's exporters report their backends': a recoverable
// error when the store fails a batch or a shared store falls back to local
// memory (an outage), then OK once it answers again. Data flows through
// either way; the status tells the health check and the operator.
type Status struct {
	mu       sync.Mutex
	host     component.Host // nil until Start
	outage   error          // the shared store's, while it lasts
	failed   error          // the last batch's store error
	reported bool           // an error is the status now
}

// Outage is the store's outage report (statestore.WithOutageReport): err
// when it starts, nil when it ends.
func (s *Status) Outage(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = err
	s.update()
}

// batch records how a batch's store operations went.
func (s *Status) batch(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.failed == nil {
		return // the common case: nothing changes
	}
	s.failed = err
	s.update()
}

func (s *Status) start(host component.Host) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.host = host
	s.reported = false
	s.update()
}

// update reports a change of health. Called with mu held.
func (s *Status) update() {
	err := s.outage
	if err == nil {
		err = s.failed
	}
	if s.host == nil || (err != nil) == s.reported {
		return
	}
	s.reported = err != nil
	if err != nil {
		componentstatus.ReportStatus(s.host, componentstatus.NewRecoverableErrorEvent(err))
	} else {
		componentstatus.ReportStatus(s.host, componentstatus.NewEvent(componentstatus.StatusOK))
	}
}
