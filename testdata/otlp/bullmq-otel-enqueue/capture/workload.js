// A BullMQ workload in which jobs enqueue jobs, traced by BullMQ's own
// telemetry (bullmq-otel):
//   queue "imports": import-csv (jobId import-1) adds 3 import-row jobs to
//                    queue "rows" from inside its processor (a fan-out);
//   queue "rows":    import-row jobs succeed;
//   queue "webhooks": deliver-webhook (jobId webhook-1) adds a retry-webhook
//                    job to queue "retries", whose processor adds a
//                    deliver-webhook job back to "webhooks" (a cycle of two
//                    classes, stopped after 2 rounds by the job's data).
// Spans go to OTLP_ENDPOINT (protobuf over HTTP). Needs REDIS_PORT.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { Queue, Worker } = require('bullmq');
const { BullMQOtel } = require('bullmq-otel');

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'bullmq-otel-enqueue-capture', 'service.version': '1.0.0' }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: process.env.OTLP_ENDPOINT }), { scheduledDelayMillis: 500 })],
});
provider.register();

const connection = { host: '127.0.0.1', port: Number(process.env.REDIS_PORT) };
// No arguments: the tracer (instrumentation scope) is named "bullmq", BullMQ's default.
const telemetry = new BullMQOtel();
const queues = {};
for (const name of ['imports', 'rows', 'webhooks', 'retries']) {
  queues[name] = new Queue(name, { connection, telemetry });
}

const processors = {
  // Queue.add inside a processor: bullmq-otel's add span is a child of the
  // process span, and the added job carries the add span's context.
  imports: async job => {
    for (let i = 0; i < 3; i++) {
      await queues.rows.add('import-row', { file: job.data.file, row: i }, { jobId: `row-${i}` });
    }
    return { rows: 3 };
  },
  rows: async job => ({ imported: job.data.row }),
  webhooks: async job => {
    if (job.data.round < 2) {
      await queues.retries.add('retry-webhook', { round: job.data.round }, { jobId: `retry-${job.data.round}` });
    }
    return { delivered: false };
  },
  retries: async job => {
    await queues.webhooks.add('deliver-webhook', { round: job.data.round + 1 }, { jobId: `webhook-${job.data.round + 2}` });
    return { requeued: true };
  },
};

async function main() {
  const workers = [];
  for (const name of Object.keys(processors)) {
    workers.push(new Worker(name, processors[name], { connection, telemetry, concurrency: 2 }));
  }
  await queues.imports.add('import-csv', { file: 'customers.csv' }, { jobId: 'import-1' });
  await queues.webhooks.add('deliver-webhook', { round: 0 }, { jobId: 'webhook-1' });

  // imports 1 + rows 3, webhooks 3 (rounds 0, 1, 2) + retries 2; bounded: 30 s.
  const want = { imports: 1, rows: 3, webhooks: 3, retries: 2 };
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
      truth[`${name}/${job.id}`] = { queue: name, name: job.name, state: await job.getState(), data: job.data };
    }
  }
  const sorted = Object.fromEntries(Object.keys(truth).sort().map(k => [k, truth[k]]));
  console.log(JSON.stringify(sorted, null, 1));
  await Promise.all(workers.map(w => w.close()));
  await Promise.all(Object.values(queues).map(q => q.close()));
  await provider.shutdown();
}

main().catch(err => { console.error(err); process.exit(1); });
