import { afterEach, describe, expect, it } from 'vitest';
import type { InboundCall } from '../../../src/emulator/asterisk-emulator.ts';
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

/**
 * Issue #8, Redis back: the calls handed to the fallback during the outage keep that outcome (they
 * left Stasis: no snapshot of theirs may be re-adopted as a caller who hung up), a call connected
 * through the outage ends normally with one record, and the queue and the takers work again.
 */
describe('Redis back after an outage', () => {
  it('closes the handed-off calls as handed to the fallback, ends the connected call once, and queues and bridges the next callers', async () => {
    const redis = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const viaProxy = proxy;
    center = await startCallCenter({
      takers: 2,
      env: { REDIS_URL: viaProxy.url(testRedisUrl()), LEADER_LEASE_MS: '6000' },
    });
    const c = center;
    const { emulator, service } = c;
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 20 });
    const record = (call: InboundCall) =>
      c.database.db
        .selectFrom('calls')
        .selectAll()
        .where('caller_channel_id', '=', call.channelId)
        .executeTakeFirst();
    /** The call's record and timeline once its ending is on file (the row can show it a write ahead). */
    const closed = (call: InboundCall) =>
      eventually(
        async () => {
          const row = await record(call);
          if (!row?.disposition) return undefined;
          const events = await c.calls.listCallEvents(row.id);
          return events.some((e) => e.type === 'ended') ? { row, events } : undefined;
        },
        `the call from ${call.channelId} closed on record`,
        15_000,
      );

    await c.makeAvailable('taker1');
    const talking = emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, talking, 'the first caller talking to taker1');
    const bridgeBefore = emulator.snapshot().bridges.find((b) => b.channels.includes(talking.channelId));
    expect(bridgeBefore?.channels).toHaveLength(2);
    // Nobody else is available: the second caller waits, in Redis too.
    const waiting = emulator.placeCall({ from: '081200000002' });
    await eventually(async () => (await service.queue.waiting()).length === 1, 'the second caller waiting');
    // Its record is on file before the outage: what Redis keeps of it is its snapshot as a waiting call.
    await eventually(async () => (await record(waiting))?.answered_at, 'the waiting call on record');

    proxy.cut();
    const arriving = emulator.placeCall({ from: '081200000003' });
    expect(arriving.outcome).toBe('stasis');
    const inFallback = (channelId: string) => emulator.fallbackCalls.some((f) => f.channelId === channelId);
    await eventually(
      () => inFallback(waiting.channelId) && inFallback(arriving.channelId) && !service.ari.connected,
      'both callers handed to the dialplan fallback, call control given up',
      12_000,
    );
    // The conversation goes on in Asterisk while nobody controls it.
    expect(emulator.snapshot().bridges.find((b) => b.id === bridgeBefore?.id)?.channels).toEqual(
      bridgeBefore?.channels,
    );

    proxy.restore();
    await eventually(() => service.lease.leading && service.ari.connected, 'call control back', 15_000);

    // The handed-off callers were not lost and did not hang up: they went to the fallback.
    for (const call of [waiting, arriving]) {
      const { row, events } = await closed(call);
      expect(row).toMatchObject({ disposition: 'overflowed', ended_by: 'system' });
      expect(events.find((e) => e.type === 'ended')?.detail).toMatchObject({
        reason: 'fallback',
        endedBy: 'system',
        disposition: 'overflowed',
      });
    }

    // The conversation is still ours and ends normally, once.
    expect(emulator.snapshot().bridges.find((b) => b.id === bridgeBefore?.id)?.channels).toEqual(
      bridgeBefore?.channels,
    );
    await eventually(
      () => service.center.activeCalls.some((s) => s.snapshot.callerChannelId === talking.channelId),
      'the connected call re-adopted',
    );
    talking.hangup();
    const talked = await closed(talking);
    expect(talked.row).toMatchObject({ disposition: 'connected', ended_by: 'caller', taker_id: 'taker1' });

    // Takers and queue rebuilt: taker1 is free again, nobody is left waiting, new callers are served.
    await eventually(
      async () => (await service.queue.getTaker('taker1'))?.state === 'available',
      'taker1 available again',
    );
    expect(await service.queue.waiting()).toEqual([]);
    await eventually(async () => (await service.queue.listSnapshots()).length === 0, 'no call left in Redis');
    await c.makeAvailable('taker2');
    const next = [emulator.placeCall({ from: '081200000004' }), emulator.placeCall({ from: '081200000005' })];
    for (const call of next) {
      expect(call.outcome).toBe('stasis');
      await untilBridged(c, call, 'a caller after the outage put through by siaga112');
      expect(inFallback(call.channelId)).toBe(false);
      call.hangup();
    }
    for (const call of next) expect((await closed(call)).row.disposition).toBe('connected');

    // Every write done: each call has one record, ended once, its timeline numbered 1…n.
    await eventually(async () => (await service.queue.listSnapshots()).length === 0, 'every call forgotten');
    await eventually(async () => {
      const { waiting: queued, active, delayed } = await service.recordBacklog();
      return queued + active + delayed === 0;
    }, 'every record write committed');
    for (const call of [talking, waiting, arriving, ...next]) {
      const { row, events } = await closed(call);
      expect(
        events.filter((e) => e.type === 'ended'),
        row.id,
      ).toHaveLength(1);
      expect(events.map((e) => e.type)).not.toContain('vanished');
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    }
    const rows = await c.database.db.selectFrom('calls').select('caller_channel_id').execute();
    expect(rows).toHaveLength(5);
    await eventually(() => {
      const { channels, bridges, playbacks } = emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(emulator.violations).toEqual([]);
  }, 90_000);
});
