import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { InboundCall } from '../../../src/emulator/asterisk-emulator.ts';
import { CallQueue } from '../../../src/queues/call-queue.ts';
import { closeAfterTest, killAfterTest } from '../../support/after-test.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from '../call-center-harness.ts';
import { type ServiceProcess, startServiceProcess } from './service-process.ts';

/** The bridge the caller's channel is in right now, if any. */
function bridgeOf(c: CallCenterUnderTest, call: InboundCall) {
  return c.emulator.snapshot().bridges.find((b) => b.channels.includes(call.channelId));
}

describe('siaga112 killed with SIGKILL mid-shift', () => {
  it('a new process re-adopts every call: waiting callers keep their order, ringing and connected calls carry on, one record each', async () => {
    const c = closeAfterTest(
      await startCallCenter({
        takers: 3,
        // A dead leader's lease lapses within a second; phones ring long enough to outlive the crash.
        env: { LEADER_LEASE_MS: '1000', RING_TIMEOUT_SECONDS: '30' },
      }),
      (center) => center.close(),
    );
    // The in-process instance only prepared the database: the processes below own call control.
    await c.service.close();
    const redis = closeAfterTest(new Redis(c.env.REDIS_URL!), (r) => r.disconnect());
    const queue = new CallQueue(redis, {
      prefix: c.redisPrefix,
      leaderId: 'test-observer',
      policy: { agingMs: 0, skillFallbackMs: 0 },
    });
    const spawnService = async (instance: string) => {
      const child = killAfterTest(
        await startServiceProcess({ ...c.env, SIAGA_INSTANCE_ID: instance }, { adminKey: c.adminKey }),
      );
      await child.untilLeading();
      return child;
    };
    const makeAvailable = async (child: ServiceProcess, takerId: string) => {
      const reply = await child.request('PUT', `/takers/${takerId}/state`, { state: 'available' });
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    };

    const first = await spawnService('crashing');
    // taker1 talks to the first caller; taker2's phone rings through the crash and is picked up
    // after it; taker3 logs on after the crash and takes the waiting calls one by one.
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    c.emulator.setEndpoint('PJSIP/taker2', { answer: 'never' });
    c.emulator.setEndpoint('PJSIP/taker3', { answer: 'after', delayMs: 20, hangupAfterMs: 150 });

    await makeAvailable(first, 'taker1');
    const talking = c.emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, talking, 'the first caller talking to taker1');
    const bridgeBefore = bridgeOf(c, talking)!;
    expect(bridgeBefore.channels).toHaveLength(2);

    const waiting: InboundCall[] = [];
    for (let i = 2; i <= 5; i++) {
      waiting.push(c.emulator.placeCall({ from: `08120000000${i}` }));
      await eventually(
        async () => (await queue.waiting()).length === waiting.length,
        `${i - 1} calls waiting`,
      );
    }
    const ringing = waiting.shift()!;
    let takerLeg: string | undefined;
    c.emulator.on('channel-created', ({ channel, kind }) => {
      if (kind === 'originated' && channel.name.startsWith('PJSIP/taker2-')) takerLeg = channel.id;
    });
    await makeAvailable(first, 'taker2');
    await eventually(() => takerLeg, "taker2's phone ringing for the head of the queue");
    const waitingOrder = (await queue.waiting()).map((w) => w.callId);
    expect(waitingOrder).toHaveLength(3);

    // The crash: taker2's phone still rings, the first call is bridged, three calls wait.
    expect(c.emulator.snapshot().channels.find((ch) => ch.id === takerLeg)?.state).toBe('Ringing');
    first.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });

    const second = await spawnService('successor');
    // Every live call is adopted from Redis.
    await eventually(
      async () => {
        const adopted = await c.database.db
          .selectFrom('call_events')
          .select('call_id')
          .where('type', '=', 'adopted')
          .execute();
        return new Set(adopted.map((row) => row.call_id)).size === 5;
      },
      'all five calls adopted',
      20_000,
    );
    // The connected call was never dropped: the same bridge, the same two channels.
    expect(bridgeOf(c, talking)).toMatchObject({ id: bridgeBefore.id, channels: bridgeBefore.channels });
    // The phone still rings after the takeover; picked up now, its caller is bridged to taker2.
    expect(c.emulator.snapshot().channels.find((ch) => ch.id === takerLeg)?.state).toBe('Ringing');
    expect(c.emulator.pickUp(takerLeg!)).toBe(true);
    await untilBridged(c, ringing, 'the caller whose taker was ringing bridged to taker2');
    expect(bridgeOf(c, ringing)?.channels).toContain(takerLeg);
    // The waiting callers kept their places: taker3 takes them in arrival order.
    expect((await queue.waiting()).map((w) => w.callId)).toEqual(waitingOrder);
    await makeAvailable(second, 'taker3');
    await Promise.all(waiting.map((call) => call.ended));

    talking.hangup();
    ringing.hangup();
    const rows = await eventually(
      async () => {
        const list = await c.database.db.selectFrom('calls').selectAll().execute();
        return list.length === 5 && list.every((row) => row.disposition !== null) ? list : undefined;
      },
      'five finished call records',
      30_000,
    );
    const byChannel = new Map(rows.map((row) => [row.caller_channel_id, row]));
    expect(byChannel.get(talking.channelId)).toMatchObject({ disposition: 'connected', taker_id: 'taker1' });
    expect(byChannel.get(ringing.channelId)).toMatchObject({ disposition: 'connected', taker_id: 'taker2' });
    const served = waiting.map((call) => byChannel.get(call.channelId)!);
    expect(served.map((row) => [row.disposition, row.taker_id])).toEqual([
      ['connected', 'taker3'],
      ['connected', 'taker3'],
      ['connected', 'taker3'],
    ]);
    expect(served.map((row) => row.id)).toEqual(waitingOrder);
    const answeredAt = served.map((row) => row.connected_at!.getTime());
    expect([...answeredAt].sort((a, b) => a - b)).toEqual(answeredAt);

    // Record writes in flight when the process died are picked up again by the new worker, within
    // seconds (BullMQ's defaults took a minute).
    await eventually(
      async () => {
        for (const row of rows) {
          const events = await c.calls.listCallEvents(row.id);
          if (events.some((e, i) => e.seq !== i + 1) || events.at(-1)?.type !== 'ended') {
            throw new Error(`timeline of ${row.id}: ${events.map((e) => `${e.seq} ${e.type}`).join(', ')}`);
          }
        }
        return true;
      },
      'every timeline complete',
      30_000,
    );
    for (const row of rows) {
      const events = await c.calls.listCallEvents(row.id);
      const types = events.map((e) => e.type);
      expect(
        events.map((e) => e.seq),
        `timeline of ${row.id}`,
      ).toEqual(events.map((_, i) => i + 1));
      expect(types.filter((t) => t === 'arrived')).toHaveLength(1);
      expect(types.filter((t) => t === 'adopted')).toHaveLength(1);
      expect(types.filter((t) => t === 'connected')).toHaveLength(1);
      expect(types.at(-1)).toBe('ended');
      expect(types.filter((t) => t === 'ended')).toHaveLength(1);
      // Nothing written twice: events written just before the crash are not numbered anew.
      const written = events.map((e) => `${e.type} ${JSON.stringify(e.detail)}`);
      expect(written, `timeline of ${row.id}`).toEqual([...new Set(written)]);
    }
    // The ringing call carried on with the offer made before the crash: no failed offer.
    const ringingEvents = await c.calls.listCallEvents(byChannel.get(ringing.channelId)!.id);
    expect(ringingEvents.filter((e) => e.type === 'offer-failed')).toEqual([]);

    await eventually(() => {
      const { channels, bridges, playbacks } = c.emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(c.emulator.violations).toEqual([]);
  }, 120_000);

  it('the bridge of a call that ended as the process died is destroyed by the next one', async () => {
    const c = closeAfterTest(
      await startCallCenter({ takers: 1, env: { LEADER_LEASE_MS: '1000' } }),
      (center) => center.close(),
    );
    await c.service.close();
    const spawnService = async (instance: string) => {
      const child = killAfterTest(
        await startServiceProcess({ ...c.env, SIAGA_INSTANCE_ID: instance }, { adminKey: c.adminKey }),
      );
      await child.untilLeading();
      return child;
    };
    const first = await spawnService('crashing');
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    expect((await first.request('PUT', '/takers/taker1/state', { state: 'available' })).status).toBe(200);
    const call = c.emulator.placeCall({ from: '081200000009' });
    await untilBridged(c, call);
    const bridge = bridgeOf(c, call)!;

    // The caller hangs up; the process dies before its request to destroy the bridge reaches
    // Asterisk (held in the network until long after this test).
    c.emulator.slowDown('bridges.destroy', { delayMs: 600_000, hold: 'request' });
    call.hangup();
    await eventually(
      async () =>
        (await c.database.db.selectFrom('calls').select('disposition').executeTakeFirst())?.disposition,
      'the call recorded as ended',
    );
    await eventually(() => c.emulator.snapshot().channels.length === 0, 'both legs hung up');
    first.kill('SIGKILL');
    await first.exited;
    expect(c.emulator.snapshot().bridges.map((b) => [b.id, b.channels])).toEqual([[bridge.id, []]]);

    await spawnService('successor');
    await eventually(() => c.emulator.snapshot().bridges.length === 0, 'the empty bridge destroyed');
    expect(c.emulator.violations).toEqual([]);
  }, 60_000);
});
