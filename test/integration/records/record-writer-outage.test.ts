import { type Kysely, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { CallRecordUpdate } from '../../../src/records/call-record.ts';
import { createCallRepository } from '../../../src/records/call-repository.ts';
import { createDatabase, type Database } from '../../../src/records/database.ts';
import {
  createRecordWriter,
  type RecordCommit,
  type RecordWorker,
  type RecordWriter,
  startRecordWorker,
} from '../../../src/records/record-writer.ts';
import { callLifecycle } from '../../support/call-fixtures.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

const CALLS = 20;
const VERSIONS = 4;

let database: TestDatabase;
let proxy: TcpProxy;
let proxiedDb: Kysely<Database>;
let writer: RecordWriter;
let worker: RecordWorker;
const prefix = testRedisPrefix('record-outage');
const failedAttempts = new Map<string, number>();
const commits: RecordCommit[] = [];
const warnings: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  const { hostname, port } = new URL(database.url);
  proxy = await startTcpProxy({ host: hostname, port: Number(port) });
  // The worker reaches Postgres only through the proxy; the test reads it directly.
  proxiedDb = createDatabase(proxy.url(database.url), {
    maxConnections: 4,
    connectionTimeoutMs: 1_000,
    statementTimeoutMs: 2_000,
    queryTimeoutMs: 3_000,
  });
  const repository = createCallRepository(proxiedDb);
  writer = createRecordWriter({ connection: { url: testRedisUrl() }, prefix });
  worker = startRecordWorker({
    connection: { url: testRedisUrl() },
    prefix,
    logger: { info: () => {}, warn: (_fields, message) => warnings.push(message), error: () => {} },
    // A short cap keeps the test quick; the production schedule is pinned by a unit test.
    retry: { initialDelayMs: 50, maxDelayMs: 400 },
    onCommit: (commit) => commits.push(commit),
    repository: {
      async applyUpdates(updates) {
        try {
          return await repository.applyUpdates(updates);
        } catch (error) {
          for (const update of updates) {
            const id = 'record' in update ? update.record.id : update.callId;
            failedAttempts.set(id, (failedAttempts.get(id) ?? 0) + 1);
          }
          throw error;
        }
      },
    },
  });
});

afterAll(async () => {
  await worker?.close();
  await writer?.close();
  await proxiedDb?.destroy();
  await proxy?.close();
  await cleanupRedisPrefix(prefix);
  await database?.destroy();
});

/** The calls' updates interleaved as a busy call center would write them. */
function interleaved(lifecycles: CallRecordUpdate[][]): CallRecordUpdate[] {
  const out: CallRecordUpdate[] = [];
  for (let v = 0; v < VERSIONS; v++) for (const updates of lifecycles) out.push(updates[v]!);
  return out;
}

describe('record writer during a Postgres outage', () => {
  it('commits nothing while Postgres is away, then every row and event exactly once', async () => {
    const calls = createCallRepository(database.db);
    // Prove the path works before taking it away, so the later silence means something.
    const warmup = callLifecycle(1)[0]!;
    await writer.write(warmup);
    await vi.waitFor(async () => expect(await calls.getCall(warmup.record.id)).toBeDefined(), {
      timeout: 10_000,
    });

    proxy.cut();
    const lifecycles = Array.from({ length: CALLS }, () => callLifecycle(VERSIONS));
    const updates = interleaved(lifecycles);
    for (const update of updates) await writer.write(update);
    // The call flow retrying its own writes during the outage adds nothing.
    for (const update of updates.slice(0, 10)) await writer.write(update);

    // Every update has been tried and refused at least twice (so retries are really running).
    await vi.waitFor(
      () => {
        for (const updates of lifecycles)
          expect(failedAttempts.get(updates[0]!.record.id) ?? 0).toBeGreaterThanOrEqual(2);
      },
      { timeout: 20_000 },
    );
    const during = await writer.backlog();
    expect(during.failed).toBe(0);
    expect(during.waiting + during.active + during.delayed).toBe(CALLS * VERSIONS);
    expect(await calls.countCalls()).toBe(1);
    const { rows: eventsDuring } = await sql<{ n: string }>`select count(*) as n from call_events`.execute(
      database.db,
    );
    expect(Number(eventsDuring[0]!.n)).toBe(2);
    expect(warnings).toContain('record batch not committed; BullMQ retries it');

    proxy.restore();

    await vi.waitFor(
      async () => {
        const backlog = await writer.backlog();
        expect(backlog).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
      },
      { timeout: 20_000, interval: 100 },
    );

    expect(await calls.countCalls()).toBe(CALLS + 1);
    for (const updates of lifecycles) {
      const final = updates.at(-1)!;
      expect(await calls.getCall(final.record.id)).toEqual(final.record);
      const events = await calls.listCallEvents(final.record.id);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(events).toEqual(updates.flatMap((u) => u.events));
    }
    const { rows: eventsAfter } = await sql<{ call_id: string; n: string }>`
      select call_id, count(*) as n from call_events group by call_id
    `.execute(database.db);
    expect(eventsAfter).toHaveLength(CALLS + 1);
    expect(
      eventsAfter.filter((r) => r.call_id !== warmup.record.id).every((r) => Number(r.n) === 2 * VERSIONS),
    ).toBe(true);
    // Each update was committed once: the warm-up, then the 80 distinct (call, version) jobs.
    expect(commits.reduce((n, c) => n + c.size, 0)).toBe(1 + CALLS * VERSIONS);
  });
});
