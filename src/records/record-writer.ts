/**
 * The durable write-behind path for call records: the call flow's `write()` puts each update
 * on a BullMQ queue in Redis, and a worker commits them to Postgres in batches. While Postgres
 * is away, jobs fail and are retried with a capped backoff, without end: records are delayed,
 * never dropped. BullMQ stays inside this module.
 */
import { type ConnectionOptions, type Job, Queue, Worker } from 'bullmq';
import type {
  CallEvent,
  CallEventsAppend,
  CallRecord,
  CallRecordSink,
  CallRecordUpdate,
} from './call-record.ts';
import type { CallRepository } from './call-repository.ts';

export const RECORDS_QUEUE = 'records';
const RECORD_JOB = 'call-record-update';
const BACKOFF_TYPE = 'siaga112-capped-exponential';

/** How long a job held by a dead worker stays locked, and how often workers look for such jobs. */
const STALLED_JOB_MS = 5_000;

/** Retries without a practical end: at a 5 s cap, 2^31 attempts is centuries of outage. */
const ATTEMPTS = 2 ** 31 - 1;

export const RECORD_WORKER_DEFAULTS = {
  /** Most updates committed in one transaction. */
  maxBatchSize: 200,
  /** How long the first update of a batch waits for company. */
  maxBatchWaitMs: 5,
  retry: { initialDelayMs: 250, maxDelayMs: 5_000 },
} as const;

/** A BullMQ Redis connection: ioredis options (`{ url }`, `{ host, port }`) or a client instance. */
export type RecordQueueConnection = ConnectionOptions;

/** The slice of a pino logger this module uses. */
export interface RecordLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface RecordQueueOptions {
  connection: RecordQueueConnection;
  /** BullMQ key prefix: keys live under `${prefix}:records:`. */
  prefix: string;
  logger?: RecordLogger;
}

// ---------------------------------------------------------------------------------------------
// The job payload: JSON in Redis, so dates travel as ISO strings.

type Serialized<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

export type RecordJobData =
  | { record: Serialized<CallRecord>; events: Serialized<CallEvent>[] }
  // Events only (a callback's trace on an ended call): the record row is not touched.
  | { append: { callId: string; version: number }; events: Serialized<CallEvent>[] };

const iso = (date: Date | null) => (date === null ? null : date.toISOString());
const revive = (value: string | null) => (value === null ? null : new Date(value));

export function serializeUpdate({ record, events }: CallRecordUpdate): RecordJobData {
  return {
    record: {
      ...record,
      arrivedAt: record.arrivedAt.toISOString(),
      answeredAt: iso(record.answeredAt),
      queuedAt: iso(record.queuedAt),
      offeredAt: iso(record.offeredAt),
      connectedAt: iso(record.connectedAt),
      endedAt: iso(record.endedAt),
    },
    events: events.map((event) => ({ ...event, at: event.at.toISOString() })),
  };
}

export function reviveUpdate(data: RecordJobData): CallRecordUpdate | CallEventsAppend {
  if ('append' in data) {
    return { ...data.append, events: data.events.map((event) => ({ ...event, at: new Date(event.at) })) };
  }
  const { record, events } = data;
  return {
    record: {
      ...record,
      arrivedAt: new Date(record.arrivedAt),
      answeredAt: revive(record.answeredAt),
      queuedAt: revive(record.queuedAt),
      offeredAt: revive(record.offeredAt),
      connectedAt: revive(record.connectedAt),
      endedAt: revive(record.endedAt),
    },
    events: events.map((event) => ({ ...event, at: new Date(event.at) })),
  };
}

/**
 * One job per (call, version), so writing the same update twice while it waits adds nothing.
 * BullMQ refuses `:` in custom job ids, hence `-v`.
 */
export function recordJobId(record: Pick<CallRecord, 'id' | 'version'>): string {
  return `${record.id}-v${record.version}`;
}

/** 250 ms, 500 ms, 1 s, … doubling up to the cap, then the cap for as long as it takes. */
export function retryDelayMs(
  attemptsMade: number,
  retry: { initialDelayMs: number; maxDelayMs: number } = RECORD_WORKER_DEFAULTS.retry,
): number {
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 30);
  return Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** exponent);
}

// ---------------------------------------------------------------------------------------------
// The writer (producer side).

/** Updates not yet in Postgres, by BullMQ state; `delayed` are waiting to be retried. */
export interface RecordBacklog {
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
  /** Given up on: stays 0 while retries never run out; such jobs are kept, never deleted. */
  readonly failed: number;
}

export interface RecordWriter extends CallRecordSink {
  /** Resolves once the update is in Redis; the commit to Postgres happens later. */
  write(update: CallRecordUpdate): Promise<void>;
  /** Queues events for a call without touching its record (resolves once in Redis). */
  append(update: CallEventsAppend): Promise<void>;
  backlog(): Promise<RecordBacklog>;
  close(): Promise<void>;
}

export function createRecordWriter(options: RecordQueueOptions): RecordWriter {
  const queue = new Queue<RecordJobData>(RECORDS_QUEUE, {
    connection: options.connection,
    prefix: options.prefix,
  });
  // An 'error' without a listener would be thrown; Redis trouble surfaces through write() too.
  queue.on('error', (err) => options.logger?.error({ err }, 'record queue: redis error'));
  return {
    async write(update) {
      await queue.add(RECORD_JOB, serializeUpdate(update), {
        jobId: recordJobId(update.record),
        attempts: ATTEMPTS,
        backoff: { type: BACKOFF_TYPE },
        removeOnComplete: true,
        // Never delete a record that could not be written; it waits for a person to look.
        removeOnFail: false,
      });
    },
    async append({ callId, version, events }) {
      const data: RecordJobData = {
        append: { callId, version },
        events: events.map((event) => ({ ...event, at: event.at.toISOString() })),
      };
      await queue.add(RECORD_JOB, data, {
        jobId: `${callId}-e${version}`,
        attempts: ATTEMPTS,
        backoff: { type: BACKOFF_TYPE },
        removeOnComplete: true,
        removeOnFail: false,
      });
    },
    async backlog() {
      const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      return {
        waiting: counts.waiting ?? 0,
        active: counts.active ?? 0,
        delayed: counts.delayed ?? 0,
        failed: counts.failed ?? 0,
      };
    },
    close: () => queue.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// The worker (consumer side).

/** One committed batch, for metrics: how long each update waited from `write()` to commit. */
export interface RecordCommit {
  readonly size: number;
  /** Per update, milliseconds from its job's creation to its commit. */
  readonly lagsMs: readonly number[];
}

export interface RecordWorkerOptions extends RecordQueueOptions {
  repository: Pick<CallRepository, 'applyUpdates'>;
  logger: RecordLogger;
  maxBatchSize?: number;
  maxBatchWaitMs?: number;
  retry?: { initialDelayMs: number; maxDelayMs: number };
  /** Told after every commit; must not throw (what it throws is logged and ignored). */
  onCommit?: (commit: RecordCommit) => void;
}

export interface RecordWorker {
  /** Lets the batch in flight finish (or fail, to be retried later), then disconnects. */
  close(): Promise<void>;
}

interface Pending {
  readonly job: Job<RecordJobData>;
  readonly update: CallRecordUpdate | CallEventsAppend;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation) mean one
 * update is wrong, not that the database is away: such a batch is split so the others land.
 * Checked structurally, so this module needs no pg types.
 */
export function isRecordSpecificError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code);
}

export function startRecordWorker(options: RecordWorkerOptions): RecordWorker {
  const { repository, logger } = options;
  const maxBatchSize = options.maxBatchSize ?? RECORD_WORKER_DEFAULTS.maxBatchSize;
  const maxBatchWaitMs = options.maxBatchWaitMs ?? RECORD_WORKER_DEFAULTS.maxBatchWaitMs;
  const retry = options.retry ?? RECORD_WORKER_DEFAULTS.retry;

  let pending: Pending[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing = false;

  const report = (committed: readonly Pending[]) => {
    if (committed.length === 0 || !options.onCommit) return;
    const now = Date.now();
    try {
      options.onCommit({
        size: committed.length,
        lagsMs: committed.map((p) => Math.max(0, now - p.job.timestamp)),
      });
    } catch (err) {
      logger.error({ err }, 'record worker: onCommit observer threw');
    }
  };

  const commit = async (batch: Pending[]) => {
    try {
      await repository.applyUpdates(batch.map((p) => p.update));
      for (const p of batch) p.resolve();
      report(batch);
      return;
    } catch (err) {
      if (!isRecordSpecificError(err) || batch.length === 1) {
        logger.warn({ err, size: batch.length }, 'record batch not committed; BullMQ retries it');
        for (const p of batch) p.reject(err);
        return;
      }
      logger.warn({ err, size: batch.length }, 'record batch refused; committing its updates one by one');
    }
    // One bad update must not hold back the rest: each gets its own transaction and fate.
    const committed: Pending[] = [];
    for (const p of batch) {
      try {
        await repository.applyUpdates([p.update]);
        p.resolve();
        committed.push(p);
      } catch (err) {
        logger.error({ err, jobId: p.job.id }, 'record update refused by the database; BullMQ retries it');
        p.reject(err);
      }
    }
    report(committed);
  };

  // One batch in flight at a time: updates arriving meanwhile form the next batch (group commit).
  const flush = async () => {
    clearTimeout(timer);
    timer = undefined;
    if (flushing || pending.length === 0) return;
    flushing = true;
    const batch = pending.slice(0, maxBatchSize);
    pending = pending.slice(batch.length);
    try {
      await commit(batch);
    } finally {
      flushing = false;
      // What queued up during the commit has waited long enough already.
      if (pending.length > 0) void flush();
    }
  };

  const enqueue = (job: Job<RecordJobData>) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ job, update: reviveUpdate(job.data), resolve, reject });
      if (flushing) return;
      if (pending.length >= maxBatchSize) void flush();
      else timer ??= setTimeout(() => void flush(), maxBatchWaitMs);
    });

  const worker = new Worker<RecordJobData>(RECORDS_QUEUE, enqueue, {
    connection: options.connection,
    prefix: options.prefix,
    // Each job's processor waits for its batch, so concurrency is the batch size.
    concurrency: maxBatchSize,
    settings: { backoffStrategy: (attemptsMade) => retryDelayMs(attemptsMade, retry) },
    // A stalled job (worker died mid-batch) goes back to waiting instead of failing for good.
    maxStalledCount: 1_000_000,
    // A job held by a worker that died is found within seconds, not BullMQ's default minute (a
    // 30 s lock, then a 30 s check). A live worker renews its locks every 2.5 s; one that misses
    // that only lets a batch run twice, which lands once (writes are idempotent).
    lockDuration: STALLED_JOB_MS,
    stalledInterval: STALLED_JOB_MS,
  });
  worker.on('error', (err) => logger.error({ err }, 'record worker: redis error'));

  return {
    async close() {
      await worker.close();
      clearTimeout(timer);
    },
  };
}
