import ari from 'ari-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAriSpec } from '../../src/emulator/ari-spec.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { validateEvent } from '../../src/emulator/event-validator.ts';

// Recording through ari-client 2.2.0 (its API generated from the spec at connect): every event and
// response the emulator sends must match Asterisk 22's models.
const spec = loadAriSpec();
const USER = 'siaga112';
const PASSWORD = 'contract-secret';

type Op = (params?: Record<string, unknown>) => Promise<Record<string, unknown>>;
interface RecordingClient {
  start(app: string): Promise<void>;
  stop(): void;
  on(event: '*', listener: (event: Record<string, unknown>) => void): void;
  channels: Record<'answer' | 'record' | 'originate', Op>;
  bridges: Record<'create' | 'addChannel' | 'record' | 'destroy', Op>;
  recordings: Record<
    'getLive' | 'stop' | 'pause' | 'unpause' | 'listStored' | 'getStored' | 'copyStored' | 'deleteStored',
    Op
  >;
}

describe('emulator contract: recordings through ari-client 2.2.0 over real sockets', () => {
  let emulator: AsteriskEmulator;
  let client: RecordingClient;
  const received: Record<string, unknown>[] = [];

  beforeAll(async () => {
    emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD, timeScale: 10 });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    client = (await ari.connect(emulator.url, USER, PASSWORD)) as unknown as RecordingClient;
    client.on('*', (event) => received.push(event));
    await client.start('siaga112');
  });

  afterAll(async () => {
    client?.stop();
    await emulator?.stop();
  });

  const waitFor = async (type: string, name: string) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const hit = received.find(
        (e) => e.type === type && (e.recording as { name?: string } | undefined)?.name === name,
      );
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no ${type} for ${name}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const waitForChannel = async (type: string, id: string) => {
    const deadline = Date.now() + 5_000;
    while (!received.some((e) => e.type === type && (e.channel as { id?: string })?.id === id)) {
      if (Date.now() > deadline) throw new Error(`no ${type} for ${id}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('records a leg, then the bridge, stops and stores them without a single spec violation', async () => {
    const call = emulator.placeCall({ from: '+6281234567890' });
    await waitForChannel('StasisStart', call.channelId);
    await client.channels.answer({ channelId: call.channelId });
    const leg = await client.channels.record({ channelId: call.channelId, name: 'leg', format: 'wav' });
    expect(leg).toMatchObject({ name: 'leg', state: 'queued' });
    await waitFor('RecordingStarted', 'leg');
    await client.recordings.pause({ recordingName: 'leg' });
    await client.recordings.unpause({ recordingName: 'leg' });
    expect(await client.recordings.getLive({ recordingName: 'leg' })).toMatchObject({ state: 'recording' });
    await client.recordings.stop({ recordingName: 'leg' });
    await waitFor('RecordingFinished', 'leg');

    await client.channels.originate({ endpoint: 'PJSIP/taker1', app: 'siaga112', channelId: 'tk' });
    await waitForChannel('StasisStart', 'tk');
    await client.bridges.create({ type: 'mixing', bridgeId: 'br' });
    await client.bridges.addChannel({ bridgeId: 'br', channel: [call.channelId, 'tk'] });
    await client.bridges.record({ bridgeId: 'br', name: 'mix', format: 'wav', ifExists: 'fail' });
    await waitFor('RecordingStarted', 'mix');
    await client.bridges.destroy({ bridgeId: 'br' });
    await waitFor('RecordingFinished', 'mix');

    const stored = await client.recordings.listStored();
    expect(Array.from(stored as unknown as Array<{ name: string }>, (r) => r.name)).toEqual(['leg', 'mix']);
    await client.recordings.getStored({ recordingName: 'mix' });
    await client.recordings.copyStored({ recordingName: 'mix', destinationRecordingName: 'mix-copy' });
    await client.recordings.deleteStored({ recordingName: 'mix-copy' });
    call.hangup();

    expect(received.flatMap((event) => validateEvent(spec, event))).toEqual([]);
    expect(emulator.violations).toEqual([]);
  });
});
