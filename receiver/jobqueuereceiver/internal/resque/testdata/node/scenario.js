// Produces real Resque state with node-resque for noderesque_test.go.
//
//   node scenario.js doomed   one worker that takes a never-ending job on
//                             queue "doomed" (the test then kills it: its
//                             registration, ping and job stay behind)
//   node scenario.js workers  enqueues jobs and runs four workers: two on
//                             "critical" and one on "mail" take never-ending
//                             jobs, one on "default" runs jobs that succeed
//                             or throw; "low" has no worker
//
// Both run until killed. REDIS_PORT and NAMESPACE say where.
"use strict";
const os = require("os");
const { Queue, Worker } = require("node-resque");

const connection = {
  host: "127.0.0.1",
  port: Number(process.env.REDIS_PORT),
  namespace: process.env.NAMESPACE || "resque",
};
const jobs = {
  ok: { perform: async () => "ok" },
  boom: {
    perform: async (n) => {
      throw new TypeError("boom " + n);
    },
  },
  forever: { perform: () => new Promise(() => {}) },
};

// timeout is both the poll and the ping interval.
async function startWorker(name, queues) {
  const worker = new Worker({ connection, name, queues, timeout: 200 }, jobs);
  worker.on("error", (err) => console.error("worker", name, err));
  await worker.connect();
  await worker.start();
}

async function main(mode) {
  const queue = new Queue({ connection }, jobs);
  await queue.connect();
  const host = os.hostname();
  if (mode === "doomed") {
    await queue.enqueue("doomed", "forever", ["lost"]);
    await startWorker(`${host}:${process.pid}`, ["doomed"]);
    return;
  }
  for (let i = 0; i < 5; i++) await queue.enqueue("critical", "forever", [i]);
  await queue.enqueue("mail", "forever", ["newsletter"]);
  for (let i = 0; i < 5; i++) await queue.enqueue("default", "ok", [i]);
  for (let i = 0; i < 3; i++) await queue.enqueue("default", "boom", [i]);
  for (let i = 0; i < 4; i++) await queue.enqueue("low", "ok", [i]);
  // Named as node-resque's MultiWorker names its workers.
  await startWorker(`${host}:${process.pid}+1`, ["critical"]);
  await startWorker(`${host}:${process.pid}+2`, ["critical"]);
  await startWorker(`${host}:${process.pid}+3`, ["mail"]);
  await startWorker(`${host}:${process.pid}+4`, ["default"]);
}

main(process.argv[2]).catch((err) => {
  console.error(err);
  process.exit(1);
});
