// A small BullMQ workload traced by BullMQ's own telemetry (bullmq-otel):
//   queue "emails":    10 send-email jobs that succeed
//   queue "inventory": sync-inventory-42 always throws, attempts: 4 (a retry loop)
//   queue "billing":   charge-card-7 fails its first attempt, then succeeds (attempts: 3)
//   queue "reports":   parse-report-1 throws a TypeError, attempts: 1 (fails at once)
// Spans go to OTLP_ENDPOINT (protobuf over HTTP). Needs REDIS_PORT.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { Queue, Worker } = require('bullmq');
const { BullMQOtel } = require('bullmq-otel');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bullmq-otel-capture', 'service.version': '1.0.0' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_ENDPOINT }), { scheduledDelayMillis: 500 })],
});
provider.register();

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) };
// No arguments: the tracer (instrumentation scope) is named "bullmq", BullMQ's default.
const telemetry = new BullMQOtel();

class InventoryServiceError extends Error {
  constructor(message) { super(message); this.name = 'InventoryServiceError'; }
}

const processors = {
  emails: async job => ({ sent: job.data.to }),
  inventory: async () => { throw new InventoryServiceError('inventory upstream: GET /v2/sku/SKU-42: 503 Service Unavailable'); },
  billing: async job => {
    if (job.attemptsMade === 0) throw new Error('payment provider: connect ECONNREFUSED 10.1.2.3:443');
    return { charged: job.data.amount };
  },
  reports: async job => job.data.rows[3].width, // rows has 3 entries: TypeError
};

async function main() {
  const queues = {}, workers = [];
  for (const name of Object.keys(processors)) {
    queues[name] = new Queue(name, { connection, telemetry });
    workers.push(new Worker(name, processors[name], { connection, telemetry, concurrency: 2 }));
  }

  for (let i = 0; i < 10; i++) {
    await queues.emails.add('send-email', { to: `user${i}@example.com` }, { jobId: `email-${i}` });
  }
  await queues.inventory.add('sync-inventory', { sku: 'SKU-42' },
    { jobId: 'sync-inventory-42', attempts: 4, backoff: { type: 'fixed', delay: 100 } });
  await queues.billing.add('charge-card', { amount: 4200 },
    { jobId: 'charge-card-7', attempts: 3, backoff: { type: 'fixed', delay: 100 } });
  await queues.reports.add('parse-report', { rows: [{}, {}, {}] }, { jobId: 'parse-report-1', attempts: 1 });

  // Wait until every job reached a final state (bounded: 30 s).
  const want = { emails: 10, inventory: 1, billing: 1, reports: 1 };
  for (let tries = 0; tries < 300; tries++) {
    let done = 0, total = 0;
    for (const [name, n] of Object.entries(want)) {
      const c = await queues[name].getJobCounts('completed', 'failed');
      done += c.completed + c.failed;
      total += n;
    }
    if (done === total) break;
    await new Promise(r => setTimeout(r, 100));
  }
  const truth = {};
  for (const name of Object.keys(processors)) {
    for (const job of await queues[name].getJobs(['completed', 'failed'])) {
      truth[job.id] = { queue: name, name: job.name, state: await job.getState(),
        attemptsMade: job.attemptsMade, failedReason: job.failedReason || null };
    }
  }
  const sorted = Object.fromEntries(Object.keys(truth).sort().map(k => [k, truth[k]]));
  console.log(JSON.stringify(sorted, null, 1));
  await Promise.all(workers.map(w => w.close()));
  await Promise.all(Object.values(queues).map(q => q.close()));
  await provider.shutdown();
}

main().catch(err => { console.error(err); process.exit(1); });
