import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallRecordUpdate } from '../../../src/records/call-record.ts';
import { type CallRepository, createCallRepository } from '../../../src/records/call-repository.ts';
import {
  createRecordWriter,
  type RecordCommit,
  type RecordLogger,
  type RecordWorker,
  type RecordWriter,
  startRecordWorker,
} from '../../../src/records/record-writer.ts';
import { callLifecycle, callRecord } from '../../support/call-fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

const quiet: RecordLogger = { info: () => {}, warn: () => {}, error: () => {} };

/** Records every applyUpdates call and how it ended, then delegates to the real repository. */
function observed(repository: CallRepository) {
  const attempts: { size: number; ok: boolean }[] = [];
  return {
    attempts,
    repository: {
      async applyUpdates(updates: readonly CallRecordUpdate[]) {
        try {
          const result = await repository.applyUpdates(updates);
          attempts.push({ size: updates.length, ok: true });
          return result;
        } catch (error) {
          attempts.push({ size: updates.length, ok: false });
          throw error;
        }
      },
    },
  };
}

let database: TestDatabase;
let prefix: string;
let writer: RecordWriter | undefined;
let worker: RecordWorker | undefined;

beforeEach(async () => {
  database = await createTestDatabase();
  prefix = testRedisPrefix('record-writer');
});

afterEach(async () => {
  await worker?.close();
  await writer?.close();
  worker = undefined;
  writer = undefined;
  await cleanupRedisPrefix(prefix);
  await database.destroy();
});

const connection = () => ({ url: testRedisUrl() });

describe('record writer', () => {
  it('carries updates through Redis into Postgres, dates intact, and reports their lag', async () => {
    const calls = createCallRepository(database.db);
    const commits: RecordCommit[] = [];
    writer = createRecordWriter({ connection: connection(), prefix });
    const lifecycles = Array.from({ length: 5 }, () => callLifecycle(3));
    for (const update of lifecycles.flat()) await writer.write(update);

    worker = startRecordWorker({
      connection: connection(),
      prefix,
      repository: calls,
      logger: quiet,
      onCommit: (commit) => commits.push(commit),
    });

    await vi.waitFor(async () => expect(commits.reduce((n, c) => n + c.size, 0)).toBe(15), {
      timeout: 15_000,
    });
    for (const updates of lifecycles) {
      const last = updates.at(-1)!;
      expect(await calls.getCall(last.record.id)).toEqual(last.record);
      expect(await calls.listCallEvents(last.record.id)).toEqual(updates.flatMap((u) => u.events));
    }
    const lags = commits.flatMap((c) => c.lagsMs);
    expect(lags).toHaveLength(15);
    for (const lag of lags) expect(lag).toBeGreaterThanOrEqual(0);
    expect(await writer.backlog()).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });

  it('collapses a duplicate write of an update that is still waiting', async () => {
    writer = createRecordWriter({ connection: connection(), prefix });
    const [update] = callLifecycle(1);
    await writer.write(update!);
    await writer.write(update!);
    await writer.write(structuredClone(update!));
    expect(await writer.backlog()).toMatchObject({ waiting: 1 });
  });

  it('commits updates that arrive together in one transaction', async () => {
    const { attempts, repository } = observed(createCallRepository(database.db));
    writer = createRecordWriter({ connection: connection(), prefix });
    const updates = Array.from({ length: 40 }, () => callLifecycle(2)).flat();
    await Promise.all(updates.map((u) => writer!.write(u)));

    worker = startRecordWorker({
      connection: connection(),
      prefix,
      repository,
      logger: quiet,
      maxBatchWaitMs: 50,
    });
    await vi.waitFor(() => expect(attempts.reduce((n, a) => n + a.size, 0)).toBe(80), { timeout: 15_000 });

    expect(attempts.every((a) => a.ok)).toBe(true);
    expect(attempts.length).toBeLessThan(80);
    expect(Math.max(...attempts.map((a) => a.size))).toBeGreaterThan(1);
    expect(await createCallRepository(database.db).countCalls()).toBe(40);
  });

  it('lets the rest of a batch land when the database refuses one update, and keeps retrying that one', async () => {
    const calls = createCallRepository(database.db);
    const { attempts, repository } = observed(calls);
    writer = createRecordWriter({ connection: connection(), prefix });
    const good = Array.from({ length: 6 }, () => callLifecycle(1)[0]!);
    const bad = { record: callRecord({ takerId: 'nobody-by-this-id' }), events: [] };
    for (const update of [...good.slice(0, 3), bad, ...good.slice(3)]) await writer.write(update);

    worker = startRecordWorker({
      connection: connection(),
      prefix,
      repository,
      logger: quiet,
      maxBatchWaitMs: 50,
      retry: { initialDelayMs: 20, maxDelayMs: 50 },
    });

    await vi.waitFor(async () => expect(await calls.countCalls()).toBe(6), { timeout: 15_000 });
    // The refused update is retried, not dropped: it fails again and again and stays queued.
    await vi.waitFor(
      () => expect(attempts.filter((a) => !a.ok && a.size === 1).length).toBeGreaterThanOrEqual(3),
      {
        timeout: 15_000,
      },
    );
    expect(await calls.getCall(bad.record.id)).toBeUndefined();
    const backlog = await writer.backlog();
    expect(backlog.failed).toBe(0);
    expect(backlog.waiting + backlog.active + backlog.delayed).toBe(1);
  });
});
