// A BullMQ worker as an application writes it: jobs on one queue, one log
// record per attempt from the worker's completed/failed events, through pino
// (JSON lines) or winston (a JSON file and the OpenTelemetry transport).
//
//   npm ci --ignore-scripts
//   REDIS_PORT=6379 LOGGER=pino LOG_FILE=/tmp/pino.log node worker.js
//   REDIS_PORT=6379 LOGGER=winston LOG_FILE=/tmp/winston.log \
//     OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=http://127.0.0.1:4318/v1/logs node worker.js
//
// It enqueues a job that always fails (6 attempts, no backoff), a burst of
// 12 one-attempt jobs of one name that fail, and 5 jobs that succeed, and
// exits once every job is finished.
'use strict';

const { Queue, Worker } = require('bullmq');

const QUEUE = 'payments';
const RETRY_LOOP = { name: 'charge-card', attempts: 6 };
const BURST = { name: 'sync-inventory', count: 12 };
const SUCCESSES = { name: 'send-receipt', count: 5 };

class CardDeclinedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CardDeclinedError';
  }
}

async function processor(job) {
  switch (job.name) {
    case RETRY_LOOP.name:
      throw new CardDeclinedError(`card ${job.data.card} declined: insufficient funds`);
    case BURST.name:
      throw new Error(`inventory service: connect ECONNREFUSED 10.0.0.7:8443`);
    default:
      return { sent: true };
  }
}

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) };
const logFile = process.env.LOG_FILE;
const { logger, telemetry, shutdown } =
  process.env.LOGGER === 'winston' ? require('./winston-logger')(logFile) : require('./pino-logger')(logFile);

async function main() {
  const queue = new Queue(QUEUE, { connection });
  const worker = new Worker(QUEUE, processor, { connection, concurrency: 1, telemetry });

  const total = 1 + BURST.count + SUCCESSES.count;
  let finished = 0;
  const allFinished = new Promise((resolve) => {
    const finish = () => {
      finished += 1;
      if (finished === total) resolve();
    };
    worker.on('completed', (job) => {
      logger.completed(job);
      finish();
    });
    worker.on('failed', (job, err) => {
      logger.failed(job, err);
      if (job.attemptsMade >= job.opts.attempts) finish();
    });
  });

  await queue.add(RETRY_LOOP.name, { card: '4242' }, { attempts: RETRY_LOOP.attempts, backoff: { type: 'fixed', delay: 0 } });
  await queue.addBulk(Array.from({ length: BURST.count }, (_, i) => ({ name: BURST.name, data: { sku: i } })));
  await queue.addBulk(Array.from({ length: SUCCESSES.count }, (_, i) => ({ name: SUCCESSES.name, data: { order: i } })));

  await allFinished;
  await worker.close();
  await queue.close();
  await shutdown();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
