"""Prints, as JSON, what Celery's and kombu's own APIs say of the broker.

Usage: api_view.py [inspect]

kombu: every queue bound in Redis (Channel.get_table of each exchange but
Celery's control and event ones), its size as kombu computes it
(Channel._size, checked against queue_declare(passive=True).message_count),
and each unacked message routed the way kombu restores it
(Channel._lookup), with its delivery time from unacked_index.

With "inspect", first waits until the worker holds the two retries for
their ETA, sends the slow tasks (scenario.slow), waits until two of them
run (the worker has nothing more to fetch then) and adds what the
workers report through app.control.inspect(): active, reserved and
scheduled tasks per routing key. inspect broadcasts and writes a reply
queue: it is asked before the reader's snapshot, never after.
"""
import json
import sys
import time

from kombu.utils.json import loads

import scenario
import tasks


def wait_for(want_running, want_held):
    deadline = time.time() + 120
    while True:
        i = tasks.app.control.inspect(timeout=1.0)
        active, reserved, scheduled = i.active() or {}, i.reserved() or {}, i.scheduled() or {}
        running = sum(len(v) for v in active.values())
        held = sum(len(v) for v in scheduled.values())
        if running == want_running and held == want_held:
            return active, reserved, scheduled
        if time.time() > deadline:
            sys.exit(f"worker did not settle: active={active} scheduled={scheduled}")
        time.sleep(0.5)


def inspect_view():
    wait_for(0, 2)
    scenario.slow()
    active, reserved, scheduled = wait_for(2, 2)
    running, held = 2, 2
    per_queue = {}
    for tasks_by_worker in (active, reserved, scheduled):
        for task_list in tasks_by_worker.values():
            for t in task_list:
                req = t.get("request", t)  # scheduled entries wrap the request
                rk = req["delivery_info"]["routing_key"]
                per_queue[rk] = per_queue.get(rk, 0) + 1
    return {"running": running, "scheduled": held, "per_queue": per_queue}


def kombu_view():
    with tasks.app.connection_for_write() as conn:
        ch = conn.default_channel
        client = ch.client
        # kombu 5.2 prefixes only the commands it sends itself (SMEMBERS,
        # LLEN, HSET, ZADD, ...): the others here name the prefixed keys.
        prefix = ch.global_keyprefix
        now = time.time()
        queues = set()
        for key in client.scan_iter(match=prefix + ch.keyprefix_queue % "*"):
            exchange = key.decode()[len(prefix + ch.keyprefix_queue % ""):]
            if exchange.endswith(".pidbox") or exchange == "celeryev":
                continue
            for _, _, queue in ch.get_table(exchange):
                queues.add(queue)
        sizes = {}
        for q in sorted(queues):
            size = ch._size(q)
            # A passive declare refuses a queue with no list, and with a
            # global_keyprefix any queue: kombu 5.2 sends EXISTS unprefixed.
            if size and not prefix:
                assert size == ch.queue_declare(q, passive=True).message_count
            sizes[q] = size
        delivered = dict(client.zrange(prefix + ch.unacked_index_key, 0, -1, withscores=True))
        unacked = []
        for tag, raw in client.hgetall(prefix + ch.unacked_key).items():
            _, exchange, routing_key = loads(raw)
            for q in ch._lookup(exchange, routing_key):
                unacked.append({"queue": q, "delivered_at": delivered[tag]})
        return {"now_ns": int(now * 1e9), "sizes": sizes, "unacked": unacked,
                "unacked_total": client.hlen(prefix + ch.unacked_key)}


def results_view():
    """Task states as the result backend reports them (get_task_meta)."""
    backend = tasks.app.backend
    states = {}
    for key in backend.client.scan_iter(match="celery-task-meta-*"):
        task_id = key.decode()[len("celery-task-meta-"):]
        state = backend.get_task_meta(task_id)["status"].lower()
        states[state] = states.get(state, 0) + 1
    return states


view = {}
if sys.argv[1:] == ["inspect"]:
    view["inspect"] = inspect_view()
view["kombu"] = kombu_view()
if tasks.app.conf.result_backend:
    view["results"] = results_view()
print(json.dumps(view))
