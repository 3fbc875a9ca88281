import { describe, expect, it } from 'vitest';
import { startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { ari, channelOf, openEvents, PASSWORD, sleep, USER } from './ari-test-client.ts';

const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('Asterisk emulator: control API', () => {
  it('a caller out of patience hangs up unless bridged with someone; hangupChannel ends any channel', async () => {
    const emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD, timeScale: 20 });
    const events = await openEvents(emulator, 'siaga112');
    try {
      const impatient = emulator.placeCall({ from: '081234567890', patienceMs: 2_000 });
      expect(await impatient.ended).toMatchObject({ hungUpBy: 'caller', cause: 16 });

      const other = emulator.placeCall({ from: '081234567891' });
      expect(emulator.hangupChannel(other.channelId, 17)).toBe(true);
      expect(await other.ended).toMatchObject({ hungUpBy: 'caller', cause: 17 });
      expect(emulator.hangupChannel(other.channelId)).toBe(false);
      const request = await events.next('ChannelHangupRequest', (e) => channelOf(e).id === other.channelId);
      expect(request.cause).toBe(17);
    } finally {
      await events.close();
      await emulator.stop();
    }
    expect(emulator.violations).toEqual([]);
  });

  it('pickUp answers a ringing phone now: Dial ANSWER, Up, then StasisStart', async () => {
    const emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD });
    const events = await openEvents(emulator, 'siaga112');
    try {
      emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
      const originated = await ari(
        emulator,
        'POST',
        '/channels/taker-leg-1?endpoint=PJSIP/taker1&app=siaga112&appArgs=offer&timeout=30',
      );
      expect(originated.status).toBe(200);
      await events.next('ChannelStateChange', (e) => channelOf(e).state === 'Ringing');
      expect(emulator.pickUp('taker-leg-1')).toBe(true);
      const start = await events.next('StasisStart', (e) => channelOf(e).id === 'taker-leg-1');
      expect(start).toMatchObject({ args: ['offer'], channel: { state: 'Up' } });
      expect(events.ofType('Dial').map((e) => e.dialstatus)).toEqual(['RINGING', 'ANSWER']);
      expect(emulator.pickUp('taker-leg-1')).toBe(false);
      expect(emulator.pickUp('no-such-channel')).toBe(false);
    } finally {
      await events.close();
      await emulator.stop();
    }
    expect(emulator.violations).toEqual([]);
  });

  it('restart(): sockets drop, every channel and bridge is gone without an event, ARI refuses, then is back with a new startup time', async () => {
    const emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD });
    let events = await openEvents(emulator, 'siaga112');
    try {
      emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
      const call = emulator.placeCall({ from: '081234567890' });
      await events.next('StasisStart', (e) => channelOf(e).id === call.channelId);
      expect(
        (await ari(emulator, 'POST', '/applications/siaga112/subscription?eventSource=endpoint:PJSIP'))
          .status,
      ).toBe(200);
      expect((await ari(emulator, 'POST', '/bridges/b1?type=mixing')).status).toBe(200);
      expect((await ari(emulator, 'POST', `/bridges/b1/addChannel?channel=${call.channelId}`)).status).toBe(
        204,
      );
      expect(
        (await ari(emulator, 'POST', '/channels/leg1?endpoint=PJSIP/taker1&app=siaga112&timeout=30')).status,
      ).toBe(200);
      const before = (await ari(emulator, 'GET', '/asterisk/info')).body as {
        status: { startup_time: string };
      };
      const seen = events.events.length;

      const restarted = emulator.restart({ downMs: 200 });
      await sleep(50);
      await expect(fetch(`${emulator.url}/ari/asterisk/ping`)).rejects.toThrow();
      expect(() => emulator.placeCall({ from: '081234567891' })).toThrow(/restarting/);
      await restarted;

      expect(await call.ended).toMatchObject({ hungUpBy: 'shutdown' });
      expect(events.events.length).toBe(seen);
      expect(emulator.snapshot()).toEqual({ channels: [], bridges: [], playbacks: [] });
      const after = (await ari(emulator, 'GET', '/asterisk/info')).body as {
        status: { startup_time: string };
      };
      expect(after.status.startup_time).not.toBe(before.status.startup_time);
      expect((await ari(emulator, 'GET', '/applications')).body).toEqual([]);
      expect((await ari(emulator, 'GET', '/endpoints/PJSIP/taker1')).body).toMatchObject({ state: 'online' });

      // An app connecting again starts from nothing: no channels, no subscriptions; calls arrive.
      events = await openEvents(emulator, 'siaga112');
      expect((await ari(emulator, 'GET', '/applications/siaga112')).body).toMatchObject({
        channel_ids: [],
        bridge_ids: [],
        endpoint_ids: [],
      });
      const next = emulator.placeCall({ from: '081234567892' });
      expect(next.outcome).toBe('stasis');
      expect(next.channelId).not.toBe(call.channelId);
      await events.next('StasisStart', (e) => channelOf(e).id === next.channelId);
    } finally {
      await events.close();
      await emulator.stop();
    }
    expect(emulator.violations).toEqual([]);
  });

  it('removeEndpoint makes originate fail as for an unknown endpoint', async () => {
    const emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD });
    try {
      emulator.setEndpoint('PJSIP/taker9', { answer: 'never' });
      emulator.removeEndpoint('PJSIP/taker9');
      expect((await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker9&app=siaga112')).status).toBe(500);
    } finally {
      await emulator.stop();
    }
  });

  it('stop() ends live calls, clears every timer and closes the server', async () => {
    const before = timeouts();
    const emulator = await startAsteriskEmulator({
      username: USER,
      password: PASSWORD,
      sounds: { 'sound:long': 60_000 },
    });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    const events = await openEvents(emulator, 'siaga112');
    const call = emulator.placeCall({
      from: '081234567890',
      patienceMs: 120_000,
      caller: [{ silence: 1 }, { speak: 60 }],
    });
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    await ari(emulator, 'POST', `/channels/${call.channelId}/play?media=sound:long`);
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112&timeout=60');
    expect(timeouts()).toBeGreaterThan(before);
    await emulator.stop();
    expect(await call.ended).toMatchObject({ hungUpBy: 'shutdown' });
    expect(timeouts()).toBeLessThanOrEqual(before);
    await expect(fetch(`${emulator.url}/ari/asterisk/ping`)).rejects.toThrow();
    await events.close();
  });
});
