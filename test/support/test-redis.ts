import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { deleteRedisPrefix } from '../../src/dev/redis-prefix.ts';
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
  return deleteRedisPrefix(url, prefix);
}
