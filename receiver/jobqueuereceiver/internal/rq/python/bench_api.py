"""Times RQ's own API computing the figures of one snapshot: every queue's
count, head job enqueued_at and six registry counts, every worker's state,
heartbeat, counts and current job (origin, started_at). Prints ns per
snapshot, and the Redis round trips and commands per snapshot, as JSON.

The registries' .count and Worker.all() clean as they read: the first
iteration removes what has expired, the others find it gone.

Usage: REDIS_URL=redis://host:port/0 python3 bench_api.py <iterations>
"""
import json
import os
import sys
import time

from redis import Redis
from redis.connection import Connection
from rq import Queue, Worker

round_trips = commands = 0
_send, _pack = Connection.send_packed_command, Connection.pack_command


def send_packed_command(self, *args, **kwargs):
    global round_trips
    round_trips += 1
    return _send(self, *args, **kwargs)


def pack_command(self, *args):
    global commands
    commands += 1
    return _pack(self, *args)


Connection.send_packed_command, Connection.pack_command = send_packed_command, pack_command


def snapshot(r):
    figures = []
    for q in Queue.all(connection=r):
        head = q.get_job_ids(0, 1)
        enqueued_at = q.fetch_job(head[0]).enqueued_at if head else None
        figures.append((
            q.name, q.count, enqueued_at,
            q.started_job_registry.count, q.deferred_job_registry.count, q.scheduled_job_registry.count,
            q.finished_job_registry.count, q.failed_job_registry.count, q.canceled_job_registry.count,
        ))
    for w in Worker.all(connection=r):
        job = w.get_current_job()
        figures.append((
            w.name, w.hostname, w.pid, w.get_state(), w.last_heartbeat, w.successful_job_count,
            w.failed_job_count, w.queue_names(), job.origin if job else None, job.started_at if job else None,
        ))
    return figures


def main():
    n = int(sys.argv[1])
    r = Redis.from_url(os.environ["REDIS_URL"])
    snapshot(r)  # warm the connection
    global round_trips, commands
    round_trips = commands = 0
    start = time.perf_counter_ns()
    for _ in range(n):
        snapshot(r)
    elapsed = time.perf_counter_ns() - start
    print(json.dumps({"ns_per_op": elapsed / n, "round_trips_per_op": round_trips / n, "commands_per_op": commands / n}))


if __name__ == "__main__":
    main()
