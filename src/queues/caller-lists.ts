import type { Redis } from 'ioredis';
import { execAll } from './redis-script.ts';

/**
 * The allowlist and blocklist as screening reads them: one Redis hash, number → list and expiry,
 * written through by the API and reloaded from Postgres at start, so a lookup is one round trip
 * that runs alongside the history read.
 */
export class CallerListCache {
  readonly #redis: Redis;
  readonly #key: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#key = `${prefix}:caller-lists`;
  }

  async lookup(number: string, now: number): Promise<'allow' | 'block' | null> {
    const value = await this.#redis.hget(this.#key, number);
    if (!value) return null;
    const [list, expiresAt] = value.split(':');
    if (expiresAt && Number(expiresAt) <= now) return null;
    return list === 'allow' || list === 'block' ? list : null;
  }

  async put(number: string, list: 'allow' | 'block', expiresAt: Date | null): Promise<void> {
    await this.#redis.hset(this.#key, number, `${list}:${expiresAt?.getTime() ?? ''}`);
  }

  async remove(number: string): Promise<void> {
    await this.#redis.hdel(this.#key, number);
  }

  /** Replaces the cache with Postgres's entries (at start: Redis may have lost or missed some). */
  async reload(
    entries: ReadonlyArray<{ number: string; list: 'allow' | 'block'; expiresAt: Date | null }>,
  ): Promise<void> {
    const multi = this.#redis.multi().del(this.#key);
    for (const e of entries) multi.hset(this.#key, e.number, `${e.list}:${e.expiresAt?.getTime() ?? ''}`);
    await execAll(multi);
  }
}
