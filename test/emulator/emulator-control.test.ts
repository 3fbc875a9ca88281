import { describe, expect, it } from 'vitest';
import { startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { ari, channelOf, openEvents, PASSWORD, USER } from './ari-test-client.ts';

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
