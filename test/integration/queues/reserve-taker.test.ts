import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CallQueue } from '../../../src/queues/call-queue.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

const LEADER = 'instance-a';
let redis: Redis;
let prefix: string;
let queue: CallQueue;
let clock = 1_800_000_000_000;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterAll(() => {
  redis.disconnect();
});
beforeEach(async () => {
  prefix = testRedisPrefix('reserve');
  await redis.set(`${prefix}:leader`, LEADER);
  queue = new CallQueue(redis, {
    prefix,
    leaderId: LEADER,
    policy: { agingMs: 0, skillFallbackMs: 0 },
    now: () => clock,
  });
});
afterEach(async () => {
  await cleanupRedisPrefix(prefix);
});

const CALL = '9d1c6a5e-2f43-4d8e-b1a7-0c3e5f7a9b21';

describe('reserving a taker for a callback', () => {
  it('takes an available taker out of rotation until released, then offers them calls again', async () => {
    await queue.setTakerState('taker1', 'available', { endpoint: 'PJSIP/taker1' });
    expect(await queue.reserveTaker('taker1', CALL, 'callback')).toEqual({
      reserved: true,
      state: 'reserved',
    });
    expect(await queue.getTaker('taker1')).toMatchObject({
      state: 'reserved',
      reason: 'callback',
      callId: CALL,
    });
    // A 112 call waiting meanwhile is not given to them.
    await queue.enqueue('112-call', { level: 0, enqueuedAt: clock, category: null }, '{}');
    expect(await queue.dispatch()).toBeNull();
    // Nor can a desk change move them while the callback rings or talks.
    expect((await queue.setTakerState('taker1', 'break', { guard: true })).busy).toBe(true);
    expect(await queue.connect('taker1', CALL)).toBe(true);
    clock += 1000;
    await queue.release('taker1', CALL, 0, { assign: false });
    expect(await queue.dispatch()).toMatchObject({ callId: '112-call', takerId: 'taker1' });
  });

  it('refuses a taker who is not available, and leaves them as they were', async () => {
    expect(await queue.reserveTaker('ghost', CALL, 'callback')).toEqual({
      reserved: false,
      state: 'offline',
    });
    await queue.setTakerState('taker2', 'break', { endpoint: 'PJSIP/taker2', reason: 'meal' });
    expect(await queue.reserveTaker('taker2', CALL, 'callback')).toEqual({ reserved: false, state: 'break' });
    expect(await queue.getTaker('taker2')).toMatchObject({ state: 'break', reason: 'meal' });
    await queue.setTakerState('taker3', 'available', { endpoint: 'PJSIP/taker3' });
    await queue.setReachable('PJSIP/taker3', false);
    expect((await queue.reserveTaker('taker3', CALL, 'callback')).reserved).toBe(false);
  });

  it('puts a taker who missed their own callback on break only while they still hold it', async () => {
    await queue.setTakerState('taker4', 'available', { endpoint: 'PJSIP/taker4' });
    await queue.reserveTaker('taker4', CALL, 'callback');
    // The reservation ended elsewhere and the taker took a 112 call: the late break leaves them be.
    clock += 1000;
    await queue.release('taker4', CALL, 0, { assign: false });
    expect(
      await queue.enqueue('112-call', { level: 0, enqueuedAt: clock, category: null }, '{}'),
    ).toMatchObject({
      callId: '112-call',
      takerId: 'taker4',
    });
    expect(await queue.setTakerState('taker4', 'break', { reason: 'missed', holding: CALL })).toEqual({
      busy: true,
      previous: 'reserved',
      state: 'reserved',
    });
    expect(await queue.getTaker('taker4')).toMatchObject({ state: 'reserved', callId: '112-call' });
    // Still holding it: moved.
    clock += 1000;
    await queue.release('taker4', '112-call', 0, { assign: false });
    await queue.reserveTaker('taker4', CALL, 'callback');
    expect(await queue.setTakerState('taker4', 'break', { reason: 'missed', holding: CALL })).toMatchObject({
      busy: false,
      state: 'break',
    });
    expect(await queue.getTaker('taker4')).toMatchObject({ state: 'break', reason: 'missed' });
  });
});
