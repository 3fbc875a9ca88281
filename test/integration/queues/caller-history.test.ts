import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { CallerHistoryStore, type PastCall } from '../../../src/queues/caller-history.ts';
import { normalizeCallerId } from '../../../src/routing/caller-id.ts';
import { rebuildAllCallerHistory, Screener } from '../../../src/routing/screener.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

const NUMBER = '+6281234567890';
const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

let redis: Redis;
let prefix: string;
let store: CallerHistoryStore;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterAll(() => {
  redis.disconnect();
});
beforeEach(() => {
  prefix = testRedisPrefix('history');
  store = new CallerHistoryStore(redis, prefix);
});
afterEach(async () => {
  await cleanupRedisPrefix(prefix);
});

describe('caller history in Redis', () => {
  it('counts calls and verdicts over the rule windows', async () => {
    await store.recordArrival(NUMBER, 'a', NOW - 5 * MINUTE);
    await store.recordArrival(NUMBER, 'b', NOW - 30 * MINUTE);
    await store.recordArrival(NUMBER, 'c', NOW - 3 * DAY);
    await store.recordArrival(NUMBER, 'old', NOW - 8 * DAY);
    await store.recordVerdict(NUMBER, 'a', 'prank', NOW - 4 * MINUTE);
    await store.recordVerdict(NUMBER, 'c', 'prank', NOW - 3 * DAY);
    await store.recordVerdict(NUMBER, 'b', 'silent', NOW - 29 * MINUTE);
    await store.recordIvrHangup(NUMBER, 'b', NOW - 30 * MINUTE);
    await store.recordRelease(NUMBER, NOW - 10 * MINUTE);
    const { history } = await store.read(NUMBER, NOW);
    expect(history).toEqual({
      calls: { last10m: 1, last1h: 2, last24h: 2, last7d: 3 },
      verdicts: { prank: { last24h: 1, last7d: 2 }, genuine: { last7d: 0 }, silent: { last7d: 1 } },
      ivrHangups24h: 1,
      lastReleasedAt: NOW - 10 * MINUTE,
    });
  });

  it('replaces a call verdict a taker corrects', async () => {
    await store.recordVerdict(NUMBER, 'a', 'prank', NOW - MINUTE);
    await store.recordVerdict(NUMBER, 'a', 'genuine', NOW);
    const { history } = await store.read(NUMBER, NOW);
    expect(history.verdicts).toMatchObject({ prank: { last7d: 0 }, genuine: { last7d: 1 } });
  });

  it('rebuilds a lost history from Postgres rows, merging what Redis recorded meanwhile', async () => {
    expect((await store.read(NUMBER, NOW)).rebuilt).toBe(false);
    await store.recordArrival(NUMBER, 'new', NOW - MINUTE);
    const past: PastCall[] = [
      {
        callId: 'p1',
        arrivedAt: NOW - 2 * DAY,
        verdict: 'prank',
        verdictAt: NOW - 2 * DAY,
        ivrHangup: false,
        releasedAt: null,
      },
      {
        callId: 'p2',
        arrivedAt: NOW - DAY / 2,
        verdict: null,
        verdictAt: null,
        ivrHangup: false,
        releasedAt: NOW - DAY / 2,
      },
      {
        callId: 'new',
        arrivedAt: NOW - MINUTE,
        verdict: null,
        verdictAt: null,
        ivrHangup: false,
        releasedAt: null,
      },
    ];
    await store.rebuild(NUMBER, past, NOW);
    const { history, rebuilt } = await store.read(NUMBER, NOW);
    expect(rebuilt).toBe(true);
    expect(history.calls.last7d).toBe(3);
    expect(history.verdicts.prank.last7d).toBe(1);
    expect(history.lastReleasedAt).toBe(NOW - DAY / 2);
  });
});

describe('the screener', () => {
  const logger = createLogger('silent');

  it('screens a repeat prankster from history and records each arrival, rebuilding once in the background', async () => {
    const loads: string[] = [];
    const screener = new Screener({
      history: store,
      loadPast: async (number) => {
        loads.push(number);
        return [];
      },
      logger,
      now: () => NOW,
    });
    const caller = normalizeCallerId('081234567890');
    expect(await screener.screen(caller, 'first')).toMatchObject({ decision: 'connect' });
    await store.recordVerdict(NUMBER, 'first', 'prank', NOW);
    await store.recordVerdict(NUMBER, 'second', 'prank', NOW);
    const third = await screener.screen(caller, 'third');
    expect(third.decision).toBe('warn-and-release');
    expect(third.reasons).toContain('2 judged prank in the last 24 h');
    expect(loads).toEqual([NUMBER]);
    expect((await store.read(NUMBER, NOW)).history.calls.last10m).toBe(2);
  });

  it('fails open when the history cannot be read', async () => {
    // Nothing listens on port 1: every command fails at once.
    const broken = new Redis({
      host: '127.0.0.1',
      port: 1,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    broken.on('error', () => {});
    const screener = new Screener({
      history: new CallerHistoryStore(broken, prefix),
      loadPast: async () => [],
      logger,
      now: () => NOW,
    });
    expect(await screener.screen(normalizeCallerId('081234567890'), 'x')).toEqual({
      decision: 'connect',
      score: 0,
      reasons: ['screening unavailable: let through (fail open)'],
    });
    broken.disconnect();
  });

  it('never reads a history for a shared caller ID', async () => {
    const screener = new Screener({ history: store, loadPast: async () => [], logger, now: () => NOW });
    expect(await screener.screen(normalizeCallerId('anonymous'), 'x')).toMatchObject({ decision: 'connect' });
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
  });
});

describe('rebuilding every caller history at once', () => {
  it('loads the last week from Postgres rows once, after which no caller needs a rebuild', async () => {
    const logger = createLogger('silent');
    const rows = [
      {
        number: NUMBER,
        callId: 'a',
        arrivedAt: NOW - DAY,
        verdict: 'prank' as const,
        verdictAt: NOW - DAY,
        ivrHangup: false,
        releasedAt: null,
      },
      {
        number: NUMBER,
        callId: 'b',
        arrivedAt: NOW - MINUTE,
        verdict: null,
        verdictAt: null,
        ivrHangup: false,
        releasedAt: null,
      },
      {
        number: '+6285700000000',
        callId: 'c',
        arrivedAt: NOW - 2 * DAY,
        verdict: 'genuine' as const,
        verdictAt: NOW - 2 * DAY,
        ivrHangup: false,
        releasedAt: null,
      },
    ];
    const sinceAsked: number[] = [];
    const loadSince = async (since: number) => {
      sinceAsked.push(since);
      return rows;
    };
    expect(await rebuildAllCallerHistory({ history: store, loadSince, now: NOW, logger })).toBe(2);
    expect(sinceAsked).toEqual([NOW - 7 * DAY]);
    expect(await store.read(NUMBER, NOW)).toMatchObject({
      rebuilt: true,
      history: { calls: { last7d: 2 }, verdicts: { prank: { last7d: 1 } } },
    });
    expect((await store.read('+6285700000000', NOW)).history.verdicts.genuine.last7d).toBe(1);
    // A number that never called is complete too: nothing to load for it.
    expect((await store.read('+6281100000000', NOW)).rebuilt).toBe(true);
    expect(await rebuildAllCallerHistory({ history: store, loadSince, now: NOW, logger })).toBeNull();
    expect(sinceAsked).toHaveLength(1);
  });
});
