// Times what BullMQ's own API takes to compute the figures the reader reports
// for queues q0..q<QUEUES-1>: Queue.getJobCounts() and getWaiting(0, 0) (the
// oldest waiting job, whose timestamp gives the latency) per queue, one
// queue after the other ("sequential") and all queues at once
// ("concurrent"); and every figure the reader reports ("all_figures": also
// isPaused(), getActive(0, 99) for running ages and getMetrics() for the
// totals), one queue after the other. Prints one JSON line: ns per pass over
// all queues and Redis commands per pass (INFO's total_commands_processed,
// which counts the commands BullMQ's Lua scripts run too).
// Env: REDIS_PORT, QUEUES, ITERATIONS.
'use strict';
const { Queue } = require('bullmq');
const IORedis = require('ioredis');

async function main() {
  const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT), maxRetriesPerRequest: null };
  const n = Number(process.env.QUEUES);
  const iterations = Number(process.env.ITERATIONS);
  const queues = [];
  for (let i = 0; i < n; i++) queues.push(new Queue('q' + i, { connection }));
  const admin = new IORedis(connection);
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))[1]);

  const one = async (q) => {
    const counts = await q.getJobCounts();
    const [oldest] = await q.getWaiting(0, 0);
    return [counts, oldest && oldest.timestamp];
  };
  const all = async (q) => [
    await one(q),
    await q.isPaused(),
    (await q.getActive(0, 99)).map((j) => j.processedOn),
    (await q.getMetrics('completed', 0, 0)).meta.count,
    (await q.getMetrics('failed', 0, 0)).meta.count,
  ];
  const sequential = async () => { for (const q of queues) await one(q); };
  const concurrent = () => Promise.all(queues.map(one));
  const allFigures = async () => { for (const q of queues) await all(q); };

  const result = {};
  for (const [name, pass] of [['sequential', sequential], ['concurrent', concurrent], ['all_figures', allFigures]]) {
    await pass(); // load the Lua scripts, open connections
    const before = await commands();
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await pass();
    const ns = Number(process.hrtime.bigint() - start) / iterations;
    result[name] = { ns_per_op: ns, commands_per_op: ((await commands()) - before - 1) / iterations };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  await Promise.all(queues.map((q) => q.close()));
  await admin.quit();
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
