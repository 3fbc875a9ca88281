import type { Redis } from 'ioredis';
import { execAll } from './redis-script.ts';

/**
 * Something a supervisor must see now: a missed offer, a phone gone, a call overflowed, an
 * operator trunk lost (no 112 call arrives through it) or back.
 */
export interface SupervisorNotice {
  kind:
    | 'ring-no-answer'
    | 'softphone-unreachable'
    | 'softphone-reachable'
    | 'overflow'
    | 'overflow-failed'
    | 'trunk-unreachable'
    | 'trunk-reachable';
  at: number;
  takerId?: string;
  callId?: string;
  detail?: Record<string, unknown>;
}

const KEEP = 500;

/**
 * Notices are published on `<prefix>:supervisor` for live listeners (the wallboard) and kept,
 * newest first, in a capped list for anyone who connects later.
 */
export class SupervisorNotices {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async publish(notice: SupervisorNotice): Promise<void> {
    const text = JSON.stringify(notice);
    await execAll(
      this.#redis
        .multi()
        .lpush(`${this.#prefix}:notices`, text)
        .ltrim(`${this.#prefix}:notices`, 0, KEEP - 1)
        .publish(`${this.#prefix}:supervisor`, text),
    );
  }

  async recent(limit = 50): Promise<SupervisorNotice[]> {
    const items = await this.#redis.lrange(`${this.#prefix}:notices`, 0, Math.max(0, limit - 1));
    return items.flatMap((item) => {
      try {
        return [JSON.parse(item) as SupervisorNotice];
      } catch {
        return [];
      }
    });
  }
}
