import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from '../call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

const TAKERS = ['taker1', 'taker2', 'taker3'];
/** The service gives up on an ARI request after this long (ARI_REQUEST_TIMEOUT_MS). */
const REQUEST_TIMEOUT_MS = 500;

describe('an originate Asterisk answers only after the service gave up on it', () => {
  it.each([
    { how: 'the phone rings at once, the answer comes late', hold: 'reply' as const },
    { how: 'Asterisk acts on it late (a hangup sent meanwhile finds no channel)', hold: 'request' as const },
  ])('$how: one taker rings, never two, and the caller is put through to them', async ({ hold }) => {
    center = await startCallCenter({
      takers: TAKERS.length,
      env: { ARI_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), RING_TIMEOUT_SECONDS: '10' },
    });
    const c = center;
    // Every phone answers well after the service timed the first originate out.
    for (const taker of TAKERS) c.emulator.setEndpoint(`PJSIP/${taker}`, { answer: 'after', delayMs: 2500 });
    const rung: { id: string; name: string }[] = [];
    c.emulator.on('channel-created', ({ channel, kind }) => {
      if (kind === 'originated') rung.push({ id: channel.id, name: channel.name });
    });
    const originates: { channelId: string; status: number }[] = [];
    c.emulator.on('request', ({ operation, path, status }) => {
      if (operation === 'channels.originateWithId')
        originates.push({ channelId: path.slice('/ari/channels/'.length), status });
    });
    for (const taker of TAKERS) await c.makeAvailable(taker);
    c.emulator.slowDown('channels.originateWithId', { delayMs: 3 * REQUEST_TIMEOUT_MS, hold });

    const call = c.emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, call, 'the caller put through');
    // Both originates (the slow one and the one sent after it timed out) were answered.
    await eventually(() => originates.length >= 2, 'the slow originate answered');

    // One channel was ever created for the call: one phone rang.
    expect(rung).toHaveLength(1);
    const [leg] = rung;
    const takerId = /^PJSIP\/(taker\d)-/.exec(leg!.name)?.[1];
    expect(TAKERS).toContain(takerId);
    // Every originate asked for that same channel: Asterisk created it once, refused the rest (409).
    expect(new Set(originates.map((o) => o.channelId))).toEqual(new Set([leg!.id]));
    expect(originates.filter((o) => o.status === 200)).toHaveLength(1);
    expect(originates.filter((o) => o.status !== 200).map((o) => o.status)).toEqual(
      originates.slice(1).map(() => 409),
    );
    const bridge = c.emulator.snapshot().bridges.find((b) => b.channels.includes(call.channelId));
    expect(bridge?.channels.sort()).toEqual([call.channelId, leg!.id].sort());
    for (const other of TAKERS.filter((t) => t !== takerId)) {
      expect(await c.service.queue.getTaker(other)).toMatchObject({ state: 'available' });
    }
    expect(await c.service.queue.getTaker(takerId!)).toMatchObject({ state: 'on-call' });

    call.hangup();
    const rows = await eventually(async () => {
      const list = await c.database.db.selectFrom('calls').selectAll().execute();
      return list.length === 1 && list[0]!.disposition !== null ? list : undefined;
    }, 'the call record');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      caller_channel_id: call.channelId,
      disposition: 'connected',
      taker_id: takerId,
    });
    const events = await c.calls.listCallEvents(rows[0]!.id);
    expect(events.filter((e) => e.type === 'offered')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'offer-failed')).toEqual([]);
    await eventually(() => {
      const { channels, bridges, playbacks } = c.emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(rung).toHaveLength(1);
    expect(c.emulator.violations).toEqual([]);
  });
});
