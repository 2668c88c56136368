// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package jobqueuereceiver // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver"

import (
	"context"
	"errors"
	"strconv"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/metadata"
	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/queuealert"
)

// maxLoggedProblems bounds the memory of bad data already logged: past it the
// least recently seen entry is forgotten (and would be logged again if it
// came back).
const maxLoggedProblems = 4096

// problemKey identifies one piece of bad data for log deduplication.
type problemKey struct{ kind, key string }

// jobQueueScraper turns one snapshot per scrape into metrics and, in a logs
// pipeline, alert records. The controller calls scrape from a single
// goroutine, so its state needs no lock.
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
	// dbNamespace is "<database>|<schema>" for a Postgres-backed system,
	// "" for a Redis-backed one.
	dbNamespace string

	// The cumulative sums start at the first snapshot and restart when the
	// job system's processed total goes down (its counters were reset).
	started        bool
	lastProcessed  int64
	loggedProblems *simplelru.LRU[problemKey, struct{}]
	problemsByKind map[string]int64

	// noMetrics skips the conversion when no metrics pipeline wants it.
	noMetrics bool
	// Alerts, when in a logs pipeline (alerts is nil otherwise).
	alerts        *queuealert.Evaluator
	logs          consumer.Logs
	lb            *metadata.LogsBuilder
	obsLogs       *receiverhelper.ObsReport
	droppedLogged bool
}

// newScraper returns a scraper of cfg's job system; with a logs consumer it
// also evaluates the alert rules and sends their records there.
func newScraper(cfg *Config, set receiver.Settings, newSnapshotter func(context.Context) (*Snapshotter, error), logs consumer.Logs) (*jobQueueScraper, error) {
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
	s.serverAddress, s.serverPort = cfg.Server()
	// Alert ids tell apart job systems with the same queue names.
	target, db, namespace := cfg.Target(), strconv.Itoa(cfg.DB), cfg.Namespace
	if cfg.IsPostgres() {
		conn := cfg.PostgresConnection()
		target, db, namespace = conn.Endpoint, conn.Database, conn.Schema
		s.dbNamespace = conn.Database + "|" + conn.Schema
	}
	if logs != nil {
		if s.obsLogs, err = receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, ReceiverCreateSettings: set}); err != nil {
			return nil, err
		}
		s.alerts = queuealert.New(&cfg.Alerts, cfg.StalledAfter, target, db, namespace)
		s.logs, s.lb = logs, metadata.NewLogsBuilder(set)
	}
	return s, nil
}

// start builds the client. Redis need not be up: go-redis connects lazily,
// so an absent server only fails scrapes until it appears.
func (s *jobQueueScraper) start(ctx context.Context, _ component.Host) error {
	s.cfg.WarnCleartextPassword(ctx, s.logger)
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
	s.emitAlerts(ctx, snap)
	if s.noMetrics {
		return pmetric.NewMetrics(), nil
	}
	return s.metrics(snap), nil
}

// emitAlerts evaluates the alert rules on a successful snapshot and sends
// the records, if any, to the logs pipeline. A failed scrape never gets
// here, so it neither fires nor resolves anything.
func (s *jobQueueScraper) emitAlerts(ctx context.Context, snap *Snapshot) {
	if s.alerts == nil {
		return
	}
	alerts := s.alerts.Evaluate(snap)
	if n := s.alerts.Dropped(); n > 0 && !s.droppedLogged {
		s.droppedLogged = true
		s.logger.Warn("Too many queues or processes to track for alerts; the excess is not evaluated (logged once)",
			zap.Int("dropped_observations", n))
	}
	if len(alerts) == 0 {
		return
	}
	for i := range alerts {
		lr := plog.NewLogRecord()
		alerts[i].FillLogRecord(lr)
		s.lb.AppendLogRecord(lr)
	}
	logs := s.lb.Emit(metadata.WithLogsResource(s.resource(snap)))
	ctx = s.obsLogs.StartLogsOp(ctx)
	err := s.logs.ConsumeLogs(ctx, logs)
	s.obsLogs.EndLogsOp(ctx, "", len(alerts), err)
	if err != nil {
		// The metrics of this scrape are still good: the error is not the
		// scrape's. The records are not sent again.
		s.logger.Error("The logs pipeline refused alert records", zap.Int("records", len(alerts)), zap.Error(err))
	}
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
		if !q.LatencyUnknown {
			mb.RecordJobqueueQueueLatencyDataPoint(ts, q.Latency.Seconds(), q.Name)
		}
		if q.PausedKnown {
			mb.RecordJobqueueQueuePausedDataPoint(ts, boolToInt(q.Paused), q.Name)
		}
		mb.RecordJobqueueJobRunningMaxAgeDataPoint(ts, q.RunningMaxAge.Seconds(), q.Name)
		mb.RecordJobqueueJobsStalledDataPoint(ts, q.Stalled, q.Name)
	}
	for _, j := range snap.Jobs {
		if j.Queue == "" {
			mb.RecordJobqueueJobsDataPoint(ts, j.Count, j.State)
			if j.Estimated {
				mb.RecordJobqueueJobsEstimatedDataPoint(ts, 1, j.State)
			}
			continue
		}
		queue := metadata.WithOptionalQueueMetricAttribute(j.Queue)
		mb.RecordJobqueueJobsDataPoint(ts, j.Count, j.State, queue)
		if j.Estimated {
			mb.RecordJobqueueJobsEstimatedDataPoint(ts, 1, j.State, queue)
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

	if !snap.ProcessesUnknown {
		mb.RecordJobqueueProcessesDataPoint(ts, int64(len(snap.Processes)))
		mb.RecordJobqueueProcessesStaleDataPoint(ts, int64(snap.ProcessesStale))
		mb.RecordJobqueueWorkersBusyDataPoint(ts, snap.WorkersBusy())
		mb.RecordJobqueueWorkersCapacityDataPoint(ts, snap.WorkersCapacity())
	}
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

	return mb.Emit(metadata.WithResource(s.resource(snap)))
}

// resource describes the job system, for metrics and alert records alike.
func (s *jobQueueScraper) resource(snap *Snapshot) pcommon.Resource {
	rb := s.mb.NewResourceBuilder()
	rb.SetMessagingSystem(snap.System)
	rb.SetServerAddress(s.serverAddress)
	if s.serverPort != 0 {
		rb.SetServerPort(s.serverPort)
	}
	if s.cfg.Namespace != "" {
		rb.SetJobqueueNamespace(s.cfg.Namespace)
	}
	if s.dbNamespace != "" {
		rb.SetDbNamespace(s.dbNamespace)
	}
	return rb.Emit()
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
