"""Job functions the tests enqueue; RQ workers import them from this directory."""
import time


def ok(x=None):
    return x


def boom():
    raise ValueError("boom")


def slow(seconds):
    time.sleep(seconds)
    return "done"
