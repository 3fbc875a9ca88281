import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTakerRepository, type TakerRepository } from '../../../src/records/taker-repository.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase;
let takers: TakerRepository;

beforeAll(async () => {
  database = await createTestDatabase();
  takers = createTakerRepository(database.db);
});

beforeEach(async () => {
  await database.db.deleteFrom('call_takers').execute();
});

afterAll(async () => {
  await database?.destroy();
});

describe('taker repository', () => {
  it('seeds demo takers idempotently, leaving edits alone', async () => {
    const seeded = await takers.seedDemoTakers(3);
    expect(seeded).toEqual([
      { id: 'taker1', name: 'Call taker 1', endpoint: 'PJSIP/taker1', skills: [], active: true },
      { id: 'taker2', name: 'Call taker 2', endpoint: 'PJSIP/taker2', skills: [], active: true },
      { id: 'taker3', name: 'Call taker 3', endpoint: 'PJSIP/taker3', skills: [], active: true },
    ]);
    await takers.upsertTaker({ id: 'taker2', name: 'Sari', endpoint: 'PJSIP/taker2', skills: ['jawa'] });
    const again = await takers.seedDemoTakers(4);
    expect(again.map((t) => t.id)).toEqual(['taker1', 'taker2', 'taker3', 'taker4']);
    expect(again[1]).toMatchObject({ name: 'Sari', skills: ['jawa'] });
    expect(await takers.listTakers()).toHaveLength(4);
  });

  it('skips a demo taker whose endpoint another taker already uses', async () => {
    await takers.upsertTaker({ id: 'desk-a', name: 'Desk A', endpoint: 'PJSIP/taker2' });
    const seeded = await takers.seedDemoTakers(2);
    expect(seeded.map((t) => t.id)).toEqual(['taker1']);
    expect(await takers.findTakerByEndpoint('PJSIP/taker2')).toMatchObject({ id: 'desk-a' });
  });

  it('upserts, finds by id and endpoint, and lists active takers', async () => {
    const created = await takers.upsertTaker({
      id: 'budi',
      name: 'Budi',
      endpoint: 'PJSIP/budi',
      skills: ['sunda'],
    });
    expect(created).toEqual({
      id: 'budi',
      name: 'Budi',
      endpoint: 'PJSIP/budi',
      skills: ['sunda'],
      active: true,
    });
    await takers.upsertTaker({ id: 'ani', name: 'Ani', endpoint: 'PJSIP/ani', active: false });
    const moved = await takers.upsertTaker({ id: 'budi', name: 'Budi S.', endpoint: 'PJSIP/budi2' });
    expect(moved).toEqual({ id: 'budi', name: 'Budi S.', endpoint: 'PJSIP/budi2', skills: [], active: true });

    expect(await takers.getTaker('budi')).toEqual(moved);
    expect(await takers.getTaker('nobody')).toBeUndefined();
    expect(await takers.findTakerByEndpoint('PJSIP/budi2')).toEqual(moved);
    expect(await takers.findTakerByEndpoint('PJSIP/budi')).toBeUndefined();
    expect((await takers.listTakers()).map((t) => t.id)).toEqual(['ani', 'budi']);
    expect((await takers.listTakers({ activeOnly: true })).map((t) => t.id)).toEqual(['budi']);
  });

  it('refuses a second taker on an endpoint already taken', async () => {
    await takers.upsertTaker({ id: 'a', name: 'A', endpoint: 'PJSIP/shared' });
    await expect(takers.upsertTaker({ id: 'b', name: 'B', endpoint: 'PJSIP/shared' })).rejects.toMatchObject({
      code: '23505',
    });
  });

  it('rejects a nonsense demo count', async () => {
    await expect(takers.seedDemoTakers(-1)).rejects.toThrow(RangeError);
    expect(await takers.seedDemoTakers(0)).toEqual([]);
  });
});
