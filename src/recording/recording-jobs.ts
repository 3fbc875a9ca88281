/**
 * Durable recording work in BullMQ (the library stays inside this module). Every instance runs the
 * worker, so every instance must see RECORDINGS_DIR (siaga112 runs on Asterisk's host). Each job
 * is idempotent: a segment's start, end or failure becomes its row (retried until the call's row
 * is in Postgres and the database answers), a finished file is checksummed and kept, a call is
 * settled once after it ended (a segment whose end was never heard is kept from its file), and
 * the retention purge runs daily, once for the whole cluster.
 */
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import type { SegmentRef } from './recording-name.ts';

export const RECORDINGS_QUEUE = 'recordings';
const PURGE_SCHEDULER = 'recording-retention';
const DAY_MS = 24 * 3600_000;

/** A segment as the jobs carry it (dates as ISO strings: JSON in Redis). */
export type SegmentJob = SegmentRef & { format: string; startedAt: string };

/** Every recording job, by name. */
export interface RecordingJobs {
  /** Asterisk accepted a segment's recording. */
  started: SegmentJob;
  /** Asterisk finished a segment's recording (its file is closed). `callState`: for the timeline. */
  finished: SegmentJob & { endedAt: string; callState: string };
  /** Asterisk refused or failed a segment. */
  failed: SegmentJob & { at: string; failure: string };
  /** A call ended some time ago: keep any segment whose end was not heard, from its file. */
  settle: { callId: string };
  /** Daily: recordings past their retention are removed, those on legal hold kept. */
  purge: Record<string, never>;
}
export type RecordingJobName = keyof RecordingJobs;

export type RecordingJobHandlers = { [K in RecordingJobName]: (data: RecordingJobs[K]) => Promise<void> };

/** Every job name, for the exhaustive dispatch below. */
const JOB_NAMES: Readonly<Record<RecordingJobName, true>> = {
  started: true,
  finished: true,
  failed: true,
  settle: true,
  purge: true,
};

/** Retries: 250 ms doubling up to 10 s, for days (Postgres away, the call row not there yet). */
const ATTEMPTS = 50_000;
const backoffMs = (attemptsMade: number) =>
  Math.min(10_000, 250 * 2 ** Math.min(Math.max(attemptsMade - 1, 0), 10));

export interface RecordingJobQueue {
  add<K extends Exclude<RecordingJobName, 'purge'>>(
    name: K,
    data: RecordingJobs[K],
    delayMs?: number,
  ): Promise<void>;
  /** Schedules the daily purge (once per cluster, whoever calls it), or removes it (`null`). */
  schedulePurge(everyMs: number | null): Promise<void>;
  close(): Promise<void>;
}

/** One job id per thing that happened, so a repeated enqueue adds nothing. */
function jobId<K extends RecordingJobName>(name: K, data: RecordingJobs[K]): string {
  if (name === 'settle') return `settle-${(data as RecordingJobs['settle']).callId}`;
  return `${name}-${(data as SegmentJob).name}`;
}

export function startRecordingJobs(options: {
  connection: ConnectionOptions;
  prefix: string;
  handlers: RecordingJobHandlers;
  logger: {
    error(fields: object, message: string): void;
    warn(fields: object, message: string): void;
    debug(fields: object, message: string): void;
  };
}): RecordingJobQueue {
  const { logger, handlers } = options;
  const queue = new Queue(RECORDINGS_QUEUE, { connection: options.connection, prefix: options.prefix });
  queue.on('error', (err) => logger.error({ err }, 'recording queue: redis error'));
  const common = {
    attempts: ATTEMPTS,
    backoff: { type: 'siaga112-recording-backoff' },
    removeOnComplete: true,
    removeOnFail: false,
  };
  const worker = new Worker(
    RECORDINGS_QUEUE,
    async (job: Job) => {
      const name = job.name as RecordingJobName;
      if (!Object.hasOwn(JOB_NAMES, name)) {
        logger.warn({ name: job.name }, 'unknown recording job');
        return;
      }
      await (handlers[name] as (data: unknown) => Promise<void>)(job.data);
    },
    {
      connection: options.connection,
      prefix: options.prefix,
      // Checksumming is I/O: a few at once, never a pile competing with the calls.
      concurrency: 4,
      settings: { backoffStrategy: backoffMs },
      maxStalledCount: 1_000_000,
    },
  );
  worker.on('error', (err) => logger.error({ err }, 'recording worker: redis error'));
  worker.on('failed', (job, err) => {
    const fields = { err, job: job?.name, jobId: job?.id };
    // Expected while a service starts or a call is young: the schema is still being migrated, or
    // the call's own row is still on its way through the record writer. The retry settles it.
    if (isNotYet(err)) logger.debug(fields, 'recording job early; retried');
    else logger.warn(fields, 'recording job failed; retried');
  });
  return {
    async add(name, data, delayMs = 0) {
      await queue.add(name, data, { ...common, jobId: jobId(name, data), delay: Math.max(0, delayMs) });
    },
    async schedulePurge(everyMs) {
      if (everyMs === null) {
        await queue.removeJobScheduler(PURGE_SCHEDULER);
        return;
      }
      await queue.upsertJobScheduler(
        PURGE_SCHEDULER,
        { every: everyMs },
        { name: 'purge', data: {}, opts: { attempts: 5, backoff: { type: 'siaga112-recording-backoff' } } },
      );
    },
    async close() {
      await worker.close();
      await queue.close();
    },
  };
}

export const PURGE_EVERY_MS = DAY_MS;

/** 42P01: a table not migrated yet; 23503: the call's row (a foreign key) not written yet. */
function isNotYet(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === '42P01' || code === '23503';
}
