// Writes BullMQ state with BullMQ itself, then prints, on one line after
// "STATE ", what BullMQ's own API reads of it, and keeps its workers running
// until stdin closes. The bullmq reader's tests compare their snapshot with
// that line. Env: REDIS_PORT, PREFIX.
'use strict';
const { Queue, Worker, FlowProducer } = require('bullmq');

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT), maxRetriesPerRequest: null };
const prefix = process.env.PREFIX || 'bull';
const opts = { connection, prefix };
const never = new Promise(() => {});

async function until(what, check) {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('gave up waiting for ' + what);
}

async function main() {
  const now = Date.now();
  const queues = {};
  const q = (name) => (queues[name] ??= new Queue(name, opts));
  const workers = [];

  // emails: FIFO jobs created 90, 60 and 30 s ago, prioritized and delayed
  // jobs; no worker.
  for (const age of [90, 60, 30]) {
    await q('emails').add('welcome', { age }, { timestamp: now - age * 1000 });
  }
  await q('emails').add('digest', {}, { priority: 1 });
  await q('emails').add('digest', {}, { priority: 5 });
  await q('emails').add('reminder', {}, { delay: 3600_000 });
  await q('emails').add('reminder', {}, { delay: 7200_000 });

  // reports: paused, two waiting jobs, a named worker that fetches nothing.
  await q('reports').pause();
  await q('reports').add('export', {}, { timestamp: now - 300_000 });
  await q('reports').add('export', {});
  workers.push(new Worker('reports', async () => {}, { ...opts, name: 'reporter' }));

  // slow: a worker whose two slots hang; one job left waiting.
  for (let i = 0; i < 3; i++) await q('slow').add('crunch', { i });
  workers.push(new Worker('slow', () => never, { ...opts, concurrency: 2 }));
  await until('two active slow jobs', async () => (await q('slow').getActiveCount()) === 2);

  // mixed: completed, failed for good, and failed once then delayed for a
  // retry, with metrics kept.
  const mixed = new Worker('mixed', async (job) => {
    if (job.name !== 'ok') throw new Error(job.name === 'bad' ? 'card declined' : 'gateway timeout');
  }, { ...opts, metrics: { maxDataPoints: 60 } });
  for (let i = 0; i < 3; i++) await q('mixed').add('ok', {});
  await q('mixed').add('bad', {});
  await q('mixed').add('bad', {});
  await q('mixed').add('flaky', {}, { attempts: 3, backoff: { type: 'fixed', delay: 3600_000 } });
  await until('mixed jobs to finish', async () => {
    const c = await q('mixed').getJobCounts();
    return c.completed === 3 && c.failed === 2 && c.delayed === 1;
  });
  await mixed.close();

  // flows: a parent waiting for its child (queued in flows-children).
  const flows = new FlowProducer(opts);
  await flows.add({ name: 'invoice', queueName: 'flows', children: [{ name: 'render', queueName: 'flows-children', data: {} }] });
  await flows.close();

  const state = {};
  for (const [name, queue] of Object.entries(queues).concat([['flows-children', q('flows-children')], ['flows', q('flows')]])) {
    const waiting = await queue.getWaiting();
    const active = await queue.getActive();
    const failed = await queue.getFailed();
    state[name] = {
      counts: await queue.getJobCounts(),
      paused: await queue.isPaused(),
      waitingTimestamps: waiting.map((j) => j.timestamp),
      activeProcessedOn: active.map((j) => j.processedOn),
      workers: (await queue.getWorkers()).map((w) => w.name),
      metrics: {
        completed: Number((await queue.getMetrics('completed')).meta.count),
        failed: Number((await queue.getMetrics('failed')).meta.count),
      },
      failed: failed.map((j) => ({ name: j.name, reason: j.failedReason })),
    };
  }
  process.stdout.write('STATE ' + JSON.stringify(state) + '\n');

  process.stdin.resume();
  await new Promise((r) => process.stdin.on('end', r));
  await Promise.all(workers.map((w) => w.close(true)));
  await Promise.all(Object.values(queues).map((x) => x.close()));
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
