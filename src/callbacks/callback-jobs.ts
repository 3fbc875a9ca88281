/**
 * Durable callback work in BullMQ (the library stays inside this module): creating the callback
 * of an ended call (retried until its call row is in Postgres), and making a scheduled callback
 * pending again when its next attempt is due (a delayed job). Every instance runs the worker;
 * both jobs are idempotent.
 */
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';

export const CALLBACKS_QUEUE = 'callbacks';

/** Every callback job, by name. */
export interface CallbackJobs {
  /** A call ended that is owed a callback. */
  create: { callId: string; callerNumber: string; trunk: string | null };
  /** A scheduled callback's wait is over: pending again after `attempts` attempts. */
  due: { callbackId: string; attempts: number };
}
export type CallbackJobName = keyof CallbackJobs;

export type CallbackJobHandlers = { [K in CallbackJobName]: (data: CallbackJobs[K]) => Promise<void> };

/** Retries: 250 ms doubling up to 10 s, for days (Postgres away, the call row not there yet). */
const ATTEMPTS = 50_000;
const backoffMs = (attemptsMade: number) =>
  Math.min(10_000, 250 * 2 ** Math.min(Math.max(attemptsMade - 1, 0), 10));

export interface CallbackJobQueue {
  create(data: CallbackJobs['create']): Promise<void>;
  scheduleDue(data: CallbackJobs['due'], delayMs: number): Promise<void>;
  close(): Promise<void>;
}

export function startCallbackJobs(options: {
  connection: ConnectionOptions;
  prefix: string;
  handlers: CallbackJobHandlers;
  logger: { error(fields: object, message: string): void; warn(fields: object, message: string): void };
}): CallbackJobQueue {
  const { logger } = options;
  const queue = new Queue(CALLBACKS_QUEUE, { connection: options.connection, prefix: options.prefix });
  queue.on('error', (err) => logger.error({ err }, 'callback queue: redis error'));
  const common = {
    attempts: ATTEMPTS,
    backoff: { type: 'siaga112-callback-backoff' },
    removeOnComplete: true,
    removeOnFail: false,
  };
  const worker = new Worker(
    CALLBACKS_QUEUE,
    async (job: Job) => {
      switch (job.name as CallbackJobName) {
        case 'create':
          return options.handlers.create(job.data as CallbackJobs['create']);
        case 'due':
          return options.handlers.due(job.data as CallbackJobs['due']);
        default:
          logger.warn({ name: job.name }, 'unknown callback job');
      }
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      concurrency: 8,
      settings: { backoffStrategy: backoffMs },
      maxStalledCount: 1_000_000,
    },
  );
  worker.on('error', (err) => logger.error({ err }, 'callback worker: redis error'));
  worker.on('failed', (job, err) =>
    logger.warn({ err, job: job?.name, jobId: job?.id }, 'callback job failed; retried'),
  );
  return {
    async create(data) {
      // One callback per call: a job id per call makes a second enqueue a no-op.
      await queue.add('create', data, { ...common, jobId: `create-${data.callId}` });
    },
    async scheduleDue(data, delayMs) {
      await queue.add('due', data, {
        ...common,
        jobId: `due-${data.callbackId}-${data.attempts}`,
        delay: Math.max(0, delayMs),
      });
    },
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}
