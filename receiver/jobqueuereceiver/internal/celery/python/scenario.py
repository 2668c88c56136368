"""Sends the messages of one phase of the reader's test (argument: phase).

queued: reports gets messages of every priority (and none), plus one with a
  countdown; nobody consumes reports, so they all stay in its lists.
work: the worker's queues get tasks that succeed, fail and retry (held
  unacked for their ETA).
slow: then tasks that run for 10 minutes (acks_late: unacked while they
  run; the rest wait prefetched, unacked too, or queued). api_view.py sends
  them once the retries are held, so that they cannot take every slot first.
"""
import sys

import tasks


def queued():
    for i, priority in enumerate([None, 0, 1, 3, 4, 5, 6, 8, 9, 9, 255]):
        tasks.report.apply_async((i,), priority=priority)
    tasks.report.apply_async((99,), countdown=3600)


def work():
    for _ in range(3):
        tasks.ok.delay()
    for _ in range(2):
        tasks.fail.delay()
    for _ in range(2):
        tasks.flaky.delay()


def slow():
    for _ in range(4):
        tasks.slow.apply_async((600,), priority=6)
    for _ in range(3):
        tasks.mail.delay(600)


if __name__ == "__main__":
    {"queued": queued, "work": work, "slow": slow}[sys.argv[1]]()
