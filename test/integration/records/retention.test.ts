import { afterEach, describe, expect, it } from 'vitest';
import { createCallRepository } from '../../../src/records/call-repository.ts';
import { pseudonym, pseudonymizeCallsBefore } from '../../../src/records/retention.ts';
import { callRecord } from '../../support/call-fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase | undefined;
afterEach(async () => {
  await database?.destroy();
  database = undefined;
});

const KEY = 'a-regency-secret-of-some-length';

describe('retention of caller numbers (PDP law)', () => {
  it('pseudonymizes numbers of calls past the cutoff, the same number to the same pseudonym; newer calls untouched', async () => {
    database = await createTestDatabase();
    const calls = createCallRepository(database.db);
    const old1 = callRecord({
      arrivedAt: new Date('2025-01-10T00:00:00Z'),
      callerNumber: '+6281200000001',
      callerIdRaw: '081200000001',
    });
    const old2 = callRecord({
      arrivedAt: new Date('2025-02-10T00:00:00Z'),
      callerNumber: '+6281200000001',
      callerIdRaw: '+6281200000001',
    });
    const oldJunk = callRecord({
      arrivedAt: new Date('2025-03-10T00:00:00Z'),
      callerNumber: null,
      callerIdRaw: 'anonymous',
      callerIdKind: 'anonymous',
    });
    const recent = callRecord({
      arrivedAt: new Date('2026-11-01T00:00:00Z'),
      callerNumber: '+6281200000001',
    });
    await calls.applyUpdates([old1, old2, oldJunk, recent].map((record) => ({ record, events: [] })));

    expect(await pseudonymizeCallsBefore(database.db, new Date('2026-01-01T00:00:00Z'), KEY, 2)).toBe(3);
    const alias = pseudonym('+6281200000001', KEY);
    expect(alias).toMatch(/^anon:[0-9a-f]{16}$/);
    expect(await calls.getCall(old1.id)).toMatchObject({ callerNumber: null, callerIdRaw: alias });
    expect(await calls.getCall(old2.id)).toMatchObject({ callerNumber: null, callerIdRaw: alias });
    expect((await calls.getCall(oldJunk.id))?.callerIdRaw).toBe(pseudonym('anonymous', KEY));
    expect(await calls.getCall(recent.id)).toMatchObject({ callerNumber: '+6281200000001' });
    // Idempotent: a second run finds nothing left to do.
    expect(await pseudonymizeCallsBefore(database.db, new Date('2026-01-01T00:00:00Z'), KEY)).toBe(0);
  });

  it('removes the number when no pseudonym key is configured', async () => {
    database = await createTestDatabase();
    const calls = createCallRepository(database.db);
    const old = callRecord({ arrivedAt: new Date('2025-01-10T00:00:00Z') });
    await calls.applyUpdates([{ record: old, events: [] }]);
    expect(await pseudonymizeCallsBefore(database.db, new Date('2026-01-01T00:00:00Z'), null)).toBe(1);
    expect(await calls.getCall(old.id)).toMatchObject({ callerNumber: null, callerIdRaw: '[removed]' });
  });
});
