import { describe, expect, it } from 'vitest';
import { closeAfterTest } from '../../support/after-test.ts';
import { eventually, startCallCenter, untilBridged } from '../call-center-harness.ts';

describe('Asterisk restarting under live calls', () => {
  it('closes the calls it cut as lost (a connected one stays connected), frees their takers, owes callbacks, and takes the next call', async () => {
    const c = closeAfterTest(
      await startCallCenter({ takers: 3, env: { RING_TIMEOUT_SECONDS: '30' } }),
      (center) => center.close(),
    );
    const { service, emulator } = c;
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    emulator.setEndpoint('PJSIP/taker2', { answer: 'never' });
    emulator.setEndpoint('PJSIP/taker3', { answer: 'after', delayMs: 20 });
    const originates: string[] = [];
    emulator.on('request', ({ operation, status }) => {
      if (operation === 'channels.originateWithId') originates.push(String(status));
    });

    await c.makeAvailable('taker1');
    const talking = emulator.placeCall({ from: '081200000001' });
    await untilBridged(c, talking, 'the first caller talking to taker1');
    await c.makeAvailable('taker2');
    const ringing = emulator.placeCall({ from: '081200000002' });
    await eventually(
      async () => (await service.queue.getTaker('taker2'))?.state === 'reserved',
      'taker2 rung',
    );
    const waiting = emulator.placeCall({ from: '081200000003' });
    await eventually(async () => (await service.queue.waiting()).length === 1, 'the third call waiting');
    // Every caller has heard the greeting (answered by the IVR) before Asterisk goes.
    await eventually(async () => {
      const rows = await c.database.db.selectFrom('calls').select('answered_at').execute();
      return rows.length === 3 && rows.every((row) => row.answered_at !== null);
    }, 'three answered calls on record');

    let dropped = false;
    let reconnected = false;
    service.ari.onConnectionChange((state) => {
      if (state === 'disconnected') dropped = true;
      else if (dropped) reconnected = true;
    });
    const originatesBefore = originates.length;
    const restarted = emulator.restart({ downMs: 1000 });
    await eventually(() => dropped, 'the events socket dropped');
    // A taker logs on while Asterisk is away: nothing can be offered until it is back.
    await c.makeAvailable('taker3');
    await restarted;
    expect((await Promise.all([talking.ended, ringing.ended, waiting.ended])).map((e) => e.hungUpBy)).toEqual(
      ['shutdown', 'shutdown', 'shutdown'],
    );
    await eventually(() => reconnected && service.ari.connected, 'the service reconnected', 20_000);

    const rows = await eventually(
      async () => {
        const list = await c.database.db.selectFrom('calls').selectAll().execute();
        return list.length === 3 && list.every((row) => row.disposition !== null) ? list : undefined;
      },
      'the three cut calls closed',
      20_000,
    );
    const byChannel = new Map(rows.map((row) => [row.caller_channel_id, row]));
    // The conversation happened: it stays `connected`, cut by the system, not by the caller.
    expect(byChannel.get(talking.channelId)).toMatchObject({
      disposition: 'connected',
      ended_by: 'system',
      taker_id: 'taker1',
    });
    // Nobody hung up on the waiting and ringing calls: they were lost.
    expect(byChannel.get(ringing.channelId)).toMatchObject({ disposition: 'lost', ended_by: 'system' });
    expect(byChannel.get(waiting.channelId)).toMatchObject({ disposition: 'lost', ended_by: 'system' });
    for (const row of rows) {
      const events = await c.calls.listCallEvents(row.id);
      expect(events.find((e) => e.type === 'vanished')?.detail).toMatchObject({ asteriskRestarted: true });
      const ended = events.filter((e) => e.type === 'ended');
      expect(ended).toMatchObject([{ detail: { reason: 'asterisk-restarted', endedBy: 'system' } }]);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    }
    // Nothing was offered while Asterisk was away or to a call it had already lost.
    expect(originates.slice(originatesBefore)).toEqual([]);
    const offersFailed = await c.database.db
      .selectFrom('call_events')
      .select('type')
      .where('type', '=', 'offer-failed')
      .execute();
    expect(offersFailed).toEqual([]);

    // The takers on those calls are free again, none of them blamed.
    for (const takerId of ['taker1', 'taker2', 'taker3']) {
      await eventually(
        async () => (await service.queue.getTaker(takerId))?.state === 'available',
        `${takerId} available`,
      );
    }
    // The callers we lost are owed a callback, as if they had hung up while waiting.
    await eventually(async () => {
      const owed = await c.database.db.selectFrom('callbacks').select('call_id').execute();
      const calls = new Set(owed.map((row) => row.call_id));
      return (
        calls.size === 2 &&
        calls.has(byChannel.get(ringing.channelId)!.id) &&
        calls.has(byChannel.get(waiting.channelId)!.id)
      );
    }, 'callbacks owed to the two lost callers');

    // The next caller reaches a person.
    const next = emulator.placeCall({ from: '081200000004' });
    expect(next.outcome).toBe('stasis');
    await untilBridged(c, next, 'a new caller bridged after the restart');
    next.hangup();
    await eventually(async () => {
      const row = await c.database.db
        .selectFrom('calls')
        .selectAll()
        .where('caller_channel_id', '=', next.channelId)
        .executeTakeFirst();
      return row?.disposition === 'connected';
    }, 'the new call recorded as connected');
    await eventually(() => {
      const { channels, bridges, playbacks } = emulator.snapshot();
      return channels.length + bridges.length + playbacks.length === 0;
    }, 'nothing left in Asterisk');
    expect(emulator.violations).toEqual([]);
  }, 90_000);
});
