import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.ts';
import { LeaderLease, type LeadershipChange } from '../../../src/queues/leader-lease.ts';
import { startTcpProxy } from '../../support/tcp-proxy.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../../support/test-redis.ts';

let redis: Redis;
const prefix = testRedisPrefix('lease');
const leases: LeaderLease[] = [];

function lease(instanceId: string): LeaderLease {
  const l = new LeaderLease({ redis, prefix, instanceId, ttlMs: 300, logger: createLogger('silent') });
  leases.push(l);
  return l;
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterEach(async () => {
  for (const l of leases.splice(0)) await l.stop();
  await cleanupRedisPrefix(prefix);
});
afterAll(() => {
  redis.disconnect();
});

describe('the call-control lease', () => {
  it('lets exactly one instance lead, and keeps it while it renews', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.start();
    await b.start();
    expect([a.leading, b.leading]).toEqual([true, false]);
    // Several time-to-lives later the leader still leads: renewal works.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect([a.leading, b.leading]).toEqual([true, false]);
    expect(await redis.get(`${prefix}:leader`)).toBe('a');
  });

  it('hands over at once when the leader stops in order', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.start();
    await b.start();
    const changes: boolean[] = [];
    b.onChange((leading) => changes.push(leading));
    await a.stop();
    await until(() => b.leading, 'b to lead');
    expect(changes).toEqual([true]);
  });

  it('passes to a standby when the leader dies without a word', async () => {
    const a = lease('a');
    const b = lease('b');
    await a.start();
    await b.start();
    a.abandon();
    // The dead leader's lease is still in Redis until it lapses; then the standby takes it.
    expect(await redis.get(`${prefix}:leader`)).toBe('a');
    await until(() => b.leading, 'b to lead after the lease lapsed');
    expect(await redis.get(`${prefix}:leader`)).toBe('b');
  });

  it('stands down when Redis cannot confirm the lease', async () => {
    const lonely = new Redis(testRedisUrl());
    const a = new LeaderLease({
      redis: lonely,
      prefix,
      instanceId: 'a',
      ttlMs: 300,
      logger: createLogger('silent'),
    });
    leases.push(a);
    await a.start();
    expect(a.leading).toBe(true);
    lonely.disconnect();
    await until(() => !a.leading, 'a to stand down');
  });

  it('stands down when Redis answers later than a third of the lease, lets a standby take over meanwhile, and leads again once Redis is fast', async () => {
    const server = new URL(testRedisUrl());
    const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port || 6379) });
    const slow = new Redis(proxy.url(testRedisUrl()));
    try {
      const options = { prefix, ttlMs: 600, logger: createLogger('silent') };
      const a = new LeaderLease({ ...options, redis: slow, instanceId: 'a' });
      const b = new LeaderLease({ ...options, redis, instanceId: 'b' });
      leases.push(a, b);
      const changes: LeadershipChange[] = [];
      a.onChange((_, why) => changes.push(why));
      await a.start();
      await b.start();
      expect([a.leading, b.leading]).toEqual([true, false]);

      // Every command is answered, 600 ms later: past the 200 ms a renewal may take.
      proxy.setLatency(300);
      await until(() => !a.leading, 'a to stand down');
      // Its renewals still run in Redis, late; they must not keep the lease from the standby.
      await until(() => b.leading, 'b to take over while Redis is slow for a');
      expect(a.leading).toBe(false);

      proxy.setLatency(0);
      await b.stop();
      await until(() => a.leading, 'a to lead again once Redis is fast');
      expect(changes).toEqual(['confirmed', 'unreachable', 'confirmed']);
    } finally {
      for (const l of leases.splice(0)) await l.stop();
      slow.disconnect();
      await proxy.close();
    }
  });
});
