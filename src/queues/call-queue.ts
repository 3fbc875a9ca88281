import type { Redis } from 'ioredis';
import {
  CONNECT,
  DISPATCH,
  ENQUEUE,
  RECLAIM,
  RELEASE,
  REQUEUE,
  RESERVE_TAKER,
  SET_REACHABLE,
  SET_TAKER_STATE,
  WITHDRAW,
} from './lua-scripts.ts';
import { execAll, RedisScript } from './redis-script.ts';
import { isTakerState, type TakerState } from './taker-state.ts';

/** 0 urgent, 1 normal, 2 low: strict between levels, first come first served within one. */
export type PriorityLevel = 0 | 1 | 2;
export const PRIORITY_LEVELS = { urgent: 0, normal: 1, low: 2 } as const satisfies Record<
  string,
  PriorityLevel
>;
export type PriorityName = keyof typeof PRIORITY_LEVELS;

/** Skills a taker can have and a caller can choose in the menu. */
export const CALL_CATEGORIES = ['medical', 'fire', 'police', 'disaster', 'general'] as const;
export type CallCategory = (typeof CALL_CATEGORIES)[number];

/** A call's place in the queue: it keeps it through failed offers. */
export interface QueuePlace {
  level: PriorityLevel;
  /** Epoch ms the call joined the queue; order within a level. */
  enqueuedAt: number;
  /** The skill the call needs, if the caller chose one. */
  category: CallCategory | null;
}

/** A waiting call matched with a free call taker: the taker is now `reserved` for it. */
export interface Assignment {
  callId: string;
  takerId: string;
  endpoint: string;
  place: QueuePlace;
}

export interface TakerPresence {
  takerId: string;
  state: TakerState;
  reason: string | null;
  endpoint: string;
  skills: string[];
  callId: string | null;
  since: number;
  /** False when the softphone is known to be unreachable. */
  reachable: boolean;
}

export interface WaitingCall {
  callId: string;
  level: PriorityLevel;
  enqueuedAt: number;
  category: CallCategory | null;
}

export interface DistributionPolicy {
  /** A call is promoted one level per this many ms waited (0: never). */
  agingMs: number;
  /** A call that chose a category waits this long for a skilled taker, then takes anyone. */
  skillFallbackMs: number;
}

export interface CallQueueOptions {
  prefix: string;
  policy: DistributionPolicy;
  /** The instance id the leader lease must name for this queue to assign calls (fencing). */
  leaderId: string;
  now?: () => number;
}

/** Record counters outlive the call by a week: a late write from a dead instance still gets fresh numbers. */
const RECORD_COUNTER_TTL_SECONDS = 7 * 24 * 3600;

/** How many calls per level a dispatch looks at when skills hold the head back. */
const SCAN_PER_LEVEL = 50;

/**
 * Record numbers for the write of a call's ending, claimed by one writer. After a takeover two
 * instances can hold the same ended call (the one that ended it, kept through an outage, and the
 * one that adopted its snapshot); each writing it would put two endings on record.
 * ARGV: key (the call's record counters), eventCount, ttlSeconds, writer.
 * Returns { version, lastSeq }, or false (nil) when another writer has claimed the ending.
 */
const RESERVE_FINAL_SLOTS = new RedisScript(`
local key, count, ttl, writer = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local claimed = redis.call('HGET', key, 'final')
if claimed and claimed ~= writer then return false end
redis.call('HSET', key, 'final', writer)
local version = redis.call('HINCRBY', key, 'version', 1)
local lastSeq = redis.call('HINCRBY', key, 'seq', count)
redis.call('EXPIRE', key, ttl)
return { version, lastSeq }
`);

const scripts = {
  enqueue: new RedisScript(ENQUEUE),
  dispatch: new RedisScript(DISPATCH),
  withdraw: new RedisScript(WITHDRAW),
  requeue: new RedisScript(REQUEUE),
  connect: new RedisScript(CONNECT),
  reclaim: new RedisScript(RECLAIM),
  release: new RedisScript(RELEASE),
  setTakerState: new RedisScript(SET_TAKER_STATE),
  setReachable: new RedisScript(SET_REACHABLE),
  reserveTaker: new RedisScript(RESERVE_TAKER),
};

/**
 * Waiting calls, call takers' presence and live call snapshots in Redis. Every change that
 * pairs a call with a taker or moves a taker is one Lua script (see lua-scripts.ts), so it is
 * atomic across service instances and logged to the taker-events stream in the same step.
 */
export class CallQueue {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #policy: DistributionPolicy;
  readonly #leaderId: string;
  readonly #now: () => number;

  constructor(redis: Redis, options: CallQueueOptions) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#policy = options.policy;
    this.#leaderId = options.leaderId;
    this.#now = options.now ?? Date.now;
  }

  get prefix(): string {
    return this.#prefix;
  }

  /**
   * Queues a call (idempotent: a call already waiting keeps its place) and, unless `assign` is
   * false, tries to assign the best waiting call to a free taker.
   */
  async enqueue(
    callId: string,
    place: QueuePlace,
    snapshot: string,
    options: { assign?: boolean } = {},
  ): Promise<Assignment | null> {
    const [leader, ...policy] = this.#policyArgs();
    return toAssignment(
      await scripts.enqueue.run(this.#redis, [
        this.#prefix,
        callId,
        place.level,
        place.enqueuedAt,
        place.category ?? '',
        snapshot,
        this.#now(),
        // No instance is named '': the fencing check then refuses to assign.
        options.assign === false ? '' : leader!,
        ...policy,
      ]),
    );
  }

  /** Pairs the best waiting call with the best free taker, if there are both. */
  async dispatch(): Promise<Assignment | null> {
    return toAssignment(
      await scripts.dispatch.run(this.#redis, [this.#prefix, this.#now(), ...this.#policyArgs()]),
    );
  }

  /**
   * Takes a call out of the queue and frees a taker reserved for it. `wasWaiting` tells whether
   * this call took it out (false: a dispatch got there first and a taker is being offered it).
   * With `ifWaiting`, a call being offered is left as it is: the offer goes ahead.
   */
  async withdraw(
    callId: string,
    options: { ifWaiting?: boolean } = {},
  ): Promise<{ wasWaiting: boolean; takerId: string | null }> {
    const [removed, takerId] = (await scripts.withdraw.run(this.#redis, [
      this.#prefix,
      callId,
      this.#now(),
      options.ifWaiting ? '1' : '0',
    ])) as [number, string];
    return { wasWaiting: removed > 0, takerId: takerId === '' ? null : takerId };
  }

  /** A failed offer: the call goes back to its own place, the taker to `takerState`. */
  async requeue(
    callId: string,
    place: QueuePlace,
    taker: { takerId: string; state: TakerState; reason: string } | null,
  ): Promise<void> {
    await scripts.requeue.run(this.#redis, [
      this.#prefix,
      callId,
      place.level,
      place.enqueuedAt,
      place.category ?? '',
      taker?.takerId ?? '',
      taker?.state ?? '',
      taker?.reason ?? '',
      this.#now(),
    ]);
  }

  /**
   * For an adopted call that should be waiting: drops a reservation its dead instance made but
   * never rang, putting the call back in its place. Returns the taker released, if any.
   */
  async reclaim(callId: string, place: QueuePlace): Promise<string | null> {
    const takerId = await scripts.reclaim.run(this.#redis, [
      this.#prefix,
      callId,
      place.level,
      place.enqueuedAt,
      place.category ?? '',
      this.#now(),
    ]);
    return typeof takerId === 'string' && takerId !== '' ? takerId : null;
  }

  /** The taker reserved for a call whose phone is (to be) rung, if any. */
  async offeredTaker(callId: string): Promise<string | null> {
    return this.#redis.hget(`${this.#prefix}:offers`, callId);
  }

  /** The taker answered: on-call. False when the taker is no longer reserved for this call. */
  async connect(takerId: string, callId: string): Promise<boolean> {
    return (await scripts.connect.run(this.#redis, [this.#prefix, takerId, callId, this.#now()])) === 1;
  }

  /**
   * The call ended: the taker wraps up for `wrapUpMs`, then is available again by itself. A taker
   * available at once is given the best waiting call in the same step (`assignment`).
   */
  async release(
    takerId: string,
    callId: string,
    wrapUpMs: number,
    options: { assign?: boolean } = {},
  ): Promise<{ state: TakerState | null; assignment: Assignment | null }> {
    const now = this.#now();
    const [leader, ...policy] = this.#policyArgs();
    const [state, assignment] = (await scripts.release.run(this.#redis, [
      this.#prefix,
      takerId,
      callId,
      now,
      now + wrapUpMs,
      options.assign === false ? '' : leader!,
      ...policy,
    ])) as [string, unknown];
    return { state: asState(state), assignment: toAssignment(assignment) };
  }

  /**
   * Moves a taker from the desk. With `guard`, a taker being offered a call or on one is not
   * moved and the result says `busy`. With `holding`, only a taker still holding that call is
   * moved (work that ended for them must not move a taker who has moved on).
   */
  async setTakerState(
    takerId: string,
    state: TakerState,
    options: {
      reason?: string;
      endpoint?: string;
      skills?: readonly string[];
      guard?: boolean;
      holding?: string;
    } = {},
  ): Promise<{ busy: boolean; previous: TakerState | null; state: TakerState }> {
    const [first, second] = (await scripts.setTakerState.run(this.#redis, [
      this.#prefix,
      takerId,
      state,
      options.reason ?? '',
      this.#now(),
      options.endpoint ?? '',
      options.skills ? `,${options.skills.join(',')},` : '',
      options.guard ? '1' : '0',
      options.holding ?? '',
    ])) as [string, string];
    if (first === 'busy') return { busy: true, previous: asState(second), state: asState(second) ?? state };
    return { busy: false, previous: asState(first), state: asState(second) ?? state };
  }

  /**
   * Takes an available, reachable taker for work that is not a waiting call (a callback):
   * `reserved` for `callId` with `reason`, so no call is offered to them meanwhile; `connect`,
   * `release` and `requeue` move them on as for a call. False (nothing changed) otherwise.
   */
  async reserveTaker(
    takerId: string,
    callId: string,
    reason: string,
  ): Promise<{ reserved: boolean; state: TakerState | null }> {
    const [reserved, state] = (await scripts.reserveTaker.run(this.#redis, [
      this.#prefix,
      takerId,
      callId,
      reason,
      this.#now(),
    ])) as [number, string];
    return { reserved: reserved === 1, state: reserved === 1 ? 'reserved' : asState(state) };
  }

  /** The softphone behind `endpoint` became (un)reachable. Returns the taker it moved, if any. */
  async setReachable(
    endpoint: string,
    reachable: boolean,
  ): Promise<{ takerId: string; previous: TakerState | null; state: TakerState | null } | null> {
    const reply = await scripts.setReachable.run(this.#redis, [
      this.#prefix,
      endpoint,
      reachable ? '1' : '0',
      this.#now(),
    ]);
    if (!Array.isArray(reply)) return null;
    const [takerId, previous, state] = reply as [string, string, string];
    return { takerId, previous: asState(previous), state: asState(state) };
  }

  async getTaker(takerId: string): Promise<TakerPresence | null> {
    const fields = await this.#redis.hgetall(`${this.#prefix}:taker:${takerId}`);
    const state = fields.state;
    if (!state || !isTakerState(state)) return null;
    return {
      takerId,
      state,
      reason: fields.reason ? fields.reason : null,
      endpoint: fields.endpoint ?? '',
      skills: (fields.skills ?? '').split(',').filter(Boolean),
      callId: fields.callId ? fields.callId : null,
      since: Number(fields.since ?? 0),
      reachable: fields.reachable !== '0',
    };
  }

  async listTakers(): Promise<TakerPresence[]> {
    const ids = await this.#redis.smembers(`${this.#prefix}:takers`);
    const takers = await Promise.all(ids.sort().map((id) => this.getTaker(id)));
    return takers.filter((t): t is TakerPresence => t !== null);
  }

  /** How many takers are logged in (any state but offline). */
  async loggedInCount(): Promise<number> {
    return this.#redis.scard(`${this.#prefix}:takers:logged-in`);
  }

  /** Waiting calls in queue order before ageing: level, then arrival. */
  async waiting(): Promise<WaitingCall[]> {
    const pipeline = this.#redis.pipeline();
    for (const level of [0, 1, 2] as const) {
      pipeline.zrange(`${this.#prefix}:waiting:${level}`, '0', '-1', 'WITHSCORES');
    }
    pipeline.hgetall(`${this.#prefix}:waiting:category`);
    const replies = await execAll(pipeline);
    const categories = (replies[3] ?? {}) as Record<string, string>;
    const calls: WaitingCall[] = [];
    for (const level of [0, 1, 2] as const) {
      const flat = (replies[level] ?? []) as string[];
      for (let i = 0; i < flat.length; i += 2) {
        const callId = flat[i]!;
        const category = categories[callId];
        calls.push({
          callId,
          level,
          enqueuedAt: Number(flat[i + 1]),
          category: category ? (category as CallCategory) : null,
        });
      }
    }
    return calls;
  }

  /** 1-based place of a waiting call, counting more urgent levels first (null: not waiting). */
  async positionOf(callId: string): Promise<number | null> {
    const pipeline = this.#redis.pipeline();
    for (const level of [0, 1, 2]) {
      pipeline.zrank(`${this.#prefix}:waiting:${level}`, callId);
      pipeline.zcard(`${this.#prefix}:waiting:${level}`);
    }
    const replies = (await execAll(pipeline)) as Array<number | null>;
    let ahead = 0;
    for (let level = 0; level < 3; level++) {
      const rank = replies[level * 2];
      if (rank !== null && rank !== undefined) return ahead + rank + 1;
      ahead += replies[level * 2 + 1] ?? 0;
    }
    return null;
  }

  /**
   * Reserves the next record version and `eventCount` event sequence numbers of a call. Kept in
   * Redis, not in the process, so an instance that adopts a call can never reuse a number the
   * previous owner wrote (a reused version or seq would be silently ignored by Postgres).
   * With `finalWriter`, for the write of the call's ending: null when another writer has claimed it.
   */
  reserveRecordSlots(callId: string, eventCount: number): Promise<{ version: number; firstSeq: number }>;
  reserveRecordSlots(
    callId: string,
    eventCount: number,
    options: { finalWriter?: string },
  ): Promise<{ version: number; firstSeq: number } | null>;
  async reserveRecordSlots(
    callId: string,
    eventCount: number,
    options: { finalWriter?: string } = {},
  ): Promise<{ version: number; firstSeq: number } | null> {
    const key = `${this.#prefix}:callrec:${callId}`;
    let replies: unknown[];
    if (options.finalWriter === undefined) {
      replies = await execAll(
        this.#redis
          .multi()
          .hincrby(key, 'version', 1)
          .hincrby(key, 'seq', eventCount)
          .expire(key, RECORD_COUNTER_TTL_SECONDS),
      );
    } else {
      const reply = await RESERVE_FINAL_SLOTS.run(this.#redis, [
        key,
        eventCount,
        RECORD_COUNTER_TTL_SECONDS,
        options.finalWriter,
      ]);
      if (!Array.isArray(reply)) return null;
      replies = reply;
    }
    const version = Number(replies[0]);
    const lastSeq = Number(replies[1]);
    if (!Number.isInteger(version) || !Number.isInteger(lastSeq)) {
      throw new Error(`could not reserve record numbers for call ${callId}`);
    }
    return { version, firstSeq: lastSeq - eventCount + 1 };
  }

  /** Keeps a live call's snapshot so any instance can re-adopt the call after a restart. */
  async saveSnapshot(callId: string, snapshot: string): Promise<void> {
    await execAll(
      this.#redis
        .multi()
        .set(`${this.#prefix}:call:${callId}`, snapshot)
        .sadd(`${this.#prefix}:calls`, callId),
    );
  }

  /** One live call's snapshot, if the call is live. */
  async getSnapshot(callId: string): Promise<string | null> {
    return this.#redis.get(`${this.#prefix}:call:${callId}`);
  }

  /**
   * The startup time of the Asterisk the live calls were last reconciled against (null before
   * the first reconciliation). Another value now means Asterisk restarted and their channels died.
   */
  async reconciledAsteriskStartup(): Promise<string | null> {
    return this.#redis.get(`${this.#prefix}:asterisk-startup`);
  }

  async setReconciledAsteriskStartup(startup: string): Promise<void> {
    await this.#redis.set(`${this.#prefix}:asterisk-startup`, startup);
  }

  async listSnapshots(): Promise<string[]> {
    const ids = await this.#redis.smembers(`${this.#prefix}:calls`);
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map((id) => `${this.#prefix}:call:${id}`));
    return values.filter((v): v is string => v !== null);
  }

  /** The call ended and its record is durably queued: nothing to re-adopt any more. */
  async forget(callId: string): Promise<void> {
    const multi = this.#redis
      .multi()
      .del(`${this.#prefix}:call:${callId}`)
      .srem(`${this.#prefix}:calls`, callId)
      .hdel(`${this.#prefix}:offers`, callId)
      .hdel(`${this.#prefix}:waiting:category`, callId);
    for (const level of [0, 1, 2]) multi.zrem(`${this.#prefix}:waiting:${level}`, callId);
    await execAll(multi);
  }

  #policyArgs(): Array<string | number> {
    return [this.#leaderId, this.#policy.agingMs, this.#policy.skillFallbackMs, SCAN_PER_LEVEL];
  }
}

function asState(value: string | undefined): TakerState | null {
  return value && isTakerState(value) ? value : null;
}

function toAssignment(reply: unknown): Assignment | null {
  if (!Array.isArray(reply)) return null;
  const [callId, takerId, enqueuedAt, endpoint, level, category] = reply as string[];
  return {
    callId: callId!,
    takerId: takerId!,
    endpoint: endpoint ?? '',
    place: {
      level: Number(level) as PriorityLevel,
      enqueuedAt: Number(enqueuedAt),
      category: category ? (category as CallCategory) : null,
    },
  };
}
