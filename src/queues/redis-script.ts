import { createHash } from 'node:crypto';
import type { ChainableCommander, Redis } from 'ioredis';

/** A Lua script run by SHA, loaded on first use and again after Redis forgets it (restart). */
export class RedisScript {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(redis: Redis, args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.#sha, 0, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.#lua, 0, ...args);
    }
  }
}

/**
 * Runs a pipeline or MULTI and returns the replies, throwing the first command error: ioredis
 * reports those in place instead of rejecting, and a silently empty reply would read as "no
 * calls waiting" or "a clean caller".
 */
export async function execAll(batch: ChainableCommander): Promise<unknown[]> {
  const replies = await batch.exec();
  if (!replies) throw new Error('Redis transaction aborted');
  const failed = replies.find(([error]) => error);
  if (failed) throw failed[0];
  return replies.map(([, value]) => value);
}
