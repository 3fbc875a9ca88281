import type { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';
import { withTimeout } from '../with-timeout.ts';
import { RedisScript } from './redis-script.ts';

/**
 * Asterisk gives an application's events to one WebSocket only (a second connection replaces
 * the first with ApplicationReplaced), so exactly one instance owns call control at a time.
 * It holds a lease in Redis, renewed well within its time to live; an instance that dies loses
 * it within `ttlMs` and another takes over. The lease doubles as a fencing token: the queue's
 * assigning scripts refuse an instance that no longer holds it.
 */
export interface LeaderLeaseOptions {
  redis: Redis;
  prefix: string;
  instanceId: string;
  ttlMs: number;
  logger: Logger;
}

/** Takes the lease if free, extends it if ours. Returns 1 when we hold it afterwards. */
const ACQUIRE_OR_RENEW = new RedisScript(`
local key, id, ttl = ARGV[1], ARGV[2], ARGV[3]
local holder = redis.call('GET', key)
if holder == id then redis.call('PEXPIRE', key, ttl) return 1 end
if not holder then redis.call('SET', key, id, 'PX', ttl) return 1 end
return 0
`);

const RELEASE = new RedisScript(`
if redis.call('GET', ARGV[1]) == ARGV[2] then return redis.call('DEL', ARGV[1]) end
return 0
`);

/**
 * Why leadership changed: `confirmed` (taken or kept), `taken` (another instance holds it),
 * `unreachable` (Redis did not answer within half the time to live), `stopped` (stop/abandon).
 */
export type LeadershipChange = 'confirmed' | 'taken' | 'unreachable' | 'stopped';

export type LeadershipListener = (leading: boolean, why: LeadershipChange) => void;

export class LeaderLease {
  readonly #options: LeaderLeaseOptions;
  readonly #key: string;
  readonly #listeners = new Set<LeadershipListener>();
  #leading = false;
  /** When we last confirmed the lease; past `ttlMs` we must assume it lapsed. */
  #confirmedAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;
  #abandoned = false;
  /**
   * The last request went unanswered in time. Redis may still run it late, so a renewal sent now
   * could keep extending a lease this instance no longer acts on and keep a standby out for as
   * long as Redis stays slow: until Redis answers a PING in time, nothing is asked of the lease.
   */
  #unanswered = false;

  constructor(options: LeaderLeaseOptions) {
    this.#options = options;
    this.#key = `${options.prefix}:leader`;
  }

  get leading(): boolean {
    return this.#leading;
  }

  onChange(listener: LeadershipListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Starts contending; the first attempt is made before this resolves. */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    await this.#tick();
  }

  /** Stops renewing and gives the lease up at once, so a standby takes over without waiting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (this.#leading) {
      this.#set(false, 'stopped');
      await RELEASE.run(this.#options.redis, [this.#key, this.#options.instanceId]).catch(() => undefined);
    }
  }

  /**
   * Stops renewing without releasing, as a crashed process would: the lease lapses after its
   * time to live. For failover tests.
   */
  abandon(): void {
    this.#abandoned = true;
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#set(false, 'stopped');
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    const { redis, instanceId, ttlMs, logger } = this.#options;
    const bound = Math.max(50, Math.floor(ttlMs / 3));
    try {
      if (this.#unanswered) {
        await withTimeout(redis.ping(), bound, () => new Error('Redis still slower than the lease allows'));
        this.#unanswered = false;
      }
      const started = Date.now();
      // Bounded: a Redis that accepts connections and drops them leaves ioredis waiting forever,
      // and one that answers later than this leaves too little of the lease to act on.
      const renewed = ACQUIRE_OR_RENEW.run(redis, [this.#key, instanceId, ttlMs]);
      let held: boolean;
      try {
        held = (await withTimeout(renewed, bound, () => new Error('lease renewal timed out'))) === 1;
      } catch (error) {
        this.#unanswered = true;
        throw error;
      }
      if (this.#stopped) {
        // stop() ran while we were asking: do not keep a lease nobody will renew.
        if (held && !this.#abandoned)
          await RELEASE.run(redis, [this.#key, instanceId]).catch(() => undefined);
        return;
      }
      if (held) this.#confirmedAt = started;
      this.#set(held, held ? 'confirmed' : 'taken');
    } catch (error) {
      // Redis unreachable: keep leading only while the last confirmation is surely still valid.
      if (this.#leading && Date.now() - this.#confirmedAt > ttlMs / 2) {
        logger.warn({ err: error }, 'could not renew the call-control lease; standing down');
        this.#set(false, 'unreachable');
      }
    }
    if (this.#stopped) return;
    this.#timer = setTimeout(() => void this.#tick(), Math.max(50, Math.floor(ttlMs / 3)));
    this.#timer.unref();
  }

  #set(leading: boolean, why: LeadershipChange): void {
    if (leading === this.#leading) return;
    this.#leading = leading;
    this.#options.logger.info(
      { instanceId: this.#options.instanceId, leading },
      'call-control lease changed',
    );
    for (const listener of this.#listeners) listener(leading, why);
  }
}
