"""Times kombu's own API computing the reader's figures (argument: iterations).

Per iteration, as the reader does: find the binding sets (SCAN), read each
(Channel.get_table), size every queue (Channel._size: LLEN of each priority
list), and route every unacked message to its queues (Channel._lookup) with
its delivery time, counting per queue the unacked, the oldest delivery and
those older than 5 minutes. Prints ns/op, round trips/op and commands/op as
JSON; the round trips and commands are counted on redis-py's connection.
"""
import json
import sys
import time

import redis.connection
from kombu.utils.json import loads

import tasks

counts = {"round_trips": 0, "commands": 0}
_send, _pack = redis.connection.Connection.send_packed_command, redis.connection.Connection.pack_command


def send_packed_command(self, *args, **kwargs):
    counts["round_trips"] += 1
    return _send(self, *args, **kwargs)


def pack_command(self, *args):
    counts["commands"] += 1
    return _pack(self, *args)


redis.connection.Connection.send_packed_command = send_packed_command
redis.connection.Connection.pack_command = pack_command


def figures(ch, client, stalled_after=300):
    now = time.time()
    prefix = ch.keyprefix_queue % ""
    queues = set()
    for key in client.scan_iter(match=prefix + "*", count=10000):
        exchange = key.decode()[len(prefix):]
        if exchange.endswith(".pidbox") or exchange == "celeryev":
            continue
        for _, _, queue in ch.get_table(exchange):
            queues.add(queue)
    out = {q: {"size": ch._size(q), "unacked": 0, "max_age": 0.0, "stalled": 0} for q in queues}
    delivered = dict(client.zrange(ch.unacked_index_key, 0, -1, withscores=True))
    for tag, raw in client.hgetall(ch.unacked_key).items():
        _, exchange, routing_key = loads(raw)
        age = max(now - delivered.get(tag, now), 0)
        for q in ch._lookup(exchange, routing_key):
            if q in out:
                f = out[q]
                f["unacked"] += 1
                f["max_age"] = max(f["max_age"], age)
                f["stalled"] += age > stalled_after
    return out


def main():
    n = int(sys.argv[1])
    with tasks.app.connection_for_write() as conn:
        ch = conn.default_channel
        client = ch.client
        figures(ch, client)  # warm the connection
        counts.update(round_trips=0, commands=0)
        start = time.perf_counter_ns()
        for _ in range(n):
            figures(ch, client)
        elapsed = time.perf_counter_ns() - start
    print(json.dumps({"ns_per_op": elapsed / n, "round_trips_per_op": counts["round_trips"] / n,
                      "commands_per_op": counts["commands"] / n}))


main()
