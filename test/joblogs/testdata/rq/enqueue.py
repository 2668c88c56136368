"""Enqueues one flaky job (retried 4 times, no wait between runs), BURST burst
jobs and OK ok jobs on the default queue with RQ's client.

usage: REDIS_URL=redis://host:port/0 python3 enqueue.py BURST OK
"""
import os
import sys

from redis import Redis
from rq import Queue, Retry

import tasks

burst, ok = int(sys.argv[1]), int(sys.argv[2])
queue = Queue(connection=Redis.from_url(os.environ["REDIS_URL"]))
queue.enqueue(tasks.flaky, retry=Retry(max=4))
for n in range(burst):
    queue.enqueue(tasks.burst, n)
for n in range(ok):
    queue.enqueue(tasks.ok, n)
