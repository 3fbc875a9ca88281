import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';
import { testRedisUrl } from '../../support/test-redis.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from '../call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  proxy?.restore();
  await center?.close();
  await proxy?.close();
  center = undefined;
  proxy = undefined;
});

/** Issue #8: no caller is left in Stasis with nobody controlling it while Redis is away. */
describe('Redis away while callers are in Stasis', () => {
  it('hands the waiting caller and a new one to the dialplan fallback, and serves the next caller once Redis is back', async () => {
    const redis = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const viaProxy = proxy;
    center = await startCallCenter({
      takers: 1,
      env: { REDIS_URL: viaProxy.url(testRedisUrl()), LEADER_LEASE_MS: '2000' },
    });
    const c = center;
    // Nobody available: the first caller waits in the queue, in Stasis.
    const waiting = c.emulator.placeCall({ from: '081200000001' });
    await eventually(
      () => c.service.center.activeCalls.some((s) => s.snapshot.callerChannelId === waiting.channelId),
      'the first caller queued',
    );
    await eventually(
      async () => (await c.service.queue.waiting()).length >= 1,
      'the first caller waiting in Redis',
    );

    proxy.cut();
    // Arrives before the instance stands down: it enters Stasis and cannot be queued.
    const arriving = c.emulator.placeCall({ from: '081200000002' });
    expect(arriving.outcome).toBe('stasis');

    const inFallback = (channelId: string) => c.emulator.fallbackCalls.some((f) => f.channelId === channelId);
    // Bound: the lease's time to live (the instance stands down within half of it) plus margin.
    await eventually(
      () => inFallback(waiting.channelId) && inFallback(arriving.channelId),
      'both callers handed to the dialplan fallback',
      6_000,
    );
    for (const call of [waiting, arriving]) {
      expect((await call.ended).hungUpBy).toBe('dialplan');
    }

    proxy.restore();
    await eventually(() => c.service.lease.leading && c.service.ari.connected, 'call control back', 15_000);
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    await c.makeAvailable('taker1');
    const next = c.emulator.placeCall({ from: '081200000003' });
    expect(next.outcome).toBe('stasis');
    await untilBridged(c, next, 'the next caller put through to a taker by siaga112');
    expect(inFallback(next.channelId)).toBe(false);
  });
});
