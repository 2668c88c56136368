"""Celery tasks the reader's tests run on a real worker (Debian python3-celery).

The broker is CELERY_BROKER_URL; KOMBU_OPTIONS (JSON) are kombu's Redis
transport options (priority_steps, sep, global_keyprefix); results go to
CELERY_RESULT_BACKEND when set (tasks record STARTED when they start). Queues: celery
(the default), mail (routed) and reports (nobody consumes it in the tests).
"""
import json
import os
import time

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ.get("CELERY_RESULT_BACKEND") or None)
app.conf.task_track_started = True
app.conf.broker_connection_retry_on_startup = True
app.conf.broker_transport_options = json.loads(os.environ.get("KOMBU_OPTIONS") or "{}")
app.conf.task_routes = {"tasks.mail": {"queue": "mail"}, "tasks.report": {"queue": "reports"}}
# Each worker process holds two messages beyond the one it runs.
app.conf.worker_prefetch_multiplier = 2


@app.task(acks_late=True)
def slow(seconds):
    """Acked when it ends: unacked while it runs."""
    time.sleep(seconds)


@app.task(acks_late=True)
def mail(seconds):
    time.sleep(seconds)


@app.task(bind=True, max_retries=3)
def flaky(self):
    """Fails and retries in 10 minutes: a worker holds the retry unacked
    until its ETA."""
    raise self.retry(exc=ValueError("boom"), countdown=600)


@app.task
def fail():
    raise ConnectionError("down")


@app.task
def ok():
    return 1


@app.task
def report(n):
    return n
