// pino, as its documentation shows it: JSON lines, the error under `err`
// (pino's standard serializer: type, message, stack), BullMQ's own names for
// the job's fields.
'use strict';

const pino = require('pino');

module.exports = (file) => {
  const dest = pino.destination({ dest: file, sync: true });
  const log = pino(dest);
  const fields = (job) => ({
    queueName: job.queueName,
    jobId: job.id,
    jobName: job.name,
    attemptsMade: job.attemptsMade,
  });
  return {
    logger: {
      completed: (job) => log.info(fields(job), 'job completed'),
      failed: (job, err) => log.error({ ...fields(job), err }, 'job failed'),
    },
    telemetry: undefined,
    shutdown: async () => dest.flushSync(),
  };
};
