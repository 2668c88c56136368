// Copyright The otelcol-jobs Authors
// SPDX-License-Identifier: Apache-2.0

package goodjob // import "github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/goodjob"

import (
	"encoding/json"
	"path"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/otelcol-jobs/otelcol-jobs/receiver/jobqueuereceiver/internal/snapshot"
)

// scheduler is one entry of a process state's schedulers: a thread pool
// serving a queue string (GoodJob::Scheduler#stats).
type scheduler struct {
	Queues        string `json:"queues"`
	MaxThreads    int64  `json:"max_threads"`
	ActiveThreads int64  `json:"active_threads"`
}

// readProcesses reads good_job_processes: the active ones become
// Processes, the others count as stale.
func (sc *scrape) readProcesses(res pgx.BatchResults) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id                                           string
			updatedAt                                    time.Time
			active                                       bool
			hostname, pid, memory, proctitle, schedulers *string
			succeeded, errored                           *string
		)
		if err := rows.Scan(&id, &updatedAt, &active, &hostname, &pid, &memory, &proctitle, &schedulers,
			&succeeded, &errored); err != nil {
			return err
		}
		if n++; n > maxProcesses {
			sc.problems.Add(kindRegistryTruncated, "good_job_processes",
				"more than "+strconv.Itoa(maxProcesses)+" processes: the first ones by id are read")
			break
		}
		if !active {
			sc.stale++
			continue
		}
		key := "good_job_processes.id=" + id
		state := processState{problems: &sc.problems, key: key}
		p := snapshot.Process{
			ID:           id, // a uuid: bounded already
			Hostname:     sc.problems.Name(state.str(hostname, "hostname"), key, "hostname"),
			PID:          state.num(pid, "pid"),
			HeartbeatAge: snapshot.Age(sc.now, updatedAt),
		}
		if title := state.str(proctitle, "proctitle"); title != "" {
			p.Tag = sc.problems.Name(path.Base(title), key, "proctitle")
		}
		// memory is KiB (PSS, else VmRSS, on Linux); GoodJob writes 0
		// where it cannot measure.
		if kib := state.num(memory, "memory"); kib > 0 {
			p.MemoryBytes, p.MemoryKnown = kib*1024, true
		}
		for _, s := range state.schedulers(schedulers) {
			p.Busy += s.ActiveThreads
			p.Concurrency += s.MaxThreads
			if s.Queues != "" {
				p.Queues = append(p.Queues, sc.problems.Name(s.Queues, key, "scheduler queues"))
			}
		}
		ok, fail := state.num(succeeded, "total_succeeded_executions_count"), state.num(errored, "total_errored_executions_count")
		sc.totals.Processed += ok + fail
		sc.totals.Failed += fail
		sc.hasLive = true
		sc.procs = append(sc.procs, p)
	}
	return rows.Err()
}

// processState decodes the members of one process's state column, each
// read as JSON text; a member of the wrong type is a problem and counts as
// absent.
type processState struct {
	problems *snapshot.Problems
	key      string
}

func (ps processState) decode(raw *string, member string, v any) bool {
	if raw == nil || *raw == "null" {
		return false
	}
	if err := json.Unmarshal([]byte(*raw), v); err != nil {
		ps.problems.Add(kindInvalidJSON, ps.key, "state."+member+": "+err.Error())
		return false
	}
	return true
}

func (ps processState) str(raw *string, member string) string {
	var s string
	ps.decode(raw, member, &s)
	return s
}

func (ps processState) num(raw *string, member string) int64 {
	var f float64 // JSON numbers; Ruby writes integers
	if !ps.decode(raw, member, &f) {
		return 0
	}
	return int64(f)
}

func (ps processState) schedulers(raw *string) []scheduler {
	var s []scheduler
	ps.decode(raw, "schedulers", &s)
	return s
}
