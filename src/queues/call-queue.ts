import type { Redis } from 'ioredis';
import { DISPATCH, ENQUEUE, REQUEUE, SET_TAKER_STATE, WITHDRAW } from './lua-scripts.ts';
import { RedisScript } from './redis-script.ts';
import type { TakerState } from './taker-state.ts';

/** A waiting call matched with a free call taker: the taker is now `reserved` for it. */
export interface Assignment {
  callId: string;
  takerId: string;
  /** The call's place in the queue, kept so a failed offer puts it back where it was. */
  score: number;
  endpoint: string;
}

export interface TakerPresence {
  takerId: string;
  state: TakerState;
  endpoint: string;
  callId: string | null;
  since: number;
}

/** Queue order: strict priority (0 most urgent), then arrival. */
export function queueScore(priority: number, enqueuedAtMs: number): number {
  return priority * 1e13 + enqueuedAtMs;
}

const scripts = {
  enqueue: new RedisScript(ENQUEUE),
  dispatch: new RedisScript(DISPATCH),
  withdraw: new RedisScript(WITHDRAW),
  requeue: new RedisScript(REQUEUE),
  setTakerState: new RedisScript(SET_TAKER_STATE),
};

/**
 * Waiting calls, call takers' presence and live call snapshots in Redis. Every change that
 * pairs a call with a taker is one Lua script, so it is atomic across service instances.
 */
export class CallQueue {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #now: () => number;

  constructor(redis: Redis, prefix: string, now: () => number = Date.now) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#now = now;
  }

  /** Queues a call (idempotent: a call already waiting keeps its place) and tries to assign it. */
  async enqueue(callId: string, score: number, snapshot: string): Promise<Assignment | null> {
    return toAssignment(
      await scripts.enqueue.run(this.#redis, [this.#prefix, callId, score, this.#now(), snapshot]),
    );
  }

  /** Pairs the head call with the longest-idle available taker, if there are both. */
  async dispatch(): Promise<Assignment | null> {
    return toAssignment(await scripts.dispatch.run(this.#redis, [this.#prefix, this.#now()]));
  }

  /** Removes a call that no longer waits; frees the taker reserved for it. Returns that taker. */
  async withdraw(callId: string): Promise<string | null> {
    const takerId = await scripts.withdraw.run(this.#redis, [this.#prefix, callId, this.#now()]);
    return typeof takerId === 'string' ? takerId : null;
  }

  /** A failed offer: the call goes back to its old place, the taker to `takerState`. */
  async requeue(callId: string, score: number, takerId: string, takerState: TakerState): Promise<void> {
    await scripts.requeue.run(this.#redis, [this.#prefix, callId, score, takerId, takerState, this.#now()]);
  }

  /** Moves a taker; returns the previous state (null for a taker Redis did not know). */
  async setTakerState(
    takerId: string,
    state: TakerState,
    options: { endpoint?: string; callId?: string } = {},
  ): Promise<TakerState | null> {
    const previous = await scripts.setTakerState.run(this.#redis, [
      this.#prefix,
      takerId,
      state,
      this.#now(),
      options.endpoint ?? '',
      options.callId ?? '',
    ]);
    return typeof previous === 'string' ? (previous as TakerState) : null;
  }

  async getTaker(takerId: string): Promise<TakerPresence | null> {
    const fields = await this.#redis.hgetall(`${this.#prefix}:taker:${takerId}`);
    if (!fields.state) return null;
    return {
      takerId,
      state: fields.state as TakerState,
      endpoint: fields.endpoint ?? '',
      callId: fields.callId ? fields.callId : null,
      since: Number(fields.since ?? 0),
    };
  }

  async listTakers(): Promise<TakerPresence[]> {
    const ids = await this.#redis.smembers(`${this.#prefix}:takers`);
    const takers = await Promise.all(ids.sort().map((id) => this.getTaker(id)));
    return takers.filter((t): t is TakerPresence => t !== null);
  }

  /** Waiting calls, head first. */
  async waiting(): Promise<Array<{ callId: string; score: number }>> {
    const flat = await this.#redis.zrange(`${this.#prefix}:waiting`, '0', '-1', 'WITHSCORES');
    const calls: Array<{ callId: string; score: number }> = [];
    for (let i = 0; i < flat.length; i += 2) calls.push({ callId: flat[i]!, score: Number(flat[i + 1]) });
    return calls;
  }

  /** Keeps a live call's snapshot so any instance can re-adopt the call after a restart. */
  async saveSnapshot(callId: string, snapshot: string): Promise<void> {
    await this.#redis
      .multi()
      .set(`${this.#prefix}:call:${callId}`, snapshot)
      .sadd(`${this.#prefix}:calls`, callId)
      .exec();
  }

  async listSnapshots(): Promise<string[]> {
    const ids = await this.#redis.smembers(`${this.#prefix}:calls`);
    if (ids.length === 0) return [];
    const values = await this.#redis.mget(ids.map((id) => `${this.#prefix}:call:${id}`));
    return values.filter((v): v is string => v !== null);
  }

  /** The call ended and its record is durably queued: nothing to re-adopt any more. */
  async forget(callId: string): Promise<void> {
    await this.#redis
      .multi()
      .del(`${this.#prefix}:call:${callId}`)
      .srem(`${this.#prefix}:calls`, callId)
      .zrem(`${this.#prefix}:waiting`, callId)
      .hdel(`${this.#prefix}:offers`, callId)
      .exec();
  }
}

function toAssignment(reply: unknown): Assignment | null {
  if (!Array.isArray(reply)) return null;
  const [callId, takerId, score, endpoint] = reply as [string, string, string, string];
  return { callId, takerId, score: Number(score), endpoint };
}
