// Computes, with node-resque's own API, the figures a snapshot holds, n
// times (n = argv[2]), and prints the time and Redis cost per run as JSON
// for bench_test.go. Queue sizes: #queues and #length; failed: #failedCount;
// totals: #stats; workers and their jobs: #workers and #allWorkingOn;
// heartbeats: worker:ping:<name> as the scheduler reads it (SCAN, GET), or
// for Ruby workers Worker#heartbeat's HGET workers:heartbeat <id>.
// node-resque awaits each command before sending the next (no pipeline), so
// every command is a round trip.
"use strict";
const { Queue } = require("node-resque");

async function figures(queue) {
  const conn = queue.connection;
  const sizes = {};
  for (const q of await queue.queues()) sizes[q] = await queue.length(q);
  const failed = await queue.failedCount();
  const stats = await queue.stats();
  const workers = await queue.workers();
  const workingOn = await queue.allWorkingOn();
  const pings = {};
  for (const key of await conn.getKeys(conn.key("worker", "ping", "*"))) {
    const ping = JSON.parse(await conn.redis.get(key));
    pings[ping.name] = ping.time;
  }
  const beats = {};
  for (const [name, queues] of Object.entries(workers)) {
    if (pings[name] === undefined) beats[name] = await conn.redis.hget(conn.key("workers:heartbeat"), `${name}:${queues}`);
  }
  return { sizes, failed, stats, workingOn, pings, beats };
}

async function main() {
  const n = Number(process.argv[2]);
  const queue = new Queue({ connection: { host: "127.0.0.1", port: Number(process.env.REDIS_PORT) } });
  await queue.connect();
  await figures(queue); // warm up
  let commands = 0;
  const redis = queue.connection.redis;
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (cmd, ...rest) => {
    commands++;
    return send(cmd, ...rest);
  };
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await figures(queue);
  const ns = Number(process.hrtime.bigint() - start);
  await queue.end();
  process.stdout.write(JSON.stringify({ ns_per_op: ns / n, round_trips_per_op: commands / n, commands_per_op: commands / n }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
