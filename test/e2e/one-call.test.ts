import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/records/call-record.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

async function onlyCallRecord(c: CallCenterUnderTest): Promise<CallRecord> {
  return eventually(async () => {
    const rows = await c.database.db.selectFrom('calls').select('id').execute();
    if (rows.length !== 1) return undefined;
    const record = await c.calls.getCall(rows[0]!.id);
    return record?.disposition ? record : undefined;
  }, 'the call record with its disposition');
}

async function nothingLeftBehind(c: CallCenterUnderTest): Promise<void> {
  await eventually(async () => {
    const { channels, bridges, playbacks } = c.emulator.snapshot();
    expect({ channels, bridges, playbacks }).toEqual({ channels: [], bridges: [], playbacks: [] });
    return true;
  }, 'no channel, bridge or playback left in Asterisk');
}

describe('one 112 call end to end', () => {
  it('reaches a call taker, is bridged, and leaves a complete record and timeline', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 150 });
    await center.makeAvailable('taker1');

    const call = center.emulator.placeCall({
      from: '081234567890',
      trunk: 'telkomsel',
      appArgs: ['telkomsel'],
    });
    await eventually(
      async () =>
        center!.emulator
          .snapshot()
          .bridges.some((b) => b.channels.includes(call.channelId) && b.channels.length === 2),
      'the caller bridged with the taker',
    );
    call.hangup();

    const record = await onlyCallRecord(center);
    expect(record).toMatchObject({
      callerIdRaw: '081234567890',
      callerNumber: '+6281234567890',
      callerIdKind: 'e164',
      callerChannelId: call.channelId,
      trunk: 'telkomsel',
      disposition: 'connected',
      endedBy: 'caller',
      takerId: 'taker1',
    });
    const { arrivedAt, answeredAt, queuedAt, offeredAt, connectedAt, endedAt } = record;
    for (const at of [answeredAt, queuedAt, offeredAt, connectedAt, endedAt]) {
      expect(at).toBeInstanceOf(Date);
      expect(at!.getTime()).toBeGreaterThanOrEqual(arrivedAt.getTime());
    }
    expect(offeredAt!.getTime()).toBeLessThanOrEqual(connectedAt!.getTime());
    expect(connectedAt!.getTime()).toBeLessThanOrEqual(endedAt!.getTime());
    expect(record.waitMs).toBe(connectedAt!.getTime() - arrivedAt.getTime());
    expect(record.talkMs).toBe(endedAt!.getTime() - connectedAt!.getTime());

    const events = await eventually(async () => {
      const list = await center!.calls.listCallEvents(record.id);
      return list.at(-1)?.type === 'ended' ? list : undefined;
    }, 'the timeline up to the end');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const types = events.map((e) => e.type);
    for (const type of ['arrived', 'queued', 'answered', 'offered', 'connected', 'bridged', 'ended']) {
      expect(types).toContain(type);
    }
    // The taker's phone rings before the greeting has finished: offered comes before greeting-finished.
    expect(types.indexOf('offered')).toBeLessThan(types.indexOf('connected'));
    expect(types.indexOf('connected')).toBeLessThan(types.indexOf('ended'));
    expect(events.at(-1)).toMatchObject({ type: 'ended', state: 'ended', detail: { endedBy: 'caller' } });

    await nothingLeftBehind(center);
    // The harness runs without wrap-up time: the taker is free again at once.
    const taker = await center.service.queue.getTaker('taker1');
    expect(taker?.state).toBe('available');
  });

  it('offers a clean caller to a free taker before the greeting ends', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
    await center.makeAvailable('taker1');
    // What happened, in order: the taker's phone ringing and the greeting's playback events.
    const happened: string[] = [];
    center.emulator.on('channel-created', ({ channel }) => {
      if (channel.name.startsWith('PJSIP/taker1')) happened.push('taker rung');
    });
    center.emulator.on('event', ({ event }) => {
      if (event.type === 'PlaybackStarted' || event.type === 'PlaybackFinished') happened.push(event.type);
    });

    const call = center.emulator.placeCall({ from: '+6281298765432' });
    await eventually(() => happened.includes('PlaybackFinished'), 'the greeting played to its end');
    // The taker's phone rang before the greeting (400 ms) was over: the greeting plays meanwhile.
    expect(happened.indexOf('taker rung')).toBeGreaterThanOrEqual(0);
    expect(happened.indexOf('taker rung')).toBeLessThan(happened.indexOf('PlaybackFinished'));
    call.hangup();
    await onlyCallRecord(center);
    await nothingLeftBehind(center);
  });

  it('records a caller who hangs up while queued as abandoned and leaves nothing behind', async () => {
    center = await startCallCenter({ takers: 1 });
    const call = center.emulator.placeCall({ from: '081234567890' });
    await eventually(async () => (await center!.service.queue.waiting()).length === 1, 'the call waiting');
    call.hangup();

    const record = await onlyCallRecord(center);
    expect(record).toMatchObject({
      disposition: 'abandoned',
      endedBy: 'caller',
      takerId: null,
      connectedAt: null,
    });
    expect(record.waitMs).toBe(record.endedAt!.getTime() - record.arrivedAt.getTime());
    expect(await center.service.queue.waiting()).toEqual([]);
    await nothingLeftBehind(center);
  });

  it('re-offers a call to the next taker when the first never answers', async () => {
    center = await startCallCenter({ takers: 2 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    center.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 50 });
    await center.makeAvailable('taker1');
    const call = center.emulator.placeCall({ from: '081234567890' });
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'reserved',
      'taker1 rung',
    );
    await center.makeAvailable('taker2');
    await eventually(
      async () => center!.emulator.snapshot().bridges.some((b) => b.channels.includes(call.channelId)),
      'the call bridged to taker2 after taker1 rang out',
    );
    call.hangup();
    const record = await onlyCallRecord(center);
    expect(record).toMatchObject({ disposition: 'connected', takerId: 'taker2' });
    const events = await center.calls.listCallEvents(record.id);
    expect(events.filter((e) => e.type === 'offer-failed')).toMatchObject([
      { detail: { takerId: 'taker1', failure: 'missed', cause: 19 } },
    ]);
    expect(await center.service.queue.getTaker('taker1')).toMatchObject({ state: 'break', reason: 'missed' });
    await nothingLeftBehind(center);
  });
});
