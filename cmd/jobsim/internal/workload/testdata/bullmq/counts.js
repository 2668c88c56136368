// Prints, as one JSON line, what BullMQ's own API reads of each queue named
// in QUEUES (comma-separated): getJobCounts(), isPaused() and the totals of
// getMetrics(). Env: REDIS_PORT.
'use strict';
const { Queue } = require('bullmq');

async function main() {
  const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT), maxRetriesPerRequest: null };
  const out = {};
  for (const name of process.env.QUEUES.split(',')) {
    const q = new Queue(name, { connection });
    out[name] = {
      counts: await q.getJobCounts(),
      paused: await q.isPaused(),
      completed: Number((await q.getMetrics('completed')).meta.count || 0),
      failed: Number((await q.getMetrics('failed')).meta.count || 0),
    };
    await q.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
