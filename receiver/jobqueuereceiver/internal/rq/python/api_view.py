"""Prints, as JSON, what RQ's own API reports for every figure the reader
computes. Queue.count, the registries' .count and Worker.all() WRITE (they
clean registries and SREM dead workers): run this after the reader's read.

Usage: REDIS_URL=redis://host:port/0 python3 api_view.py
"""
import calendar
import json
import os

from redis import Redis
from rq import Queue, Worker
from rq.job import Job


def micros(dt):
    """A naive UTC datetime (as RQ parses them) in epoch microseconds."""
    if dt is None:
        return None
    return calendar.timegm(dt.utctimetuple()) * 1_000_000 + dt.microsecond


def main():
    r = Redis.from_url(os.environ["REDIS_URL"])
    # Read before Worker.all(), which removes the entries whose hash is gone.
    registered = r.scard("rq:workers")
    view = {"registered_workers": registered, "queues": [], "workers": []}
    for q in sorted(Queue.all(connection=r), key=lambda q: q.name):
        head = q.get_job_ids(0, 1)
        head_enqueued = None
        if head:
            head_enqueued = micros(Job.fetch(head[0], connection=r).enqueued_at)
        view["queues"].append({
            "name": q.name,
            "queued": q.count,
            "head_enqueued_at_us": head_enqueued,
            # started first: its clean-up may move jobs to failed.
            "started": q.started_job_registry.count,
            "deferred": q.deferred_job_registry.count,
            "scheduled": q.scheduled_job_registry.count,
            "finished": q.finished_job_registry.count,
            "failed": q.failed_job_registry.count,
            "canceled": q.canceled_job_registry.count,
        })
    for w in Worker.all(connection=r):
        job = w.get_current_job()
        view["workers"].append({
            "name": w.name,
            "hostname": w.hostname,
            "pid": w.pid,
            "state": w.get_state(),
            "queues": w.queue_names(),
            "current_job": w.get_current_job_id(),
            "job_origin": job.origin if job else None,
            "job_started_at_us": micros(job.started_at) if job else None,
            "last_heartbeat_us": micros(w.last_heartbeat),
            "birth_us": micros(w.birth_date),
            "successful": w.successful_job_count,
            "failed": w.failed_job_count,
            "shutdown_requested": w.shutdown_requested_date is not None,
        })
    print(json.dumps(view))


if __name__ == "__main__":
    main()
