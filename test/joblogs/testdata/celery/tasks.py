"""Celery tasks the joblogs test runs on a real worker (Debian python3-celery).

flaky fails every time and retries itself with Celery's own mechanism
(self.retry) until its max_retries are spent; burst fails at once; ok
succeeds. enqueue.py sends them.
"""
import os

from celery import Celery

app = Celery("tasks", broker=os.environ["CELERY_BROKER_URL"])
app.conf.broker_connection_retry_on_startup = True


@app.task(bind=True, max_retries=4)
def flaky(self):
    try:
        raise ValueError("boom")
    except ValueError as exc:
        # countdown=0: the retry runs at once, not after Celery's default 3 minutes.
        raise self.retry(exc=exc, countdown=0)


@app.task
def burst(n):
    raise ConnectionError(f"payment provider unreachable (request {n})")


@app.task
def ok(n):
    return None
