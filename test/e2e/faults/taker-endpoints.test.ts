import { describe, expect, it } from 'vitest';
import type { TakerBehaviour } from '../../../src/emulator/asterisk-emulator.ts';
import { closeAfterTest } from '../../support/after-test.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from '../call-center-harness.ts';

/**
 * What a caller hears, from what the service asked of the emulated Asterisk: music on hold
 * (between its POST and DELETE /moh, or until the channel entered a bridge), a playback, or
 * another party in its bridge. Silence is none of them.
 */
function hearingWatch(c: CallCenterUnderTest) {
  const moh = new Set<string>();
  c.emulator.on('request', ({ method, path, status }) => {
    const match = /^\/ari\/channels\/([^/]+)\/moh$/.exec(path);
    if (!match || status !== 204) return;
    if (method === 'POST') moh.add(match[1]!);
    else moh.delete(match[1]!);
  });
  c.emulator.on('event', ({ event }) => {
    const channel = (event.channel as { id?: string } | undefined)?.id;
    if (event.type === 'ChannelEnteredBridge' && channel) moh.delete(channel);
  });
  return (channelId: string): boolean => {
    const { bridges, playbacks } = c.emulator.snapshot();
    return (
      moh.has(channelId) ||
      playbacks.some((p) => p.target_uri === `channel:${channelId}`) ||
      bridges.some((b) => b.channels.includes(channelId) && b.channels.length >= 2)
    );
  };
}

interface FailingPhone {
  how: string;
  /** taker1's phone; undefined: not an endpoint Asterisk knows (originate answers 500). */
  behaviour: TakerBehaviour | undefined;
  /** The phone drops off while ringing, with this cause. */
  dropCause?: number;
  failure: 'missed' | 'unreachable';
  notice: 'ring-no-answer' | 'softphone-unreachable';
}

describe("a call taker's phone failing an offer", () => {
  it.each<FailingPhone>([
    {
      how: 'cannot be rung at all (originate refused, 500)',
      behaviour: undefined,
      failure: 'unreachable',
      notice: 'softphone-unreachable',
    },
    {
      how: 'is busy (cause 17)',
      behaviour: { answer: 'reject', cause: 17 },
      failure: 'missed',
      notice: 'ring-no-answer',
    },
    {
      how: 'declines the call (cause 21)',
      behaviour: { answer: 'reject', cause: 21 },
      failure: 'missed',
      notice: 'ring-no-answer',
    },
    {
      how: 'drops off the network while ringing (cause 27, destination out of order)',
      behaviour: { answer: 'never' },
      dropCause: 27,
      failure: 'unreachable',
      notice: 'softphone-unreachable',
    },
    {
      how: 'stops ringing with normal clearing (cause 16)',
      behaviour: { answer: 'never' },
      dropCause: 16,
      failure: 'missed',
      notice: 'ring-no-answer',
    },
  ])('$how: the caller goes back to the head of the queue on hold, the next taker answers', async (phone) => {
    const c = closeAfterTest(
      await startCallCenter({ takers: 2, env: { RING_TIMEOUT_SECONDS: '30' } }),
      (center) => center.close(),
    );
    const hearing = hearingWatch(c);
    if (phone.behaviour) c.emulator.setEndpoint('PJSIP/taker1', phone.behaviour);
    c.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 20, hangupAfterMs: 100 });
    let leg: string | undefined;
    c.emulator.on('channel-created', ({ channel, kind }) => {
      if (kind === 'originated' && channel.name.startsWith('PJSIP/taker1-')) leg = channel.id;
    });
    await c.makeAvailable('taker1');

    const first = c.emulator.placeCall({ from: '081200000001' });
    if (phone.dropCause !== undefined) {
      await eventually(
        () => c.emulator.snapshot().channels.find((ch) => ch.id === leg)?.state === 'Ringing',
        "taker1's phone ringing",
      );
      expect(c.emulator.hangupChannel(leg!, phone.dropCause)).toBe(true);
    }
    await eventually(
      async () => (await c.service.queue.getTaker('taker1'))?.state === 'break',
      'taker1 out of rotation',
    );
    expect(await c.service.queue.getTaker('taker1')).toMatchObject({ reason: phone.failure });
    const second = c.emulator.placeCall({ from: '081200000002' });
    await eventually(async () => (await c.service.queue.waiting()).length === 2, 'both calls waiting');
    const [head] = await c.service.queue.waiting();
    const firstRecord = await eventually(
      () =>
        c.database.db
          .selectFrom('calls')
          .selectAll()
          .where('caller_channel_id', '=', first.channelId)
          .executeTakeFirst(),
      'the first call on record',
    );
    expect(head?.callId).toBe(firstRecord.id);
    // Back in the queue, the caller is on hold, not in silence.
    await eventually(() => hearing(first.channelId), 'the first caller hearing hold music');
    expect(c.emulator.snapshot().channels.some((ch) => ch.id === leg)).toBe(false);

    await c.makeAvailable('taker2');
    await Promise.all([first.ended, second.ended]);
    const rows = await eventually(async () => {
      const list = await c.database.db.selectFrom('calls').selectAll().orderBy('connected_at').execute();
      return list.length === 2 && list.every((row) => row.disposition !== null) ? list : undefined;
    }, 'both records');
    expect(rows.map((row) => [row.caller_channel_id, row.disposition, row.taker_id])).toEqual([
      [first.channelId, 'connected', 'taker2'],
      [second.channelId, 'connected', 'taker2'],
    ]);
    const events = await c.calls.listCallEvents(firstRecord.id);
    expect(events.filter((e) => e.type === 'offer-failed')).toMatchObject([
      {
        detail: {
          takerId: 'taker1',
          failure: phone.failure,
          ...(phone.dropCause === undefined ? {} : { cause: phone.dropCause }),
        },
      },
    ]);
    expect(await c.service.notices.recent()).toContainEqual(
      expect.objectContaining({ kind: phone.notice, takerId: 'taker1', callId: firstRecord.id }),
    );
    await eventually(() => {
      const { channels, bridges, playbacks } = c.emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(c.emulator.violations).toEqual([]);
  });
});

describe("a call taker's phone failing as it answers", () => {
  it('does not hang up on a caller nobody has spoken to: back to the head of the queue, the next taker answers', async () => {
    const c = closeAfterTest(await startCallCenter({ takers: 2 }), (center) => center.close());
    const hearing = hearingWatch(c);
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    c.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 20 });
    // taker1's phone answers and loses its network at once, before the caller can be put through.
    c.emulator.on('event', ({ event }) => {
      const channel = event.channel as { id: string; name: string } | undefined;
      if (event.type !== 'StasisStart' || !channel?.name.startsWith('PJSIP/taker1-')) return;
      queueMicrotask(() => c.emulator.hangupChannel(channel.id, 27));
    });
    await c.makeAvailable('taker1');
    const call = c.emulator.placeCall({ from: '081200000001' });
    await eventually(
      async () => (await c.service.queue.getTaker('taker1'))?.state === 'break',
      'taker1 out of rotation',
    );
    expect(await c.service.queue.getTaker('taker1')).toMatchObject({ reason: 'unreachable' });
    const second = c.emulator.placeCall({ from: '081200000002' });
    await eventually(async () => (await c.service.queue.waiting()).length === 2, 'both calls waiting');
    const first = await c.database.db
      .selectFrom('calls')
      .selectAll()
      .where('caller_channel_id', '=', call.channelId)
      .executeTakeFirstOrThrow();
    expect((await c.service.queue.waiting())[0]?.callId).toBe(first.id);
    await eventually(() => hearing(call.channelId), 'the caller on hold');

    await c.makeAvailable('taker2');
    await untilBridged(c, call, 'the caller put through to taker2');
    call.hangup();
    await untilBridged(c, second, 'the second caller put through to taker2');
    second.hangup();
    const record = await eventually(async () => {
      const row = await c.calls.getCall(first.id);
      return row?.disposition ? row : undefined;
    }, 'the call record');
    expect(record).toMatchObject({ disposition: 'connected', takerId: 'taker2', endedBy: 'caller' });
    const events = await c.calls.listCallEvents(first.id);
    expect(events.filter((e) => e.type === 'taker-dropped')).toMatchObject([
      { detail: { takerId: 'taker1' } },
    ]);
    expect(events.filter((e) => e.type === 'connected').map((e) => e.detail.takerId)).toEqual([
      'taker1',
      'taker2',
    ]);
    expect(events.filter((e) => e.type === 'ended')).toHaveLength(1);
    expect(await c.service.notices.recent()).toContainEqual(
      expect.objectContaining({ kind: 'softphone-unreachable', takerId: 'taker1', callId: first.id }),
    );
    await eventually(() => {
      const { channels, bridges, playbacks } = c.emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(c.emulator.violations).toEqual([]);
  });
});

describe('the bridge of a connected call destroyed by another ARI client', () => {
  it('puts caller and taker back together and the call carries on to one record', async () => {
    const c = closeAfterTest(await startCallCenter({ takers: 1 }), (center) => center.close());
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    await c.makeAvailable('taker1');
    const call = c.emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, call);
    const bridge = c.emulator.snapshot().bridges.find((b) => b.channels.includes(call.channelId))!;
    const [takerLeg] = bridge.channels.filter((id) => id !== call.channelId);

    // Someone else's ARI application (or an admin with curl) tears the bridge down.
    const auth = `Basic ${Buffer.from(`${c.env.ARI_USERNAME}:${c.env.ARI_PASSWORD}`).toString('base64')}`;
    const destroyed = await fetch(`${c.emulator.url}/ari/bridges/${bridge.id}`, {
      method: 'DELETE',
      headers: { authorization: auth },
    });
    expect(destroyed.status).toBe(204);
    await untilBridged(c, call, 'the caller back with the taker', { again: true });
    expect(
      c.emulator
        .snapshot()
        .bridges.find((b) => b.channels.includes(call.channelId))
        ?.channels.sort(),
    ).toEqual([call.channelId, takerLeg].sort());

    // The call goes on: the second bridging is on its timeline before the caller hangs up.
    await eventually(async () => {
      const rows = await c.database.db.selectFrom('call_events').select('type').execute();
      return rows.filter((row) => row.type === 'bridged').length === 2;
    }, 'the second bridging on the timeline');
    call.hangup();
    const record = await eventually(async () => {
      const row = await c.database.db.selectFrom('calls').selectAll().executeTakeFirst();
      return row?.disposition ? row : undefined;
    }, 'the call record');
    expect(record).toMatchObject({ disposition: 'connected', taker_id: 'taker1', ended_by: 'caller' });
    const types = (await c.calls.listCallEvents(record.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'bridge-lost')).toHaveLength(1);
    expect(types.filter((t) => t === 'bridged')).toHaveLength(2);
    expect(types.at(-1)).toBe('ended');
    await eventually(
      async () => (await c.service.queue.getTaker('taker1'))?.state === 'available',
      'taker1 free',
    );
    await eventually(() => {
      const { channels, bridges } = c.emulator.snapshot();
      return channels.length + bridges.length === 0;
    }, 'nothing left in Asterisk');
    expect(c.emulator.violations).toEqual([]);
  });
});
