import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Assignment, CallQueue, type QueuePlace } from '../../../src/queues/call-queue.ts';
import { canTransition, isTakerState } from '../../../src/queues/taker-state.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

const LEADER = 'instance-a';
const MINUTE = 60_000;

let redis: Redis;
let prefix: string;
let clock: number;
let queue: CallQueue;

function makeQueue(options: { leaderId?: string; agingMs?: number; skillFallbackMs?: number } = {}) {
  return new CallQueue(redis, {
    prefix,
    leaderId: options.leaderId ?? LEADER,
    policy: { agingMs: options.agingMs ?? 0, skillFallbackMs: options.skillFallbackMs ?? 0 },
    now: () => clock,
  });
}

const place = (
  level: 0 | 1 | 2,
  enqueuedAt: number,
  category: QueuePlace['category'] = null,
): QueuePlace => ({
  level,
  enqueuedAt,
  category,
});

/** Logs takers in, one clock tick apart, so the first is the longest idle. */
async function available(...takerIds: string[]): Promise<void> {
  for (const takerId of takerIds) {
    clock += 1;
    await queue.setTakerState(takerId, 'available', { endpoint: `PJSIP/${takerId}` });
  }
}

async function drain(q = queue): Promise<Assignment[]> {
  const assignments: Assignment[] = [];
  for (let a = await q.dispatch(); a; a = await q.dispatch()) assignments.push(a);
  return assignments;
}

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterAll(() => {
  redis.disconnect();
});
beforeEach(async () => {
  prefix = testRedisPrefix('queue');
  clock = 1_800_000_000_000;
  await redis.set(`${prefix}:leader`, LEADER);
  queue = makeQueue();
});
afterEach(async () => {
  await cleanupRedisPrefix(prefix);
});

describe('the call queue in Redis', () => {
  it('serves urgent before normal before low, and first come first served within a level', async () => {
    await queue.enqueue('low-1', place(2, clock - 5000), '{}');
    await queue.enqueue('normal-1', place(1, clock - 4000), '{}');
    await queue.enqueue('urgent-2', place(0, clock - 1000), '{}');
    await queue.enqueue('normal-2', place(1, clock - 3000), '{}');
    await queue.enqueue('urgent-1', place(0, clock - 2000), '{}');
    await available('t1', 't2', 't3', 't4', 't5');
    expect((await drain()).map((a) => a.callId)).toEqual([
      'urgent-1',
      'urgent-2',
      'normal-1',
      'normal-2',
      'low-1',
    ]);
  });

  it('promotes a call one level per ageing bound waited, so nothing waits forever', async () => {
    queue = makeQueue({ agingMs: 2 * MINUTE });
    await queue.enqueue('low-old', place(2, clock - 5 * MINUTE), '{}'); // promoted twice: level 0
    await queue.enqueue('urgent-new', place(0, clock - 1000), '{}');
    await queue.enqueue('normal-old', place(1, clock - 3 * MINUTE), '{}'); // promoted once: level 0
    await queue.enqueue('low-young', place(2, clock - 1000), '{}');
    await available('t1', 't2', 't3', 't4');
    // At level 0 by age: the oldest first, then the genuinely urgent one; the young low call last.
    expect((await drain()).map((a) => a.callId)).toEqual([
      'low-old',
      'normal-old',
      'urgent-new',
      'low-young',
    ]);
  });

  it('gives the call to the longest-idle available taker', async () => {
    await available('first', 'second', 'third');
    await queue.setTakerState('first', 'break', { reason: 'meal' });
    clock += 1;
    await queue.setTakerState('first', 'available');
    const a = await queue.enqueue('c1', place(1, clock), '{}');
    expect(a?.takerId).toBe('second');
    const b = await queue.enqueue('c2', place(1, clock), '{}');
    expect(b?.takerId).toBe('third');
    expect((await queue.enqueue('c3', place(1, clock), '{}'))?.takerId).toBe('first');
  });

  it('matches a chosen category to a skilled taker until the fallback bound, then to anyone', async () => {
    queue = makeQueue({ skillFallbackMs: 20_000 });
    await queue.setTakerState('generalist', 'available', { endpoint: 'PJSIP/g', skills: ['general'] });
    clock += 1;
    await queue.setTakerState('medic', 'available', { endpoint: 'PJSIP/m', skills: ['medical', 'general'] });
    // The fire call is first in line but nobody free knows fire: the medical call behind it goes to
    // the medic; the fire call is not given to the generalist before its fallback bound.
    expect(await queue.enqueue('fire', place(1, clock - 10_000, 'fire'), '{}')).toBeNull();
    expect(await queue.enqueue('medical', place(1, clock - 5000, 'medical'), '{}')).toMatchObject({
      callId: 'medical',
      takerId: 'medic',
    });
    expect(await drain()).toEqual([]);
    clock += 10_001;
    expect(await drain()).toMatchObject([{ callId: 'fire', takerId: 'generalist' }]);
  });

  it('puts a call whose offer failed back at the head of its level, ahead of newer calls', async () => {
    await queue.enqueue('first', place(1, clock - 3000), '{}');
    await available('t1');
    const offered = await queue.dispatch();
    expect(offered?.callId).toBe('first');
    await queue.enqueue('second', place(1, clock - 1000), '{}');
    await queue.requeue('first', offered!.place, { takerId: 't1', state: 'break', reason: 'missed' });
    expect(await queue.getTaker('t1')).toMatchObject({ state: 'break', reason: 'missed', callId: null });
    await available('t2');
    expect((await drain()).map((a) => a.callId)).toEqual(['first']);
    expect((await queue.waiting()).map((w) => w.callId)).toEqual(['second']);
  });

  it('wraps a taker up after a call and makes them available by itself when it is over', async () => {
    await available('t1');
    const a = await queue.enqueue('c1', place(1, clock), '{}');
    expect(await queue.connect('t1', 'c1')).toBe(true);
    expect(a?.takerId).toBe('t1');
    expect(await queue.release('t1', 'c1', 30_000)).toEqual({ state: 'wrap-up', assignment: null });
    await queue.enqueue('c2', place(1, clock), '{}');
    expect(await queue.dispatch()).toBeNull();
    // The same release again (a retried step, a second instance) does not restart the wrap-up.
    clock += 20_000;
    expect(await queue.release('t1', 'c1', 30_000)).toEqual({ state: 'wrap-up', assignment: null });
    clock += 10_000;
    expect(await queue.dispatch()).toMatchObject({ callId: 'c2', takerId: 't1' });
  });

  it('gives a taker freed without wrap-up the next waiting call in the same step', async () => {
    await available('t1');
    await queue.enqueue('c1', place(1, clock), '{}');
    await queue.connect('t1', 'c1');
    await queue.enqueue('c2', place(1, clock), '{}');
    expect(await queue.release('t1', 'c1', 0)).toMatchObject({
      state: 'available',
      assignment: { callId: 'c2', takerId: 't1' },
    });
    expect((await queue.getTaker('t1'))?.state).toBe('reserved');
  });

  it('refuses a desk change for a taker who is being offered a call or is on one', async () => {
    await available('t1');
    await queue.enqueue('c1', place(1, clock), '{}');
    expect(await queue.setTakerState('t1', 'offline', { guard: true })).toMatchObject({
      busy: true,
      previous: 'reserved',
    });
    expect((await queue.getTaker('t1'))?.state).toBe('reserved');
  });

  it('takes an unreachable softphone out of rotation and brings it back when it registers', async () => {
    await available('t1');
    expect(await queue.setReachable('PJSIP/t1', false)).toMatchObject({ takerId: 't1', state: 'break' });
    expect(await queue.getTaker('t1')).toMatchObject({
      state: 'break',
      reason: 'unreachable',
      reachable: false,
    });
    await queue.enqueue('c1', place(1, clock), '{}');
    expect(await queue.dispatch()).toBeNull();
    // Asking to be available does not help while the phone is gone.
    expect((await queue.setTakerState('t1', 'available')).state).toBe('break');
    expect(await queue.setReachable('PJSIP/t1', true)).toMatchObject({ state: 'available' });
    expect(await queue.dispatch()).toMatchObject({ callId: 'c1', takerId: 't1' });
  });

  it('assigns nothing for an instance that does not hold the call-control lease', async () => {
    const deposed = makeQueue({ leaderId: 'instance-b' });
    await available('t1');
    expect(await deposed.enqueue('c1', place(1, clock), '{}')).toBeNull();
    expect(await deposed.dispatch()).toBeNull();
    expect(await queue.dispatch()).toMatchObject({ callId: 'c1', takerId: 't1' });
  });

  it('never offers one call twice nor gives one taker two calls, with two connections racing', async () => {
    const other = new Redis(testRedisUrl());
    try {
      const second = new CallQueue(other, {
        prefix,
        leaderId: LEADER,
        policy: { agingMs: 0, skillFallbackMs: 0 },
        now: () => clock,
      });
      for (let i = 0; i < 60; i++) await queue.enqueue(`c${i}`, place((i % 3) as 0 | 1 | 2, clock + i), '{}');
      await available(...Array.from({ length: 40 }, (_, i) => `t${i}`));
      const results = await Promise.all([drain(queue), drain(second), drain(queue), drain(second)]);
      const all = results.flat();
      expect(all).toHaveLength(40);
      expect(new Set(all.map((a) => a.callId)).size).toBe(40);
      expect(new Set(all.map((a) => a.takerId)).size).toBe(40);
      expect(await queue.waiting()).toHaveLength(20);
    } finally {
      other.disconnect();
    }
  });

  it('logs every taker transition to the stream, each one allowed by the state machine', async () => {
    await available('t1', 't2');
    await queue.enqueue('c1', place(1, clock), '{}');
    await queue.connect('t1', 'c1');
    await queue.release('t1', 'c1', 1000);
    clock += 1000;
    await queue.dispatch();
    await queue.enqueue('c2', place(1, clock), '{}');
    await queue.requeue('c2', place(1, clock), { takerId: 't2', state: 'break', reason: 'missed' });
    await queue.setTakerState('t2', 'offline');
    const entries = await redis.xrange(`${prefix}:taker-events`, '-', '+');
    const events = entries.map(([, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return f;
    });
    expect(events.map((e) => `${e.taker}:${e.state}${e.reason ? `/${e.reason}` : ''}`)).toEqual([
      't1:available',
      't2:available',
      't1:reserved',
      't1:on-call',
      't1:wrap-up',
      't1:available/wrap-up-ended',
      't2:reserved',
      't2:break/missed',
      't2:offline',
    ]);
    for (const e of events) {
      expect(isTakerState(e.state!)).toBe(true);
      if (e.previous)
        expect(canTransition(e.previous as never, e.state as never), `${e.previous}→${e.state}`).toBe(true);
    }
  });
});

/** Found by the model-based test (taker-state-model.test.ts); each failed before its fix. */
describe('late and repeated reports about an offer', () => {
  it('a late answer from a taker no longer rung leaves the offer to the taker being rung', async () => {
    await available('t1', 't2');
    await queue.enqueue('c1', place(1, clock), '{}');
    await queue.requeue('c1', place(1, clock), { takerId: 't1', state: 'break', reason: 'missed' });
    expect(await queue.dispatch()).toMatchObject({ callId: 'c1', takerId: 't2' });
    expect(await queue.connect('t1', 'c1')).toBe(false);
    expect(await queue.offeredTaker('c1')).toBe('t2');
    // So the caller hanging up still frees the taker being rung.
    expect(await queue.withdraw('c1')).toEqual({ wasWaiting: false, takerId: 't2' });
    expect((await queue.getTaker('t2'))?.state).toBe('available');
  });

  it('a ring failure reported again changes nothing once the call rings another taker', async () => {
    await available('t1', 't2');
    await queue.enqueue('c1', place(1, clock), '{}');
    const missed = { takerId: 't1', state: 'break', reason: 'missed' } as const;
    await queue.requeue('c1', place(1, clock), missed);
    expect(await queue.dispatch()).toMatchObject({ callId: 'c1', takerId: 't2' });
    await queue.requeue('c1', place(1, clock), missed);
    expect(await queue.offeredTaker('c1')).toBe('t2');
    expect(await queue.waiting()).toEqual([]);
    expect(await queue.getTaker('t2')).toMatchObject({ state: 'reserved', callId: 'c1' });
  });

  it('a late ring failure neither moves a taker wrapping the call up nor queues the ended call', async () => {
    await available('t1');
    await queue.enqueue('c1', place(1, clock), '{}');
    await queue.connect('t1', 'c1');
    await queue.release('t1', 'c1', 30_000);
    await queue.requeue('c1', place(1, clock), { takerId: 't1', state: 'break', reason: 'missed' });
    expect(await queue.getTaker('t1')).toMatchObject({ state: 'wrap-up', callId: 'c1' });
    expect(await queue.waiting()).toEqual([]);
  });

  it('withdrawing a call only if it waits leaves an offer made a moment before in place', async () => {
    await available('t1');
    await queue.enqueue('c1', place(1, clock), '{}');
    expect(await queue.withdraw('c1', { ifWaiting: true })).toEqual({ wasWaiting: false, takerId: 't1' });
    expect(await queue.getTaker('t1')).toMatchObject({ state: 'reserved', callId: 'c1' });
    expect(await queue.offeredTaker('c1')).toBe('t1');
  });

  it('a taker released while still reserved (their answer never recorded) is available, not wrapping up', async () => {
    await available('t1');
    await queue.enqueue('c1', place(1, clock), '{}');
    expect(await queue.release('t1', 'c1', 30_000)).toEqual({ state: 'available', assignment: null });
    expect(await queue.offeredTaker('c1')).toBeNull();
  });
});
