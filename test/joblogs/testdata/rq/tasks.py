"""RQ jobs the joblogs test runs on a real worker (Debian python3-rq).

flaky fails every time and is retried by RQ's own Retry until its retries are
spent; burst fails at once; ok succeeds. enqueue.py sends them.
"""


def flaky():
    raise ValueError("boom")


def burst(n):
    raise ConnectionError(f"payment provider unreachable (request {n})")


def ok(n):
    return None
