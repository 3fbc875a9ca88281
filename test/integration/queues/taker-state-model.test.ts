import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Assignment,
  CallQueue,
  type PriorityLevel,
  type QueuePlace,
} from '../../../src/queues/call-queue.ts';
import {
  canTransition,
  DESK_STATES,
  type DeskState,
  TAKER_STATES,
  type TakerState,
} from '../../../src/queues/taker-state.ts';
import { testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

/**
 * Model-based test of the call takers' state machine as Redis runs it: random sequences of what
 * the call sessions, the desk, the softphone presence and the callback dialer do to the real
 * CallQueue (real Lua, real Redis), including duplicated and late operations, are run against a
 * small reference model. After every step the Redis state must equal the model's, and the
 * invariants hold on what Redis holds.
 */

const LEADER = 'instance-a';
const TAKERS = ['t1', 't2', 't3'] as const;
const CALLS = ['c1', 'c2', 'c3', 'c4', 'c5'] as const;
const WRAP_UP_MS = 5_000;
const HELD: readonly TakerState[] = ['reserved', 'on-call'];

type Failure = 'missed' | 'unreachable' | 'offer-error';

/**
 * One step of the world around the queue. `pick` chooses among the calls the step applies to
 * (those ringing a taker, talking, waiting...), resolved against the model when the step runs,
 * so most steps do something; the `late-*` steps name any call and taker, as a report that
 * arrives late or twice does.
 */
type Op =
  | { kind: 'arrive'; call: string; level: PriorityLevel; lag: number }
  | { kind: 'dispatch' }
  | { kind: 'ring-failed'; pick: number; failure: Failure }
  | { kind: 'answer'; pick: number; lost: boolean }
  | { kind: 'hang-up'; pick: number; wrapUp: boolean }
  | { kind: 'forget'; pick: number }
  | { kind: 'dropped-before-bridge'; pick: number }
  | { kind: 'overflow'; pick: number }
  | { kind: 'overflow-failed'; pick: number }
  | { kind: 'reclaim'; pick: number }
  | { kind: 'desk'; taker: string; state: DeskState; reason: string }
  | { kind: 'presence'; taker: string; reachable: boolean }
  | { kind: 'callback-claim'; taker: string }
  | { kind: 'callback-answer'; taker: string }
  | { kind: 'callback-end'; taker: string; wrapUp: boolean }
  | { kind: 'callback-missed'; taker: string }
  | { kind: 'tick'; ms: number }
  | { kind: 'late-requeue'; call: string; taker: string; failure: Failure }
  | { kind: 'late-connect'; call: string; taker: string }
  | { kind: 'late-withdraw'; call: string }
  | { kind: 'late-release'; pick: number; wrapUp: boolean };

const call = fc.constantFrom(...CALLS);
const pick = fc.nat(CALLS.length - 1);
const taker = fc.constantFrom(...TAKERS);
const failure = fc.constantFrom<Failure>('missed', 'unreachable', 'offer-error');
const wrapUp = fc.boolean();
const op = <K extends Op['kind'], R extends Record<string, unknown>>(
  weight: number,
  kind: K,
  fields: { [F in keyof R]: fc.Arbitrary<R[F]> },
) => ({ weight, arbitrary: fc.record({ kind: fc.constant(kind), ...fields }) as fc.Arbitrary<Op> });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  op(4, 'arrive', {
    call,
    level: fc.constantFrom<PriorityLevel>(0, 1, 2),
    lag: fc.integer({ min: 0, max: 3 }),
  }),
  op(3, 'dispatch', {}),
  op(3, 'ring-failed', { pick, failure }),
  // `lost`: the session heard the answer, but its connect never reached Redis (a blip).
  op(4, 'answer', {
    pick,
    lost: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  }),
  op(4, 'hang-up', { pick, wrapUp }),
  op(2, 'forget', { pick }),
  op(1, 'dropped-before-bridge', { pick }),
  op(1, 'overflow', { pick }),
  op(1, 'overflow-failed', { pick }),
  op(1, 'reclaim', { pick }),
  op(4, 'desk', {
    taker,
    // Mostly back to work: takers on break or logged out take no calls, and calls are the point.
    state: fc.oneof(
      { weight: 3, arbitrary: fc.constant<DeskState>('available') },
      { weight: 1, arbitrary: fc.constantFrom<DeskState>(...DESK_STATES) },
    ),
    reason: fc.constantFrom('', 'meal'),
  }),
  op(2, 'presence', { taker, reachable: fc.boolean() }),
  op(1, 'callback-claim', { taker }),
  op(2, 'callback-answer', { taker }),
  op(2, 'callback-end', { taker, wrapUp }),
  op(1, 'callback-missed', { taker }),
  op(2, 'tick', { ms: fc.oneof(fc.integer({ min: 1, max: 50 }), fc.constant(WRAP_UP_MS)) }),
  op(1, 'late-requeue', { call, taker, failure }),
  op(1, 'late-connect', { call, taker }),
  op(1, 'late-withdraw', { call }),
  op(1, 'late-release', { pick, wrapUp }),
);

/** Steps that change something in nearly every run: a generator that stops reaching them fails. */
const COMMON_STEPS: Op['kind'][] = [
  'arrive',
  'dispatch',
  'answer',
  'ring-failed',
  'hang-up',
  'forget',
  'dropped-before-bridge',
  'overflow',
  'reclaim',
  'desk',
  'presence',
  'callback-claim',
];

interface ModelTaker {
  /** False until the desk first wrote the taker (Redis has no hash for them). */
  seen: boolean;
  state: TakerState;
  reason: string;
  callId: string;
  reachable: boolean;
  endpointKnown: boolean;
  wrapUntil: number;
  idleSince: number;
}

interface TakerEvent {
  taker: string;
  previous: string;
  state: string;
  reason: string;
  call: string;
}

/** The reference: what Redis should hold, updated as each CallQueue method should. */
class Model {
  now = 1_800_000_000_000;
  readonly takers = new Map<string, ModelTaker>(
    TAKERS.map((id) => [
      id,
      {
        seen: false,
        state: 'offline',
        reason: '',
        callId: '',
        reachable: true,
        endpointKnown: false,
        wrapUntil: 0,
        idleSince: 0,
      },
    ]),
  );
  readonly waiting = new Map<string, QueuePlace>();
  readonly offers = new Map<string, string>();
  /** Calls with a snapshot in Redis (arrived, not yet forgotten). */
  readonly live = new Set<string>();
  /** Bookkeeping of the world, not of Redis. */
  readonly places = new Map<string, QueuePlace>();
  readonly lastTaker = new Map<string, string>();
  readonly overflowing = new Set<string>();
  /** Calls whose caller hung up (or that were released), forgotten or not yet. */
  readonly ended = new Set<string>();
  /** Calls a session put through whose connect never reached Redis, with their taker. */
  readonly unconfirmed = new Map<string, string>();
  /** Live callbacks by the taker who claimed them. */
  readonly callbacks = new Map<string, string>();
  callbackSeq = 0;
  events: TakerEvent[] = [];

  taker(id: string): ModelTaker {
    return this.takers.get(id)!;
  }

  holderOf(callId: string, states: readonly TakerState[] = HELD): string | undefined {
    for (const [id, t] of this.takers) if (t.callId === callId && states.includes(t.state)) return id;
    return undefined;
  }

  move(id: string, state: TakerState, reason: string, callId: string, wrapUntil = 0): void {
    const t = this.taker(id);
    const previous = t.seen ? t.state : '';
    if (previous !== state || t.reason !== reason) {
      this.events.push({ taker: id, previous, state, reason, call: callId });
    }
    if (state === 'available' && previous !== 'available') t.idleSince = this.now;
    Object.assign(t, { seen: true, state, reason, callId, wrapUntil: state === 'wrap-up' ? wrapUntil : 0 });
  }

  waitingOrder(): string[] {
    return [...this.waiting.entries()]
      .sort(([a, pa], [b, pb]) => pa.level - pb.level || pa.enqueuedAt - pb.enqueuedAt || cmp(a, b))
      .map(([id]) => id);
  }

  availableOrder(): string[] {
    return [...this.takers.entries()]
      .filter(([, t]) => t.state === 'available')
      .sort(([a, ta], [b, tb]) => ta.idleSince - tb.idleSince || cmp(a, b))
      .map(([id]) => id);
  }

  assign(): Assignment | null {
    const due = [...this.takers.entries()]
      .filter(([, t]) => t.state === 'wrap-up' && t.wrapUntil <= this.now)
      .sort(([a, ta], [b, tb]) => ta.wrapUntil - tb.wrapUntil || cmp(a, b));
    for (const [id] of due) this.move(id, 'available', 'wrap-up-ended', '');
    const takerId = this.availableOrder()[0];
    const callId = this.waitingOrder()[0];
    if (!takerId || !callId) return null;
    const place = this.waiting.get(callId)!;
    this.waiting.delete(callId);
    this.move(takerId, 'reserved', '', callId);
    this.offers.set(callId, takerId);
    this.lastTaker.set(callId, takerId);
    return { callId, takerId, endpoint: `PJSIP/${takerId}`, place };
  }

  enqueue(callId: string, place: QueuePlace, assign: boolean): Assignment | null {
    this.live.add(callId);
    if (!this.offers.has(callId) && !this.waiting.has(callId)) this.waiting.set(callId, place);
    return assign ? this.assign() : null;
  }

  withdraw(
    callId: string,
    options: { ifWaiting?: boolean } = {},
  ): { wasWaiting: boolean; takerId: string | null } {
    const wasWaiting = this.waiting.delete(callId);
    const takerId = this.offers.get(callId) ?? null;
    if (options.ifWaiting && !wasWaiting) return { wasWaiting, takerId };
    this.offers.delete(callId);
    if (takerId) {
      const t = this.taker(takerId);
      if (t.state === 'reserved' && t.callId === callId)
        this.move(takerId, 'available', 'offer-withdrawn', '');
    }
    return { wasWaiting, takerId };
  }

  /** A failed offer: only the taker who holds the call can hand it back (a late one changes nothing). */
  requeue(
    callId: string,
    place: QueuePlace,
    to: { takerId: string; state: TakerState; reason: string } | null,
  ) {
    const offered = this.offers.get(callId);
    if (to) {
      const t = this.taker(to.takerId);
      if (t.callId !== callId || !HELD.includes(t.state)) return;
      if (offered !== undefined && offered !== to.takerId) return;
    } else if (offered !== undefined) {
      return;
    }
    this.offers.delete(callId);
    if (this.live.has(callId)) this.waiting.set(callId, place);
    if (to) this.move(to.takerId, to.state, to.reason, '');
  }

  /** The taker answered: only a taker reserved for (or already on) the call. */
  connect(takerId: string, callId: string): boolean {
    const t = this.taker(takerId);
    if (t.callId !== callId || !HELD.includes(t.state)) return false;
    this.offers.delete(callId);
    this.move(takerId, 'on-call', '', callId);
    return true;
  }

  release(takerId: string, callId: string, wrapUpMs: number, assign: boolean) {
    const t = this.taker(takerId);
    if (t.callId !== callId || !t.seen) return { state: null, assignment: null };
    // Released already: the wrap-up runs on, not anew (nor is it cut short).
    if (t.state === 'wrap-up') return { state: 'wrap-up', assignment: null };
    // Still reserved (the answer never recorded): the offer ends, and there is no wrap-up.
    if (t.state === 'reserved' && this.offers.get(callId) === takerId) this.offers.delete(callId);
    if (wrapUpMs > 0 && t.state !== 'reserved') {
      this.move(takerId, 'wrap-up', '', callId, this.now + wrapUpMs);
      return { state: 'wrap-up', assignment: null };
    }
    this.move(takerId, 'available', '', '');
    return { state: 'available', assignment: assign ? this.assign() : null };
  }

  setTakerState(takerId: string, requested: TakerState, reason: string, endpoint: boolean, guard: boolean) {
    const t = this.taker(takerId);
    const previous = t.seen ? t.state : null;
    if (guard && previous && HELD.includes(previous)) return { busy: true, previous, state: previous };
    if (endpoint) t.endpointKnown = true;
    let state = requested;
    let why = reason;
    if (state === 'available' && !t.reachable) [state, why] = ['break', 'unreachable'];
    const callId = ['reserved', 'on-call', 'wrap-up'].includes(state) ? t.callId : '';
    this.move(takerId, state, why, callId, this.now);
    return { busy: false, previous, state };
  }

  setReachable(takerId: string, reachable: boolean) {
    const t = this.taker(takerId);
    if (!t.endpointKnown) return null;
    t.reachable = reachable;
    const previous = t.state;
    if (!reachable && (previous === 'available' || previous === 'wrap-up')) {
      this.move(takerId, 'break', 'unreachable', '');
    } else if (reachable && previous === 'break' && t.reason === 'unreachable') {
      this.move(takerId, 'available', 'reachable', '');
    }
    return { takerId, previous, state: t.state };
  }

  reserveTaker(takerId: string, callId: string) {
    const t = this.taker(takerId);
    if (t.state !== 'available' || !t.reachable) return { reserved: false, state: t.state };
    this.move(takerId, 'reserved', 'callback', callId);
    return { reserved: true, state: 'reserved' as const };
  }

  reclaim(callId: string, place: QueuePlace): string | null {
    const takerId = this.offers.get(callId);
    if (!takerId) return null;
    this.offers.delete(callId);
    this.waiting.set(callId, place);
    const t = this.taker(takerId);
    if (t.state === 'reserved' && t.callId === callId) this.move(takerId, 'available', 'offer-abandoned', '');
    return takerId;
  }

  forget(callId: string): void {
    this.live.delete(callId);
    this.offers.delete(callId);
    this.waiting.delete(callId);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Runs one step on the model and on the real queue, and compares what each answered. */
async function step(op: Op, model: Model, queue: CallQueue): Promise<void> {
  const sorted = (ids: Iterable<string>) => [...ids].sort(cmp);
  const choose = (ids: Iterable<string>) => {
    const list = sorted(ids);
    return 'pick' in op && list.length > 0 ? list[op.pick % list.length] : undefined;
  };
  // Calls ringing a taker, as their sessions see them (not those put through already).
  const ringing = () => [...model.offers.keys()].filter((c) => !model.unconfirmed.has(c));
  /** The taker a session believes its call is talking to. */
  const talkingTo = (c: string) => model.unconfirmed.get(c) ?? model.holderOf(c, ['on-call']);
  const talking = () => CALLS.filter((c) => talkingTo(c) && model.live.has(c) && !model.ended.has(c));
  const offerFailure = (f: Failure) =>
    f === 'offer-error'
      ? { state: 'available' as const, reason: 'offer-error' }
      : { state: 'break' as const, reason: f };
  const requeue = async (
    callId: string,
    to: { takerId: string; state: TakerState; reason: string } | null,
  ) => {
    const place = model.places.get(callId);
    if (!place) return;
    await queue.requeue(callId, place, to);
    model.requeue(callId, place, to);
  };
  switch (op.kind) {
    case 'arrive': {
      let place = model.places.get(op.call);
      if (!place) {
        place = { level: op.level, enqueuedAt: model.now - op.lag, category: null };
        model.places.set(op.call, place);
      } else if (!model.waiting.has(op.call) && !model.offers.has(op.call)) {
        return;
      }
      // A first arrival, or a waiting call queued again (it keeps its place).
      expect(await queue.enqueue(op.call, place, '{}')).toEqual(model.enqueue(op.call, place, true));
      return;
    }
    case 'dispatch':
      expect(await queue.dispatch()).toEqual(model.assign());
      return;
    case 'ring-failed': {
      const callId = choose(ringing());
      if (callId) await requeue(callId, { takerId: model.offers.get(callId)!, ...offerFailure(op.failure) });
      return;
    }
    case 'late-requeue':
      await requeue(op.call, { takerId: op.taker, ...offerFailure(op.failure) });
      return;
    case 'answer': {
      const callId = choose(ringing());
      if (!callId) return;
      const takerId = model.offers.get(callId)!;
      if (op.lost) {
        model.unconfirmed.set(callId, takerId);
        return;
      }
      expect(await queue.connect(takerId, callId)).toBe(model.connect(takerId, callId));
      return;
    }
    case 'late-connect':
      expect(await queue.connect(op.taker, op.call)).toBe(model.connect(op.taker, op.call));
      return;
    case 'hang-up': {
      // What a call session does when its call ends: a taker talking is released, else the call withdrawn.
      const callId = choose([...model.places.keys()].filter((c) => !model.ended.has(c)));
      if (!callId) return;
      model.ended.add(callId);
      model.overflowing.delete(callId);
      const onCall = talkingTo(callId);
      model.unconfirmed.delete(callId);
      if (onCall) {
        const wrapUpMs = op.wrapUp ? WRAP_UP_MS : 0;
        expect(await queue.release(onCall, callId, wrapUpMs)).toEqual(
          model.release(onCall, callId, wrapUpMs, true),
        );
      } else {
        expect(await queue.withdraw(callId)).toEqual(model.withdraw(callId));
      }
      return;
    }
    case 'late-withdraw':
      if (!model.ended.has(op.call)) return;
      expect(await queue.withdraw(op.call)).toEqual(model.withdraw(op.call));
      return;
    case 'late-release': {
      // The end of a call reported twice (or late): its taker is released again.
      const callId = choose([...model.ended].filter((c) => model.lastTaker.has(c)));
      if (!callId) return;
      const takerId = model.lastTaker.get(callId)!;
      const wrapUpMs = op.wrapUp ? WRAP_UP_MS : 0;
      expect(await queue.release(takerId, callId, wrapUpMs)).toEqual(
        model.release(takerId, callId, wrapUpMs, true),
      );
      return;
    }
    case 'forget': {
      const callId = choose([...model.live].filter((c) => model.ended.has(c)));
      if (!callId) return;
      await queue.forget(callId);
      model.forget(callId);
      return;
    }
    case 'dropped-before-bridge': {
      const callId = choose(talking());
      if (!callId) return;
      const takerId = talkingTo(callId)!;
      model.unconfirmed.delete(callId);
      await requeue(callId, { takerId, state: 'break', reason: 'unreachable' });
      return;
    }
    case 'overflow': {
      // A session's overflow (or silence) check of a call it believes waiting: a dispatch may have
      // offered it a moment ago, the assignment not yet delivered. Only a waiting call is taken
      // out; an offer goes ahead (the session rings the taker once the assignment arrives).
      const callId = choose([...model.waiting.keys(), ...ringing()]);
      if (!callId) return;
      const expected = model.withdraw(callId, { ifWaiting: true });
      expect(await queue.withdraw(callId, { ifWaiting: true })).toEqual(expected);
      if (expected.wasWaiting) model.overflowing.add(callId);
      return;
    }
    case 'overflow-failed': {
      const callId = choose(model.overflowing);
      if (!callId) return;
      model.overflowing.delete(callId);
      await requeue(callId, null);
      return;
    }
    case 'reclaim': {
      // Another instance adopts a call its snapshot says is waiting, and queues it again.
      const callId = choose([...model.waiting.keys(), ...ringing()]);
      if (!callId) return;
      const place = model.places.get(callId)!;
      expect(await queue.reclaim(callId, place)).toBe(model.reclaim(callId, place));
      expect(await queue.enqueue(callId, place, '{}', { assign: false })).toEqual(
        model.enqueue(callId, place, false),
      );
      return;
    }
    case 'desk':
      expect(
        await queue.setTakerState(op.taker, op.state, {
          reason: op.reason,
          endpoint: `PJSIP/${op.taker}`,
          skills: ['general'],
          guard: true,
        }),
      ).toEqual(model.setTakerState(op.taker, op.state, op.reason, true, true));
      return;
    case 'presence':
      expect(await queue.setReachable(`PJSIP/${op.taker}`, op.reachable)).toEqual(
        model.setReachable(op.taker, op.reachable),
      );
      return;
    case 'callback-claim': {
      const callbackId = `callback-${++model.callbackSeq}`;
      const expected = model.reserveTaker(op.taker, callbackId);
      expect(await queue.reserveTaker(op.taker, callbackId, 'callback')).toEqual(expected);
      if (expected.reserved) model.callbacks.set(op.taker, callbackId);
      return;
    }
    case 'callback-answer': {
      const callbackId = model.callbacks.get(op.taker);
      if (!callbackId) return;
      expect(await queue.connect(op.taker, callbackId)).toBe(model.connect(op.taker, callbackId));
      return;
    }
    case 'callback-end': {
      const callbackId = model.callbacks.get(op.taker);
      if (!callbackId) return;
      model.callbacks.delete(op.taker);
      // Never answered: back to available at once; after a conversation, wrap-up.
      const wrapUpMs = op.wrapUp && model.taker(op.taker).state === 'on-call' ? WRAP_UP_MS : 0;
      expect(await queue.release(op.taker, callbackId, wrapUpMs, { assign: false })).toEqual(
        model.release(op.taker, callbackId, wrapUpMs, false),
      );
      return;
    }
    case 'callback-missed': {
      // The taker did not answer their own callback: the dialer puts them on break.
      const callbackId = model.callbacks.get(op.taker);
      const t = model.taker(op.taker);
      if (!callbackId || t.state !== 'reserved' || t.callId !== callbackId) return;
      model.callbacks.delete(op.taker);
      expect(await queue.setTakerState(op.taker, 'break', { reason: 'missed' })).toEqual(
        model.setTakerState(op.taker, 'break', 'missed', false, false),
      );
      return;
    }
    case 'tick':
      model.now += op.ms;
      return;
  }
}

interface RedisView {
  takers: Record<string, { state: string; reason: string; callId: string } | null>;
  available: Array<[string, number]>;
  wrapUp: Array<[string, number]>;
  loggedIn: string[];
  offers: Array<[string, string]>;
  waiting: Array<[string, number, number]>;
  live: string[];
}

function pairs(flat: string[]): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

/** Everything the queue keeps about takers and calls, and the taker events since the last read. */
async function readRedis(redis: Redis, p: string): Promise<{ view: RedisView; events: TakerEvent[] }> {
  const batch = redis.pipeline();
  for (const id of TAKERS) batch.hgetall(`${p}:taker:${id}`);
  batch.zrange(`${p}:takers:available`, '0', '-1', 'WITHSCORES');
  batch.zrange(`${p}:takers:wrapup`, '0', '-1', 'WITHSCORES');
  batch.smembers(`${p}:takers:logged-in`);
  batch.hgetall(`${p}:offers`);
  for (const level of [0, 1, 2]) batch.zrange(`${p}:waiting:${level}`, '0', '-1', 'WITHSCORES');
  batch.smembers(`${p}:calls`);
  batch.xrange(`${p}:taker-events`, '-', '+');
  batch.del(`${p}:taker-events`);
  const replies = (await batch.exec())!.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
  let i = 0;
  const takers: RedisView['takers'] = {};
  for (const id of TAKERS) {
    const h = replies[i++] as Record<string, string>;
    takers[id] = h.state ? { state: h.state, reason: h.reason ?? '', callId: h.callId ?? '' } : null;
  }
  const available = pairs(replies[i++] as string[]);
  const wrapUp = pairs(replies[i++] as string[]);
  const loggedIn = (replies[i++] as string[]).sort();
  const offers = Object.entries(replies[i++] as Record<string, string>).sort(([a], [b]) => cmp(a, b));
  const waiting: Array<[string, number, number]> = [];
  for (const level of [0, 1, 2]) {
    for (const [id, at] of pairs(replies[i++] as string[])) waiting.push([id, level, at]);
  }
  const live = (replies[i++] as string[]).sort();
  const events = (replies[i++] as Array<[string, string[]]>).map(([, fields]) => {
    const f: Record<string, string> = {};
    for (let k = 0; k < fields.length; k += 2) f[fields[k]!] = fields[k + 1]!;
    return { taker: f.taker!, previous: f.previous!, state: f.state!, reason: f.reason!, call: f.call! };
  });
  return { view: { takers, available, wrapUp, loggedIn, offers, waiting, live }, events };
}

function expectedView(model: Model): RedisView {
  const takers: RedisView['takers'] = {};
  for (const [id, t] of model.takers) {
    takers[id] = t.seen ? { state: t.state, reason: t.reason, callId: t.callId } : null;
  }
  const entries = [...model.takers.entries()];
  return {
    takers,
    available: model.availableOrder().map((id) => [id, model.taker(id).idleSince]),
    wrapUp: entries
      .filter(([, t]) => t.state === 'wrap-up')
      .sort(([a, ta], [b, tb]) => ta.wrapUntil - tb.wrapUntil || cmp(a, b))
      .map(([id, t]) => [id, t.wrapUntil]),
    loggedIn: entries
      .filter(([, t]) => t.seen && t.state !== 'offline')
      .map(([id]) => id)
      .sort(),
    offers: [...model.offers.entries()].sort(([a], [b]) => cmp(a, b)),
    waiting: model.waitingOrder().map((id) => {
      const place = model.waiting.get(id)!;
      return [id, place.level, place.enqueuedAt];
    }),
    live: [...model.live].sort(),
  };
}

/** The properties themselves, on what Redis holds (and the world the model tracks around it). */
function checkInvariants(view: RedisView, events: TakerEvent[], model: Model): void {
  for (const e of events) {
    expect(TAKER_STATES, `event ${JSON.stringify(e)}`).toContain(e.state);
    const from = (e.previous || 'offline') as TakerState;
    expect(canTransition(from, e.state as TakerState), `illegal move ${JSON.stringify(e)}`).toBe(true);
  }
  const holders = new Map<string, string>();
  for (const [id, t] of Object.entries(view.takers)) {
    if (!t) continue;
    expect(TAKER_STATES, `${id}`).toContain(t.state);
    const state = t.state as TakerState;
    // Only a taker with a call (ringing, talking, wrapping it up) names one.
    expect(t.callId !== '', `${id} ${state} ${t.callId}`).toBe(
      ['reserved', 'on-call', 'wrap-up'].includes(state),
    );
    if (!HELD.includes(state)) continue;
    // Each call holds at most one taker.
    expect(holders.get(t.callId), `${t.callId} held by ${holders.get(t.callId)} and ${id}`).toBeUndefined();
    holders.set(t.callId, id);
    // No leak: a taker held for a call is held for a live call (or a live callback).
    const callback = model.callbacks.get(id) === t.callId;
    const live = view.live.includes(t.callId) && !model.ended.has(t.callId);
    expect(callback || live, `${id} ${state} for ended call ${t.callId}`).toBe(true);
    // A taker ringing for a 112 call is the one its offer names (so withdrawing the call frees them).
    if (state === 'reserved' && !callback) {
      expect(view.offers.find(([c]) => c === t.callId)?.[1], `${id} reserved, no offer`).toBe(id);
    }
  }
  const offeredTakers = view.offers.map(([, id]) => id);
  expect(new Set(offeredTakers).size, 'a taker offered two calls').toBe(offeredTakers.length);
  for (const [callId, id] of view.offers) {
    expect(view.takers[id], `offer of ${callId} to ${id}`).toMatchObject({ state: 'reserved', callId });
  }
  const waitingIds = view.waiting.map(([id]) => id);
  expect(new Set(waitingIds).size, 'a call waiting twice').toBe(waitingIds.length);
  for (const id of waitingIds) {
    // No call is both waiting and offered (or talking).
    expect(holders.has(id) || view.offers.some(([c]) => c === id), `${id} waiting and held`).toBe(false);
    // A call waits at the place it arrived with.
    const place = model.places.get(id)!;
    expect(view.waiting.find(([c]) => c === id)?.slice(1)).toEqual([place.level, place.enqueuedAt]);
  }
  // No call is lost: a live call nobody ended is waiting, ringing a taker, talking, or overflowing.
  for (const id of view.live) {
    if (model.ended.has(id) || model.overflowing.has(id)) continue;
    expect(waitingIds.includes(id) || holders.has(id), `${id} neither waiting nor with a taker`).toBe(true);
  }
}

let redis: Redis;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterAll(() => {
  redis.disconnect();
});

async function deletePrefix(p: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${p}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

describe('the call takers state machine in Redis, against a model', () => {
  it('keeps every taker in a legal state, holding at most one live call, through any sequence', async () => {
    // What the runs exercised, so a generator that stopped reaching the interesting states fails.
    const effective = new Set<Op['kind']>();
    const reached = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }), async (ops) => {
        const prefix = testRedisPrefix('taker-model');
        const model = new Model();
        await redis.set(`${prefix}:leader`, LEADER);
        const queue = new CallQueue(redis, {
          prefix,
          leaderId: LEADER,
          policy: { agingMs: 0, skillFallbackMs: 0 },
          now: () => model.now,
        });
        try {
          // The shift starts with everybody logged in; the steps log them out as they go.
          const shift = TAKERS.map((id): Op => ({ kind: 'desk', taker: id, state: 'available', reason: '' }));
          for (const op of [...shift, ...ops]) {
            model.events = [];
            const before = JSON.stringify(expectedView(model));
            await step(op, model, queue);
            const { view, events } = await readRedis(redis, prefix);
            checkInvariants(view, events, model);
            expect(view).toEqual(expectedView(model));
            expect(events).toEqual(model.events);
            if (events.length > 0 || JSON.stringify(view) !== before) effective.add(op.kind);
            for (const e of events) reached.add(e.state);
          }
          expect(await queue.loggedInCount()).toBe(
            [...model.takers.values()].filter((t) => t.seen && t.state !== 'offline').length,
          );
        } finally {
          await deletePrefix(prefix);
        }
      }),
      { numRuns: 80 },
    );
    expect([...reached].sort()).toEqual([...TAKER_STATES].sort());
    for (const kind of COMMON_STEPS) expect(effective, kind).toContain(kind);
  }, 120_000);
});
