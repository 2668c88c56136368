"""Sends one flaky task, BURST burst tasks and OK ok tasks with Celery's client.

usage: CELERY_BROKER_URL=redis://host:port/0 python3 enqueue.py BURST OK
"""
import sys

import tasks

burst, ok = int(sys.argv[1]), int(sys.argv[2])
tasks.flaky.delay()
for n in range(burst):
    tasks.burst.delay(n)
for n in range(ok):
    tasks.ok.delay(n)
