"""Produces RQ state with RQ's own client API, one phase per call.

Usage: REDIS_URL=redis://host:port/0 python3 scenario.py <phase>
"""
import os
import sys
from datetime import timedelta

from redis import Redis
from rq import Queue, Retry

import rqjobs


def seed(r):
    default, high = Queue("default", connection=r), Queue("high", connection=r)
    held, later = Queue("held", connection=r), Queue("later", connection=r)
    for i in range(5):
        default.enqueue(rqjobs.ok, i)
    # Finished, with an entry that expires after 1 s (RQ's .count drops it).
    default.enqueue(rqjobs.ok, "short-lived", result_ttl=1)
    high.enqueue(rqjobs.boom)
    # Retried at once twice, then failed: three failed executions.
    high.enqueue(rqjobs.boom, retry=Retry(max=2))
    # Retried in an hour: waits in the scheduled registry.
    high.enqueue(rqjobs.boom, retry=Retry(max=1, interval=3600))
    # failure_ttl=-1: the failed registry scores it -1, never cleaned.
    high.enqueue(rqjobs.boom, failure_ttl=-1)
    # Nobody works "held": its jobs wait, the dependent stays deferred.
    parent = held.enqueue(rqjobs.ok, "parent")
    default.enqueue(rqjobs.ok, "child", depends_on=parent)
    held.enqueue(rqjobs.ok, "canceled").cancel()
    held.enqueue(rqjobs.ok, "waiting")
    later.enqueue_in(timedelta(hours=1), rqjobs.ok, "later")


def slow(r):
    Queue("slow", connection=r).enqueue(rqjobs.slow, 600, job_timeout=900)
    idle = Queue("idle", connection=r)
    idle.enqueue(rqjobs.ok, "one")
    idle.enqueue(rqjobs.boom)


if __name__ == "__main__":
    conn = Redis.from_url(os.environ["REDIS_URL"])
    {"seed": seed, "slow": slow}[sys.argv[1]](conn)
