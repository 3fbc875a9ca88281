import type { KyselyPlugin } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallRepository, createCallRepository } from '../../../src/records/call-repository.ts';
import { createTakerRepository } from '../../../src/records/taker-repository.ts';
import { callEvent, callLifecycle, callRecord } from '../../support/call-fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase;
let calls: CallRepository;

beforeAll(async () => {
  database = await createTestDatabase();
  calls = createCallRepository(database.db);
});

afterAll(async () => {
  await database?.destroy();
});

describe('call repository', () => {
  it('stores a record and its events and reads them back unchanged', async () => {
    const [update] = callLifecycle(1);
    const result = await calls.applyUpdates([update!]);
    expect(result).toEqual({ calls: 1, events: 2 });
    expect(await calls.getCall(update!.record.id)).toEqual(update!.record);
    expect(await calls.listCallEvents(update!.record.id)).toEqual(update!.events);
  });

  it('never moves a row back to an older version, whatever order the updates arrive in', async () => {
    const updates = callLifecycle(4);
    const id = updates[0]!.record.id;
    await calls.applyUpdates([updates[2]!]);
    await calls.applyUpdates([updates[0]!]);
    await calls.applyUpdates([updates[3]!]);
    const stale = await calls.applyUpdates([updates[1]!, updates[2]!]);
    expect(stale.calls).toBe(0);
    expect(await calls.getCall(id)).toEqual(updates[3]!.record);
    expect((await calls.listCallEvents(id)).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps the highest version when one batch holds several versions of a call', async () => {
    const updates = callLifecycle(3);
    const result = await calls.applyUpdates([updates[1]!, updates[2]!, updates[0]!]);
    expect(result).toEqual({ calls: 1, events: 6 });
    expect((await calls.getCall(updates[0]!.record.id))?.version).toBe(3);
  });

  it('ignores an event it already has, even with different contents', async () => {
    const record = callRecord();
    await calls.applyUpdates([{ record, events: [callEvent(record.id, 1, { type: 'arrived' })] }]);
    const again = await calls.applyUpdates([
      { record, events: [callEvent(record.id, 1, { type: 'rewritten' }), callEvent(record.id, 1)] },
    ]);
    expect(again).toEqual({ calls: 0, events: 0 });
    const events = await calls.listCallEvents(record.id);
    expect(events.map((e) => [e.seq, e.type])).toEqual([[1, 'arrived']]);
  });

  it('applies a whole batch or nothing of it', async () => {
    const good = callLifecycle(1)[0]!;
    const bad = callRecord({ takerId: 'no-such-taker' });
    await expect(calls.applyUpdates([good, { record: bad, events: [] }])).rejects.toMatchObject({
      code: '23503',
    });
    expect(await calls.getCall(good.record.id)).toBeUndefined();
  });

  it('stores junk caller IDs byte for byte', async () => {
    const junk = [
      "'; DROP TABLE calls; --",
      'x'.repeat(300),
      '🚑📞 darurat 🆘',
      'line one\r\nline two\r\n',
      '<script>alert(1)</script>',
      '" OR 1=1 \\ \\x00 %s %n',
      '',
    ];
    const records = junk.map((callerIdRaw) =>
      callRecord({ callerIdRaw, callerNumber: null, callerIdKind: 'invalid' }),
    );
    const events = records.map((r) =>
      callEvent(r.id, 1, { detail: { raw: r.callerIdRaw, nested: [r.callerIdRaw] } }),
    );
    await calls.applyUpdates(records.map((record, i) => ({ record, events: [events[i]!] })));
    for (const [i, record] of records.entries()) {
      const stored = await calls.getCall(record.id);
      expect(stored?.callerIdRaw).toBe(junk[i]);
      expect(Buffer.from(stored!.callerIdRaw)).toEqual(Buffer.from(junk[i]!));
      expect((await calls.listCallEvents(record.id))[0]?.detail).toEqual({ raw: junk[i], nested: [junk[i]] });
    }
    // The first junk value did not run as SQL.
    expect(await calls.countCalls()).toBeGreaterThanOrEqual(records.length);
  });

  it('stores what Postgres text cannot hold (NUL, unpaired surrogates) as U+FFFD instead of failing', async () => {
    const record = callRecord({
      callerIdRaw: 'a\u0000b\uD800c',
      callerIdKind: 'invalid',
      callerNumber: null,
    });
    await calls.applyUpdates([
      { record, events: [callEvent(record.id, 1, { detail: { raw: 'x\u0000y\uDC00' } })] },
    ]);
    expect((await calls.getCall(record.id))?.callerIdRaw).toBe('a\uFFFDb\uFFFDc');
    expect((await calls.listCallEvents(record.id))[0]?.detail).toEqual({ raw: 'x\uFFFDy\uFFFD' });
  });

  it('refuses a disposition outside the contract', async () => {
    const record = callRecord({ disposition: 'vanished' as never });
    await expect(calls.applyUpdates([{ record, events: [] }])).rejects.toMatchObject({ code: '23514' });
  });

  it('keeps a call whose taker is deleted, with the taker cleared', async () => {
    const takers = createTakerRepository(database.db);
    await takers.upsertTaker({ id: 'leaving', name: 'Leaving', endpoint: 'PJSIP/leaving' });
    const record = callRecord({ takerId: 'leaving', disposition: 'connected' });
    await calls.applyUpdates([{ record, events: [] }]);
    await database.db.deleteFrom('call_takers').where('id', '=', 'leaving').execute();
    expect(await calls.getCall(record.id)).toEqual({ ...record, takerId: null });
  });

  it('does nothing for an empty batch', async () => {
    const before = await calls.countCalls();
    expect(await calls.applyUpdates([])).toEqual({ calls: 0, events: 0 });
    expect(await calls.countCalls()).toBe(before);
  });

  it('writes a large batch in a few multi-row statements, not one per row', async () => {
    const inserts: string[] = [];
    const counting: KyselyPlugin = {
      transformQuery: ({ node }) => {
        if (node.kind === 'InsertQueryNode') inserts.push(node.into?.table.identifier.name ?? '?');
        return node;
      },
      transformResult: async ({ result }) => result,
    };
    const counted = createCallRepository(database.db.withPlugin(counting));
    const updates = Array.from({ length: 1_500 }, () => callLifecycle(2)).flat();
    const result = await counted.applyUpdates(updates);
    expect(result).toEqual({ calls: 1_500, events: 6_000 });
    // 1,500 calls at 1,000 rows a statement, 6,000 events at 2,000 a statement.
    expect(inserts).toEqual(['calls', 'calls', 'call_events', 'call_events', 'call_events']);
  });
});
