import { Redis } from 'ioredis';

/**
 * Deletes every key under `${prefix}:` (a demo, benchmark or test run's own keys); returns how
 * many. Refuses a prefix that would make a wider SCAN pattern than its own keys.
 */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9-]+$/.test(prefix)) {
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
