// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
)

// maxLoggedProblems bounds the memory of bad data already logged: past it the
// least recently seen entry is forgotten (and would be logged again if it
// came back).
const maxLoggedProblems = 4096

// problemKey identifies one piece of bad data for log deduplication.
type problemKey struct{ kind, key string }

// jobQueueScraper turns one snapshot per scrape into metrics. The controller
// calls scrape from a single goroutine, so its state needs no lock.
type jobQueueScraper struct {
	cfg            *Config
	logger         *zap.Logger
	newSnapshotter func(context.Context) (*Snapshotter, error)
	snapshotter    *Snapshotter

	mb        *metadata.MetricsBuilder
	telemetry *metadata.TelemetryBuilder
	// resource attributes fixed by the configuration
	serverAddress string
	serverPort    int64

	// The cumulative sums start at the first snapshot and restart when the
	// job system's processed total goes down (its counters were reset).
	started        bool
	lastProcessed  int64
	loggedProblems *simplelru.LRU[problemKey, struct{}]
	problemsByKind map[string]int64
}

func newScraper(cfg *Config, set receiver.Settings, newSnapshotter func(context.Context) (*Snapshotter, error)) (*jobQueueScraper, error) {
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	logged, err := simplelru.NewLRU[problemKey, struct{}](maxLoggedProblems, nil)
	if err != nil {
		return nil, err
	}
	s := &jobQueueScraper{
		cfg:            cfg,
		logger:         set.Logger,
		newSnapshotter: newSnapshotter,
		mb:             metadata.NewMetricsBuilder(cfg.MetricsBuilderConfig, set),
		telemetry:      telemetry,
		loggedProblems: logged,
		problemsByKind: make(map[string]int64),
	}
	// The endpoint was validated as host:port.
	if host, port, err := net.SplitHostPort(cfg.Endpoint); err == nil {
		s.serverAddress = host
		s.serverPort, _ = strconv.ParseInt(port, 10, 64)
	}
	return s, nil
}

// start builds the client. Redis need not be up: go-redis connects lazily,
// so an absent server only fails scrapes until it appears.
func (s *jobQueueScraper) start(ctx context.Context, _ component.Host) error {
	snapshotter, err := s.newSnapshotter(ctx)
	if err != nil {
		return err
	}
	s.snapshotter = snapshotter
	return nil
}

func (s *jobQueueScraper) shutdown(context.Context) error {
	s.telemetry.Shutdown()
	if s.snapshotter == nil {
		return nil
	}
	return s.snapshotter.Close()
}

func (s *jobQueueScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	if s.snapshotter == nil {
		return pmetric.NewMetrics(), errors.New("job_queue scraper used before start")
	}
	snap, err := s.snapshotter.Snapshot(ctx)
	if err != nil {
		return pmetric.NewMetrics(), err
	}
	s.reportProblems(ctx, snap.Problems)
	return s.metrics(snap), nil
}

// reportProblems counts skipped bad data by kind and logs each (kind, key)
// once while it stays in the bounded memory.
func (s *jobQueueScraper) reportProblems(ctx context.Context, problems []Problem) {
	if len(problems) == 0 {
		return
	}
	clear(s.problemsByKind)
	for i := range problems {
		p := &problems[i]
		s.problemsByKind[p.Kind]++
		k := problemKey{kind: p.Kind, key: p.Key}
		if s.loggedProblems.Contains(k) {
			continue
		}
		s.loggedProblems.Add(k, struct{}{})
		s.logger.Warn("Skipped bad data in the job system's Redis (logged once per kind and key)",
			zap.String("kind", p.Kind), zap.String("key", p.Key), zap.String("detail", p.Detail))
	}
	for kind, n := range s.problemsByKind {
		s.telemetry.ReceiverJobQueueBadDataSkipped.Add(ctx, n, metric.WithAttributes(attribute.String("kind", kind)))
	}
}

// metrics converts one snapshot into the receiver's metrics. It is kept
// apart from the Redis read so that the same snapshot can feed other signals.
func (s *jobQueueScraper) metrics(snap *Snapshot) pmetric.Metrics {
	s.trackStartTime(snap)
	mb := s.mb
	ts := pcommon.NewTimestampFromTime(snap.Time)

	for i := range snap.Queues {
		q := &snap.Queues[i]
		mb.RecordJobqueueQueueSizeDataPoint(ts, q.Size, q.Name)
		mb.RecordJobqueueQueueLatencyDataPoint(ts, q.Latency.Seconds(), q.Name)
		if q.PausedKnown {
			mb.RecordJobqueueQueuePausedDataPoint(ts, boolToInt(q.Paused), q.Name)
		}
		mb.RecordJobqueueJobRunningMaxAgeDataPoint(ts, q.RunningMaxAge.Seconds(), q.Name)
		mb.RecordJobqueueJobsStalledDataPoint(ts, q.Stalled, q.Name)
	}
	for _, j := range snap.Jobs {
		if j.Queue == "" {
			mb.RecordJobqueueJobsDataPoint(ts, j.Count, j.State)
		} else {
			mb.RecordJobqueueJobsDataPoint(ts, j.Count, j.State, metadata.WithOptionalQueueMetricAttribute(j.Queue))
		}
	}
	for _, t := range snap.Totals {
		if t.Queue == "" {
			mb.RecordJobqueueJobsProcessedDataPoint(ts, t.Processed)
			mb.RecordJobqueueJobsFailedDataPoint(ts, t.Failed)
		} else {
			queue := metadata.WithOptionalQueueMetricAttribute(t.Queue)
			mb.RecordJobqueueJobsProcessedDataPoint(ts, t.Processed, queue)
			mb.RecordJobqueueJobsFailedDataPoint(ts, t.Failed, queue)
		}
	}

	mb.RecordJobqueueProcessesDataPoint(ts, int64(len(snap.Processes)))
	mb.RecordJobqueueWorkersBusyDataPoint(ts, snap.WorkersBusy())
	mb.RecordJobqueueWorkersCapacityDataPoint(ts, snap.WorkersCapacity())
	for i := range snap.Processes {
		p := &snap.Processes[i]
		mb.RecordJobqueueProcessBusyDataPoint(ts, p.Busy, p.ID, p.Hostname, p.PID)
		mb.RecordJobqueueProcessCapacityDataPoint(ts, p.Concurrency, p.ID, p.Hostname, p.PID)
		if p.MemoryKnown {
			mb.RecordJobqueueProcessMemoryUsageDataPoint(ts, p.MemoryBytes, p.ID, p.Hostname, p.PID)
		}
		mb.RecordJobqueueProcessHeartbeatAgeDataPoint(ts, p.HeartbeatAge.Seconds(), p.ID, p.Hostname, p.PID)
		mb.RecordJobqueueProcessQuietDataPoint(ts, boolToInt(p.Quiet), p.ID, p.Hostname, p.PID)
	}
	for _, c := range snap.ByClass {
		mb.RecordJobqueueJobsByClassDataPoint(ts, c.Count, c.State, c.Class, c.ErrorType)
	}

	rb := mb.NewResourceBuilder()
	rb.SetMessagingSystem(snap.System)
	rb.SetServerAddress(s.serverAddress)
	rb.SetServerPort(s.serverPort)
	if s.cfg.Namespace != "" {
		rb.SetJobqueueNamespace(s.cfg.Namespace)
	}
	return mb.Emit(metadata.WithResource(rb.Emit()))
}

// trackStartTime sets the start of the cumulative sums on the first snapshot
// and again whenever the processed total goes down, which means the job
// system's counters were reset (Redis flushed or replaced).
func (s *jobQueueScraper) trackStartTime(snap *Snapshot) {
	var processed int64
	for _, t := range snap.Totals {
		processed += t.Processed
	}
	if !s.started || processed < s.lastProcessed {
		s.started = true
		s.mb.Reset(metadata.WithStartTime(pcommon.NewTimestampFromTime(snap.Time)))
	}
	s.lastProcessed = processed
}

func boolToInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
