// Prints, as JSON, what node-resque's own API reports at one instant
// (noderesque_test.go compares every figure of a snapshot with it). Only
// read methods are called: not cleanOldWorkers or forceCleanWorker, which
// write. Queue#connect itself writes one key, connection_test_key, which
// holds no figure. Pings have no Queue method: they are read as the
// scheduler's checkStuckWorkers reads them (SCAN worker:ping:*, GET each).
"use strict";
const { Queue } = require("node-resque");

async function main() {
  const queue = new Queue({
    connection: { host: "127.0.0.1", port: Number(process.env.REDIS_PORT), namespace: process.env.NAMESPACE || "resque" },
  });
  await queue.connect();
  const nowMs = Date.now();
  const view = { now_ms: nowMs, queues: {}, pings: {}, running_ms: {} };
  for (const q of await queue.queues()) view.queues[q] = await queue.length(q);
  view.failed_count = await queue.failedCount();
  view.stats = await queue.stats();
  view.workers = await queue.workers();
  view.working_on = await queue.allWorkingOn();
  // As cleanOldWorkers measures a job's age.
  for (const [name, payload] of Object.entries(view.working_on)) {
    if (typeof payload !== "string" && payload.run_at) view.running_ms[name] = nowMs - Date.parse(payload.run_at);
  }
  const conn = queue.connection;
  for (const key of await conn.getKeys(conn.key("worker", "ping", "*"))) {
    const ping = JSON.parse(await conn.redis.get(key));
    view.pings[ping.name] = ping.time;
  }
  await queue.end();
  process.stdout.write(JSON.stringify(view));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
