import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallRepository, createCallRepository } from '../../../src/records/call-repository.ts';
import { createRecordWriter, startRecordWorker } from '../../../src/records/record-writer.ts';
import { callEvent, callLifecycle } from '../../support/call-fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

let database: TestDatabase;
let calls: CallRepository;

beforeAll(async () => {
  database = await createTestDatabase();
  calls = createCallRepository(database.db);
});

afterAll(async () => {
  await database?.destroy();
});

describe('events appended to an ended call (a callback trace)', () => {
  it('stores the events and leaves the call row as its final version wrote it', async () => {
    const lifecycle = callLifecycle(2);
    const final = lifecycle[1]!;
    await calls.applyUpdates(lifecycle);
    const id = final.record.id;
    const appended = [
      callEvent(id, 5, { type: 'callback-created', state: 'ended' }),
      callEvent(id, 6, { type: 'callback-claimed', state: 'ended', detail: { takerId: 'taker1' } }),
    ];
    const result = await calls.applyUpdates([{ callId: id, version: 3, events: appended }]);
    expect(result).toEqual({ calls: 0, events: 2 });
    expect(await calls.getCall(id)).toEqual(final.record);
    const events = await calls.listCallEvents(id);
    expect(events.map((e) => e.type).slice(-2)).toEqual(['callback-created', 'callback-claimed']);
    // Retried: lands once.
    expect(await calls.applyUpdates([{ callId: id, version: 3, events: appended }])).toEqual({
      calls: 0,
      events: 0,
    });
  });

  it('travels through the record writer and worker like any update', async () => {
    const prefix = testRedisPrefix('append');
    const connection = { url: testRedisUrl() };
    const writer = createRecordWriter({ connection, prefix });
    const worker = startRecordWorker({
      connection,
      prefix,
      repository: calls,
      logger: { info: () => {}, warn: () => {}, error: () => {} },
    });
    try {
      const [update] = callLifecycle(1);
      const id = update!.record.id;
      await writer.write(update!);
      const at = new Date('2026-11-23T10:00:00.123Z');
      await writer.append({
        callId: id,
        version: 2,
        events: [callEvent(id, 3, { type: 'callback-outcome', at, detail: { outcome: 'busy', attempt: 1 } })],
      });
      await expect
        .poll(async () => (await calls.listCallEvents(id)).map((e) => e.type), { timeout: 10_000 })
        .toContain('callback-outcome');
      const stored = (await calls.listCallEvents(id)).find((e) => e.type === 'callback-outcome');
      expect(stored).toMatchObject({ seq: 3, at, detail: { outcome: 'busy', attempt: 1 } });
      expect(await calls.getCall(id)).toEqual(update!.record);
    } finally {
      await worker.close();
      await writer.close();
      await cleanupRedisPrefix(prefix);
    }
  });
});
