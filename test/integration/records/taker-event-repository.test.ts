import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TakerEvent } from '../../../src/records/taker-event.ts';
import {
  createTakerEventRepository,
  type TakerEventRepository,
} from '../../../src/records/taker-event-repository.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase;
let repository: TakerEventRepository;

beforeAll(async () => {
  database = await createTestDatabase();
  repository = createTakerEventRepository(database.db);
});

beforeEach(async () => {
  await database.db.deleteFrom('taker_events').execute();
});

afterAll(async () => {
  await database?.destroy();
});

function event(streamId: string, at: number, overrides: Partial<TakerEvent> = {}): TakerEvent {
  return {
    streamId,
    takerId: 'taker1',
    state: 'available',
    previousState: 'offline',
    reason: 'login',
    callId: null,
    at: new Date(at),
    ...overrides,
  };
}

describe('taker event repository', () => {
  it('stores each stream id once, however often it is inserted', async () => {
    const events = [event('1000-0', 1000), event('1000-1', 1000, { state: 'reserved' })];
    expect(await repository.insertTakerEvents(events)).toBe(2);
    expect(await repository.insertTakerEvents([...events, ...events])).toBe(0);
    expect(await repository.insertTakerEvents([])).toBe(0);
    expect(await repository.listTakerEvents('taker1')).toEqual(events);
  });

  it('lists one taker in the order things happened, within [from, to)', async () => {
    const same = 5_000;
    const events = [
      event('5000-10', same, { state: 'on-call', callId: '0b6f5c3e-2d1a-4c1e-9a57-6a3f0e2b7d41' }),
      event('5000-9', same, { state: 'reserved' }),
      event('4000-0', 4_000),
      event('6000-0', 6_000, { state: 'break', reason: 'lunch' }),
      event('5000-11', same, { takerId: 'taker2' }),
    ];
    await repository.insertTakerEvents(events);
    const ids = (list: TakerEvent[]) => list.map((e) => e.streamId);
    expect(ids(await repository.listTakerEvents('taker1'))).toEqual([
      '4000-0',
      '5000-9',
      '5000-10',
      '6000-0',
    ]);
    expect(ids(await repository.listTakerEvents('taker1', { from: new Date(same) }))).toEqual([
      '5000-9',
      '5000-10',
      '6000-0',
    ]);
    expect(ids(await repository.listTakerEvents('taker1', { to: new Date(6_000) }))).toEqual([
      '4000-0',
      '5000-9',
      '5000-10',
    ]);
    expect(ids(await repository.listTakerEvents('taker2'))).toEqual(['5000-11']);
  });

  it('stores text Postgres would otherwise refuse', async () => {
    await repository.insertTakerEvents([event('7000-0', 7_000, { reason: 'a\u0000b\uD800' })]);
    const [stored] = await repository.listTakerEvents('taker1');
    expect(stored?.reason).toBe('a\uFFFDb\uFFFD');
  });

  it('refuses an id that is not a stream id', async () => {
    await expect(repository.insertTakerEvents([event('abc', 1)])).rejects.toThrow(RangeError);
  });
});
