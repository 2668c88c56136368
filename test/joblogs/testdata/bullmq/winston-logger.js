// winston with two transports: a JSON file, and OpenTelemetry's winston
// transport exporting OTLP/HTTP through the logs SDK. BullMQ's own telemetry
// (bullmq-otel) runs each attempt in a "process <queue>" span and emits the
// worker's events inside it, so each record carries that span's trace and
// span id: the SDK reads the active span, and the file gets them as
// trace_id and span_id (as @opentelemetry/instrumentation-winston writes
// them).
'use strict';

const { context, trace } = require('@opentelemetry/api');
const { logs } = require('@opentelemetry/api-logs');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const { BasicTracerProvider } = require('@opentelemetry/sdk-trace-base');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-http');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OpenTelemetryTransportV3 } = require('@opentelemetry/winston-transport');
const { BullMQOtel } = require('bullmq-otel');
const winston = require('winston');

module.exports = (file) => {
  const resource = resourceFromAttributes({ 'service.name': 'payments-worker' });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ resource }));
  // The exporter reads OTEL_EXPORTER_OTLP_LOGS_ENDPOINT.
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter() })],
  });
  logs.setGlobalLoggerProvider(loggerProvider);

  const spanIds = winston.format((info) => {
    const span = trace.getActiveSpan();
    if (span) {
      const { traceId, spanId } = span.spanContext();
      Object.assign(info, { trace_id: traceId, span_id: spanId });
    }
    return info;
  });
  // Error objects have no enumerable fields: write them as pino does.
  const errors = (key, value) =>
    value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value;
  const log = winston.createLogger({
    level: 'info',
    transports: [
      new winston.transports.File({
        filename: file,
        format: winston.format.combine(
          spanIds(),
          winston.format.timestamp(),
          winston.format.json({ replacer: errors }),
        ),
      }),
      new OpenTelemetryTransportV3(),
    ],
  });

  const fields = (job) => ({
    queue: job.queueName,
    jid: job.id,
    job: job.name,
    attempt: job.attemptsMade,
    max_attempts: job.opts.attempts ?? 1,
    'bullmq.queue.name': job.queueName,
    'bullmq.job.id': job.id,
    'bullmq.job.name': job.name,
    'bullmq.job.attempts.made': job.attemptsMade,
  });
  return {
    logger: {
      completed: (job) => log.info('job completed', { event: 'job_completed', ...fields(job) }),
      failed: (job, err) =>
        log.error('job failed', {
          event: 'job_failed',
          ...fields(job),
          will_retry: job.attemptsMade < (job.opts.attempts ?? 1),
          error: err.name,
          error_message: err.message,
          err,
        }),
    },
    telemetry: new BullMQOtel('payments-worker'),
    shutdown: async () => {
      await new Promise((resolve) => {
        log.on('finish', resolve);
        log.end();
      });
      await loggerProvider.shutdown();
    },
  };
};
