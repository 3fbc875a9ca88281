import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { ari, channelOf, type EventStream, openEvents, PASSWORD, USER } from './ari-test-client.ts';

describe('Asterisk emulator: POST /channels/{id}/continue (continueInDialplan)', () => {
  let emulator: AsteriskEmulator;
  let events: EventStream;

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD, sounds: {} });
    events = await openEvents(emulator, 'siaga112');
  });

  afterEach(async () => {
    await events.close();
    await emulator.stop();
    expect(emulator.violations).toEqual([]);
  });

  it('leaves Stasis with StasisEnd (no ChannelDestroyed) and the dialplan carries on at the target', async () => {
    const call = emulator.placeCall({ from: '081234567890', trunk: 'indosat' });
    await events.next('StasisStart');
    const reply = await ari(
      emulator,
      'POST',
      `/channels/${call.channelId}/continue?context=fallback&extension=s&priority=1`,
    );
    expect(reply.status).toBe(204);
    await events.next('StasisEnd', (e) => channelOf(e).id === call.channelId);
    expect(await call.ended).toMatchObject({ hungUpBy: 'dialplan' });
    expect(emulator.fallbackCalls).toEqual([
      expect.objectContaining({
        channelId: call.channelId,
        from: '081234567890',
        trunk: 'indosat',
        dialplan: { context: 'fallback', exten: 's', priority: 1 },
      }),
    ]);
    const forCaller = events.events.filter(
      (e) => (e.channel as { id?: string } | undefined)?.id === call.channelId,
    );
    expect(forCaller.map((e) => e.type)).toEqual(['StasisStart', 'StasisEnd']);
  });

  it('answers 404 for an unknown channel, a label the dialplan lacks, and a channel already handed to the dialplan', async () => {
    expect((await ari(emulator, 'POST', '/channels/nope/continue')).status).toBe(404);
    const call = emulator.placeCall({ from: '081234567890' });
    await events.next('StasisStart');
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/continue?label=nowhere`)).status).toBe(
      404,
    );
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/continue`)).status).toBe(204);
    // Without a target the dialplan goes on at the next priority of where it was.
    expect(emulator.fallbackCalls[0]?.dialplan).toEqual({ context: 'from-trunk', exten: '112', priority: 2 });
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/continue`)).status).toBe(404);
  });
});
