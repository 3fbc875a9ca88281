import { Redis } from 'ioredis';
import type { Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDatabase, type Database } from '../../../src/records/database.ts';
import type { RecordLogger } from '../../../src/records/record-writer.ts';
import type { TakerEvent } from '../../../src/records/taker-event.ts';
import {
  startTakerEventDrain,
  TAKER_EVENT_GROUP,
  type TakerEventDrain,
  type TakerEventDrainOptions,
} from '../../../src/records/taker-event-drain.ts';
import {
  createTakerEventRepository,
  type TakerEventRepository,
} from '../../../src/records/taker-event-repository.ts';
import { startTcpProxy } from '../../support/tcp-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

const CALL = '0b6f5c3e-2d1a-4c1e-9a57-6a3f0e2b7d41';
const POLL = { timeout: 20_000, interval: 50 };

let database: TestDatabase;
let repository: TakerEventRepository;
let redis: Redis;
let prefix: string;
let key: string;
let messages: string[];
const drains: TakerEventDrain[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  repository = createTakerEventRepository(database.db);
  redis = new Redis(testRedisUrl());
});

beforeEach(async () => {
  prefix = testRedisPrefix('taker-events');
  key = `${prefix}:taker-events`;
  messages = [];
  await database.db.deleteFrom('taker_events').execute();
});

afterEach(async () => {
  await Promise.all(drains.splice(0).map((drain) => drain.close()));
  await cleanupRedisPrefix(prefix);
});

afterAll(async () => {
  redis?.disconnect();
  await database?.destroy();
});

const logger: RecordLogger = {
  info: (_fields, message) => messages.push(message),
  warn: (_fields, message) => messages.push(message),
  error: (_fields, message) => messages.push(message),
};

function startDrain(consumerName: string, overrides: Partial<TakerEventDrainOptions> = {}): TakerEventDrain {
  const drain = startTakerEventDrain({
    redisUrl: testRedisUrl(),
    prefix,
    repository,
    logger,
    consumerName,
    blockMs: 100,
    retry: { initialDelayMs: 20, maxDelayMs: 200 },
    ...overrides,
  });
  drains.push(drain);
  return drain;
}

interface Transition {
  taker?: string;
  state?: string;
  previous?: string;
  reason?: string;
  call?: string;
  at?: string;
}

/** One entry exactly as the Lua scripts write it (the contract, spelled out field by field). */
async function append(t: Transition = {}): Promise<string> {
  const id = await redis.xadd(
    key,
    '*',
    'taker',
    t.taker ?? 'taker1',
    'state',
    t.state ?? 'available',
    'previous',
    t.previous ?? 'offline',
    'reason',
    t.reason ?? '',
    'call',
    t.call ?? '',
    'at',
    t.at ?? String(Date.now()),
  );
  return id!;
}

async function appendMany(count: number, taker = 'taker1'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await append({ taker, at: String(1_795_000_000_000 + i) }));
  return ids;
}

async function storedIds(db: Kysely<Database> = database.db): Promise<string[]> {
  const rows = await db.selectFrom('taker_events').select('stream_id').orderBy('stream_id').execute();
  return rows.map((r) => r.stream_id);
}

const sorted = (ids: Iterable<string>) => [...ids].sort();

async function pendingCount(): Promise<number> {
  const [count] = (await redis.xpending(key, TAKER_EVENT_GROUP)) as [number, ...unknown[]];
  return count;
}

/** Waits until everything appended is in Postgres and the stream is empty. */
async function drained(ids: readonly string[], drain: TakerEventDrain): Promise<void> {
  await vi.waitFor(async () => {
    expect(await storedIds()).toEqual(sorted(ids));
    expect(await drain.lag()).toBe(0);
  }, POLL);
  expect(await pendingCount()).toBe(0);
}

describe('taker event drain', () => {
  it("stores each entry once with the contract's fields, including entries written before it started", async () => {
    const before = await append({ state: 'available', previous: '', reason: 'login', at: '1795000000000' });
    const drain = startDrain('a');
    const reserved = await append({
      state: 'reserved',
      previous: 'available',
      call: CALL,
      at: '1795000001000',
    });
    const onCall = await append({ state: 'on-call', previous: 'reserved', call: CALL, at: '1795000002000' });
    await drained([before, reserved, onCall], drain);

    expect(await repository.listTakerEvents('taker1')).toEqual([
      {
        streamId: before,
        takerId: 'taker1',
        state: 'available',
        previousState: null,
        reason: 'login',
        callId: null,
        at: new Date(1_795_000_000_000),
      },
      {
        streamId: reserved,
        takerId: 'taker1',
        state: 'reserved',
        previousState: 'available',
        reason: null,
        callId: CALL,
        at: new Date(1_795_000_001_000),
      },
      {
        streamId: onCall,
        takerId: 'taker1',
        state: 'on-call',
        previousState: 'reserved',
        reason: null,
        callId: CALL,
        at: new Date(1_795_000_002_000),
      },
    ]);
    expect(await redis.xlen(key)).toBe(0);
  });

  it('stores once an entry delivered again after its commit (acknowledgement lost)', async () => {
    const seen: string[] = [];
    let lostReplies = 1;
    const ids = await appendMany(5);
    const drain = startDrain('a', {
      repository: {
        async insertTakerEvents(events) {
          seen.push(...events.map((e) => e.streamId));
          const stored = await repository.insertTakerEvents(events);
          // The commit happened, but the drain hears of a failure (connection lost on the reply).
          if (lostReplies-- > 0) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
          return stored;
        },
      },
    });
    await drained(ids, drain);
    expect(sorted(seen)).toEqual(sorted([...ids, ...ids]));
  });

  it('stores once the entries a crashed instance had committed but not acknowledged', async () => {
    await redis.call('XGROUP', ['CREATE', key, TAKER_EVENT_GROUP, '0', 'MKSTREAM']);
    const ids = await appendMany(4);
    // The crashed instance read them and committed them, then died before XACK.
    const reply = await redis.call('XREADGROUP', [
      'GROUP',
      TAKER_EVENT_GROUP,
      'crashed',
      'STREAMS',
      key,
      '>',
    ]);
    expect(reply).not.toBeNull();
    await repository.insertTakerEvents(
      ids.map(
        (id, i): TakerEvent => ({
          streamId: id,
          takerId: 'taker1',
          state: 'available',
          previousState: 'offline',
          reason: null,
          callId: null,
          at: new Date(1_795_000_000_000 + i),
        }),
      ),
    );
    const inserted: number[] = [];
    const drain = startDrain('b', {
      claimIdleMs: 50,
      claimIntervalMs: 50,
      repository: {
        async insertTakerEvents(events) {
          const stored = await repository.insertTakerEvents(events);
          inserted.push(stored);
          return stored;
        },
      },
    });
    await drained(ids, drain);
    expect(inserted.reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('sets garbage aside, repairs what it can, and goes on with the entries after it', async () => {
    const noTaker = await append({ taker: '' });
    const noState = await append({ state: '' });
    const repaired = await append({
      taker: 'taker2',
      state: 'training',
      call: 'not-a-uuid',
      at: 'yesterday',
    });
    const nul = await append({ taker: 'taker2', state: 'break', reason: 'lun\u0000ch' });
    const missingFields = (await redis.xadd(key, '*', 'hello', 'world'))!;
    const poison = await append({ taker: 'poison' });
    const drain = startDrain('a', {
      repository: {
        async insertTakerEvents(events) {
          // Postgres refusing one entry for what it holds (a data exception), as it would a
          // value the parser did not foresee.
          if (events.some((e) => e.takerId === 'poison'))
            throw Object.assign(new Error('invalid byte sequence'), { code: '22021' });
          return repository.insertTakerEvents(events);
        },
      },
    });
    const good = await append({ taker: 'taker2', state: 'available', previous: 'break' });
    await drained([repaired, nul, good], drain);

    const [first, second] = await repository.listTakerEvents('taker2');
    expect(first).toMatchObject({ streamId: repaired, state: 'training', callId: null });
    // 'yesterday' is no time: the stream id's own millisecond stands in.
    expect(first?.at.getTime()).toBe(Number(repaired.split('-')[0]));
    expect(second).toMatchObject({ streamId: nul, reason: 'lun\uFFFDch' });

    const dead = (await redis.xrange(`${prefix}:taker-events:dead`, '-', '+')).map(([, fields]) => fields[1]);
    expect(dead).toEqual([noTaker, noState, missingFields, poison]);
    expect(messages).toContain('taker event unusable; moved to the dead-letter stream');
    expect(messages).toContain('taker event refused by Postgres; moved to the dead-letter stream');
  });

  it('keeps every entry through a Postgres outage and stores each exactly once after it', async () => {
    const { hostname, port } = new URL(database.url);
    const proxy = await startTcpProxy({ host: hostname, port: Number(port) });
    const proxiedDb = createDatabase(proxy.url(database.url), {
      maxConnections: 2,
      connectionTimeoutMs: 1_000,
      statementTimeoutMs: 2_000,
      queryTimeoutMs: 3_000,
    });
    try {
      const proxied = createTakerEventRepository(proxiedDb);
      let failures = 0;
      const drain = startDrain('a', {
        batchSize: 10,
        repository: {
          async insertTakerEvents(events) {
            try {
              return await proxied.insertTakerEvents(events);
            } catch (error) {
              failures += 1;
              throw error;
            }
          },
        },
      });
      const warmup = await append();
      await drained([warmup], drain);

      proxy.cut();
      const during = await appendMany(30, 'taker3');
      await vi.waitFor(() => expect(failures).toBeGreaterThanOrEqual(3), POLL);
      expect(await storedIds()).toEqual([warmup]);
      expect(await drain.lag()).toBe(30);
      // Once per outage, not once per retry.
      expect(messages.filter((m) => m.startsWith('taker events not committed'))).toHaveLength(1);

      proxy.restore();
      await drained([warmup, ...during], drain);
      expect(messages).toContain('taker events committed again');
    } finally {
      await Promise.all(drains.splice(0).map((drain) => drain.close()));
      await proxiedDb.destroy();
      await proxy.close();
    }
  });

  it('shares one stream between two drains: each entry inserted by exactly one of them', async () => {
    const seenBy = { a: [] as string[], b: [] as string[] };
    const tracking = (name: 'a' | 'b') => ({
      async insertTakerEvents(events: readonly TakerEvent[]) {
        seenBy[name].push(...events.map((e) => e.streamId));
        return repository.insertTakerEvents(events);
      },
    });
    const a = startDrain('a', { batchSize: 7, repository: tracking('a') });
    startDrain('b', { batchSize: 7, repository: tracking('b') });
    const ids: string[] = [];
    for (let round = 0; round < 6; round++) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 50; i++)
        pipeline.xadd(
          key,
          '*',
          'taker',
          `taker${i % 5}`,
          'state',
          'available',
          'previous',
          '',
          'reason',
          '',
          'call',
          '',
          'at',
          String(1_795_000_000_000 + round * 50 + i),
        );
      const results = (await pipeline.exec()) ?? [];
      ids.push(...results.map(([, id]) => id as string));
    }
    await drained(ids, a);
    // Both took part (each blocks for new entries; Redis hands them to whoever waits).
    expect(seenBy.a.length).toBeGreaterThan(0);
    expect(seenBy.b.length).toBeGreaterThan(0);
    expect(seenBy.a.filter((id) => seenBy.b.includes(id))).toEqual([]);
    expect(sorted([...seenBy.a, ...seenBy.b])).toEqual(sorted(ids));
  });

  it('takes over the entries of a drain that died mid-batch', async () => {
    let attempts = 0;
    // Appended first, so the dying drain's one batch holds them all.
    const ids = await appendMany(12);
    const dying = startDrain('dying', {
      repository: {
        async insertTakerEvents() {
          attempts += 1;
          throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        },
      },
    });
    await vi.waitFor(async () => {
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(await pendingCount()).toBe(12);
    }, POLL);
    await dying.close();
    // Closing left the batch pending under the dead consumer's name.
    const consumers = (await redis.call('XINFO', ['CONSUMERS', key, TAKER_EVENT_GROUP])) as unknown[][];
    expect(consumers.map((c) => [c[1], c[3]])).toEqual([['dying', 12]]);

    const heir = startDrain('heir', { claimIdleMs: 200, claimIntervalMs: 50 });
    await drained(ids, heir);
  });

  it('carries on when Redis loses the stream and its group', async () => {
    const drain = startDrain('a');
    const first = await append();
    await drained([first], drain);
    await redis.del(key);
    const second = await append();
    await drained([first, second], drain);
    expect(messages).toContain('taker event drain: consumer group missing; creating it again');
  });

  it('closes at once while blocked on a long read, and leaves later entries for the next drain', async () => {
    const drain = startDrain('a', { blockMs: 60_000 });
    // The drain's reading connection, blocked ('b') in XREADGROUP.
    await vi.waitFor(async () => {
      const clients = String(await redis.call('CLIENT', ['LIST', 'TYPE', 'normal'])).split('\n');
      const reader = clients.find((line) => line.includes(` name=${key}:a `));
      expect(reader).toMatch(/ flags=b /);
      expect(reader).toMatch(/ cmd=xreadgroup /);
    }, POLL);
    // A close that waited for the 60 s read would exceed the test's timeout.
    await drain.close();
    const id = await append();
    expect(await redis.xlen(key)).toBe(1);
    expect(await storedIds()).toEqual([]);
    await drained([id], startDrain('b'));
  });
});
