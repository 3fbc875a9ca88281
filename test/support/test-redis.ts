import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import './provided-context.ts';

/** The Redis server the global setup resolved. */
export function testRedisUrl(): string {
  return inject('redisUrl');
}

/**
 * A key prefix no other test file (or run) uses: give it to BullMQ as `prefix` so every key a
 * test writes lives under `${prefix}:`, and `cleanupRedisPrefix` can find them all.
 */
export function testRedisPrefix(label = 'test'): string {
  const safe = label.replace(/[^a-z0-9-]/gi, '-').slice(0, 40);
  return `siaga112-test-${safe}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `${prefix}:`; returns how many it deleted. */
export async function cleanupRedisPrefix(prefix: string, url = testRedisUrl()): Promise<number> {
  if (!/^[A-Za-z0-9-]+$/.test(prefix)) {
    // The prefix becomes a SCAN glob: refuse anything that could match more than its own keys.
    throw new Error(`refusing to clean up unsafe Redis prefix ${JSON.stringify(prefix)}`);
  }
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}
