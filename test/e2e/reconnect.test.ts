import { afterEach, describe, expect, it } from 'vitest';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

async function callRows(c: CallCenterUnderTest) {
  return c.database.db.selectFrom('calls').selectAll().execute();
}

describe('losing Asterisk and restarting siaga112 mid-call', () => {
  it('re-adopts a queued call after the ARI WebSocket drops and completes it with one record', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
    const call = center.emulator.placeCall({ from: '081234567890' });
    await eventually(async () => (await center!.service.queue.waiting()).length === 1, 'the call waiting');

    let reconnected = false;
    let dropped = false;
    center.service.ari.onConnectionChange((state) => {
      if (state === 'disconnected') dropped = true;
      if (state === 'connected' && dropped) reconnected = true;
    });
    center.emulator.dropWebSockets();
    await eventually(async () => reconnected, 'the service reconnecting to ARI');
    // The caller is still in Stasis, on hold; a taker logs on after the reconnect.
    await center.makeAvailable('taker1');
    await eventually(
      async () => center!.emulator.snapshot().bridges.some((b) => b.channels.includes(call.channelId)),
      'the re-adopted call bridged to the taker',
    );
    call.hangup();

    const rows = await eventually(async () => {
      const list = await callRows(center!);
      return list[0]?.disposition ? list : undefined;
    }, 'the call record');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      disposition: 'connected',
      taker_id: 'taker1',
      caller_number: '+6281234567890',
    });
  });

  it('a restarted service re-adopts a waiting call from Redis and connects it', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
    const call = center.emulator.placeCall({ from: '081234567890' });
    await eventually(async () => (await center!.service.queue.waiting()).length === 1, 'the call waiting');
    await eventually(async () => (await callRows(center!)).length === 1, 'the first record write');

    // The first process goes away without ending the call; a new one takes over.
    await center.service.close();
    const successor = await center.startAnotherService();
    await center.makeAvailable('taker1', successor);
    await eventually(
      async () => center!.emulator.snapshot().bridges.some((b) => b.channels.includes(call.channelId)),
      'the adopted call bridged to the taker',
    );
    call.hangup();

    const rows = await eventually(async () => {
      const list = await callRows(center!);
      return list[0]?.disposition ? list : undefined;
    }, 'the call record');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ disposition: 'connected', taker_id: 'taker1' });
    const events = await center.calls.listCallEvents(rows[0]!.id);
    expect(events.map((e) => e.type)).toContain('adopted');
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  });

  it('finishes the bridging of a connected call that Asterisk no longer has bridged after a reconnect', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    await center.makeAvailable('taker1');
    const call = center.emulator.placeCall({ from: '081234567890' });
    await untilBridged(center, call);
    // As if the owner died between answering and bridging: the caller is out of the bridge.
    const bridge = center.emulator.snapshot().bridges.find((b) => b.channels.includes(call.channelId))!;
    const auth = `Basic ${Buffer.from(`${center.env.ARI_USERNAME}:${center.env.ARI_PASSWORD}`).toString('base64')}`;
    const removed = await fetch(
      `${center.emulator.url}/ari/bridges/${bridge.id}/removeChannel?channel=${call.channelId}`,
      { method: 'POST', headers: { authorization: auth } },
    );
    expect(removed.status).toBe(204);
    expect(center.emulator.snapshot().bridges.find((b) => b.id === bridge.id)?.channels).toHaveLength(1);

    center.emulator.dropWebSockets();
    await untilBridged(center, call, 'the caller back in the bridge after the reconcile', { again: true });
    call.hangup();
    const rows = await eventually(async () => {
      const list = await callRows(center!);
      return list[0]?.disposition ? list : undefined;
    }, 'the call record');
    expect(rows).toMatchObject([{ disposition: 'connected', taker_id: 'taker1' }]);
  });
});
