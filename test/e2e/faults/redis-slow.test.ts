import { afterEach, describe, expect, it } from 'vitest';
import type { InboundCall } from '../../../src/emulator/asterisk-emulator.ts';
import { OFFER_CHANNEL_PREFIX } from '../../../src/routing/call-session.ts';
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
  proxy?.setLatency(0);
  await center?.close();
  await proxy?.close();
  center = undefined;
  proxy = undefined;
});

/** The lease's time to live here; a renewal unanswered within a third of it counts as failed. */
const LEASE_MS = 5000;
/** Each way: a round trip of 2 s, past a third of the lease, yet every command is answered. */
const SLOW_MS = 1000;

/**
 * Issue #8, Redis slow for the leader: it answers, but later than a renewal may take. The leader
 * must stand down (it may have lost the lease) and let the standby take call control over, and
 * come back to lead once Redis is fast again; no call is offered twice or lost meanwhile.
 */
describe('Redis slower than a third of the lease for the leader', () => {
  it('the leader stands down, the standby takes over and serves the calls, the leader leads again once Redis is fast; no call offered twice or lost', async () => {
    const redis = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const viaProxy = proxy;
    center = await startCallCenter({
      takers: 3,
      env: { REDIS_URL: viaProxy.url(testRedisUrl()), LEADER_LEASE_MS: String(LEASE_MS) },
    });
    const c = center;
    const { emulator } = c;
    const slowLeader = c.service;
    const standby = await c.startAnotherService({ REDIS_URL: testRedisUrl() });
    expect(slowLeader.lease.leading).toBe(true);
    expect(standby.lease.leading).toBe(false);
    for (const taker of ['taker1', 'taker2', 'taker3']) {
      emulator.setEndpoint(`PJSIP/${taker}`, { answer: 'after', delayMs: 20 });
    }
    // Every taker leg siaga112 asks Asterisk for, by call: a call rung twice is offered twice.
    const offers = new Map<string, number>();
    emulator.on('request', ({ operation, path }) => {
      if (operation !== 'channels.originateWithId') return;
      const channelId = decodeURIComponent(path.split('/').pop() ?? '');
      if (!channelId.startsWith(OFFER_CHANNEL_PREFIX)) return;
      const callId = channelId.slice(OFFER_CHANNEL_PREFIX.length, OFFER_CHANNEL_PREFIX.length + 36);
      offers.set(callId, (offers.get(callId) ?? 0) + 1);
    });
    const calls: InboundCall[] = [];
    const place = (from: string) => {
      const call = emulator.placeCall({ from });
      expect(call.outcome).toBe('stasis');
      calls.push(call);
      return call;
    };
    const inFallback = (call: InboundCall) =>
      emulator.fallbackCalls.some((f) => f.channelId === call.channelId);

    await c.makeAvailable('taker1');
    const talking = place('081200000001');
    await untilBridged(c, talking, 'the first caller talking to taker1');
    const waiting = place('081200000002');
    await eventually(
      async () => (await slowLeader.queue.waiting()).length === 1,
      'the second caller waiting',
    );

    viaProxy.setLatency(SLOW_MS);
    await eventually(() => !slowLeader.lease.leading, 'the slow leader standing down', 10_000);
    await eventually(
      () => standby.lease.leading && standby.ari.connected,
      'the standby taking call control over',
      15_000,
    );
    expect(slowLeader.lease.leading).toBe(false);
    // The waiting caller was either handed to the dialplan fallback by the leader standing down
    // (every phone rings) or is served by the standby; the conversation goes on, now the standby's.
    await eventually(
      () => standby.center.activeCalls.some((s) => s.snapshot.callerChannelId === talking.channelId),
      'the connected call re-adopted by the standby',
    );
    await c.makeAvailable('taker2', standby);
    const meanwhile = place('081200000003');
    if (!inFallback(waiting)) await untilBridged(c, waiting, 'the waiting caller put through by the standby');
    await untilBridged(c, meanwhile, 'a caller arriving meanwhile put through by the standby');

    // Redis fast again: the standby keeps call control while it holds the lease; once it stops,
    // the first instance takes call control back and calls flow through it.
    viaProxy.setLatency(0);
    for (const call of [talking, waiting, meanwhile]) if (!inFallback(call)) call.hangup();
    await eventually(async () => (await standby.queue.listSnapshots()).length === 0, 'every call closed');
    await standby.close();
    await eventually(
      () => slowLeader.lease.leading && slowLeader.ari.connected,
      'the first instance leading again',
      15_000,
    );
    await c.makeAvailable('taker3', slowLeader);
    const after = place('081200000004');
    await untilBridged(c, after, 'a caller put through once Redis is fast again');
    expect(slowLeader.center.activeCalls.some((s) => s.snapshot.callerChannelId === after.channelId)).toBe(
      true,
    );
    after.hangup();

    // No call offered twice, none lost: one record each, closed once, with the outcome it had.
    await eventually(
      async () => (await slowLeader.queue.listSnapshots()).length === 0,
      'the last call closed',
    );
    expect([...offers.values()].every((count) => count === 1)).toBe(true);
    await eventually(async () => {
      const { waiting: queued, active, delayed } = await slowLeader.recordBacklog();
      return queued + active + delayed === 0;
    }, 'every record write committed');
    const rows = await c.database.db.selectFrom('calls').selectAll().execute();
    expect(rows).toHaveLength(calls.length);
    for (const call of calls) {
      const row = rows.find((r) => r.caller_channel_id === call.channelId);
      // Handed to the dialplan fallback by the leader standing down, or put through by siaga112.
      const expected = inFallback(call)
        ? { disposition: 'overflowed', ended_by: 'system' }
        : { disposition: 'connected', ended_by: 'caller' };
      expect(row, call.channelId).toMatchObject(expected);
      const events = await c.calls.listCallEvents(row?.id ?? '');
      expect(
        events.filter((e) => e.type === 'ended'),
        call.channelId,
      ).toHaveLength(1);
      expect(events.map((e) => e.type)).not.toContain('vanished');
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    }
    await eventually(() => {
      const { channels, bridges, playbacks } = emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(emulator.violations).toEqual([]);
  }, 90_000);
});
