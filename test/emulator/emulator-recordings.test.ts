import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWavFormat } from '../../src/asterisk-conf/wav-header.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import {
  type AriTestEvent,
  ari,
  type EventStream,
  openEvents,
  PASSWORD,
  sleep,
  USER,
} from './ari-test-client.ts';

/** Recording over ARI as resource_channels.c, resource_bridges.c and res_stasis_recording.c do it. */
describe('Asterisk emulator: recordings', () => {
  let emulator: AsteriskEmulator;
  let events: EventStream;

  beforeEach(async () => {
    emulator = await startAsteriskEmulator({ username: USER, password: PASSWORD, timeScale: 10 });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20 });
    events = await openEvents(emulator, 'siaga112');
  });

  afterEach(async () => {
    await events.close();
    const dir = emulator.recordingsDir;
    await emulator.stop();
    expect(emulator.violations).toEqual([]);
    // The emulator made the directory, so it removes it.
    expect(existsSync(dir)).toBe(false);
  });

  const about = (id: string) => (e: AriTestEvent) => (e.channel as { id?: string } | undefined)?.id === id;
  const named = (name: string) => (e: AriTestEvent) => (e.recording as { name?: string }).name === name;
  const file = (name: string) => join(emulator.recordingsDir, `${name}.wav`);

  async function answeredCall(): Promise<string> {
    const call = emulator.placeCall({ from: '081234567890' });
    await events.next('StasisStart', about(call.channelId));
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/answer`)).status).toBe(204);
    return call.channelId;
  }

  async function takerLeg(): Promise<string> {
    const reply = await ari(emulator, 'POST', '/channels/taker-leg?endpoint=PJSIP/taker1&app=siaga112');
    expect(reply.status).toBe(200);
    await events.next('StasisStart', about('taker-leg'));
    return 'taker-leg';
  }

  const record = (channelId: string, name: string, extra = '') =>
    ari(emulator, 'POST', `/channels/${channelId}/record?name=${name}&format=wav${extra}`);

  it("records a caller's leg to a wav file; the leg cannot join a bridge until it is stopped", async () => {
    const caller = await answeredCall();
    const taker = await takerLeg();
    const started = await record(caller, 'call-1-caller', '&ifExists=fail&maxSilenceSeconds=0&beep=false');
    expect(started.status).toBe(201);
    expect(started.body).toEqual({
      name: 'call-1-caller',
      format: 'wav',
      state: 'queued',
      target_uri: `channel:${caller}`,
    });
    const event = await events.next('RecordingStarted', named('call-1-caller'));
    expect(event.recording).toEqual({ ...(started.body as object), state: 'recording' });
    expect((await ari(emulator, 'GET', '/recordings/live/call-1-caller')).body).toMatchObject({
      state: 'recording',
    });
    // format_wav writes its header first; the sizes are set when the file is closed.
    expect(statSync(file('call-1-caller')).size).toBe(44);

    await ari(emulator, 'POST', '/bridges/b-1?type=mixing');
    const refused = await ari(emulator, 'POST', `/bridges/b-1/addChannel?channel=${taker},${caller}`);
    expect(refused).toEqual({ status: 409, body: { message: `Channel ${caller} currently recording` } });
    // Asterisk adds one by one and stops at the refused channel: the taker before it is in.
    await events.next('ChannelEnteredBridge', about(taker));

    await sleep(120);
    expect((await ari(emulator, 'POST', '/recordings/live/call-1-caller/stop')).status).toBe(204);
    const finished = await events.next('RecordingFinished', named('call-1-caller'));
    expect(finished.recording).toMatchObject({ state: 'done', target_uri: `channel:${caller}` });
    const duration = (finished.recording as { duration: number }).duration;
    expect(duration).toBeGreaterThanOrEqual(1);
    expect((await ari(emulator, 'GET', '/recordings/live/call-1-caller')).status).toBe(404);
    expect((await ari(emulator, 'POST', `/bridges/b-1/addChannel?channel=${caller}`)).status).toBe(204);

    const wav = readWavFormat(readFileSync(file('call-1-caller')));
    expect(wav).toMatchObject({ audioFormat: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16 });
    expect(Math.floor(wav.durationSeconds)).toBe(duration);
    expect((await ari(emulator, 'GET', '/recordings/stored')).body).toEqual([
      { name: 'call-1-caller', format: 'wav' },
    ]);
    expect((await ari(emulator, 'GET', '/recordings/stored/call-1-caller')).body).toEqual({
      name: 'call-1-caller',
      format: 'wav',
    });
    const download = await fetch(`${emulator.url}/ari/recordings/stored/call-1-caller/file`, {
      headers: { Authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('audio/wav');
    expect(Buffer.from(await download.arrayBuffer()).equals(readFileSync(file('call-1-caller')))).toBe(true);

    // The name is taken now: ifExists=fail (the default) refuses it, overwrite does not.
    expect(await record(caller, 'call-1-caller')).toEqual({
      status: 409,
      body: { message: "Recording 'call-1-caller' already exists and can not be overwritten" },
    });
    // Bridged, a channel's record request is accepted, then record_file refuses to run.
    expect((await record(caller, 'call-1-again', '&ifExists=overwrite')).status).toBe(201);
    const failed = await events.next('RecordingFailed', named('call-1-again'));
    expect(failed.recording).toMatchObject({
      state: 'failed',
      cause: 'Cannot record channel while in bridge',
    });
  });

  it('finishes a recording when its channel hangs up, before StasisEnd, keeping the audio', async () => {
    const caller = await answeredCall();
    expect((await record(caller, 'gone')).status).toBe(201);
    await events.next('RecordingStarted', named('gone'));
    await sleep(150);
    emulator.hangupChannel(caller);
    await events.next('StasisEnd', about(caller));
    const types = events.events.map((e) => e.type);
    expect(types.indexOf('RecordingFinished')).toBeLessThan(types.lastIndexOf('StasisEnd'));
    expect(readWavFormat(readFileSync(file('gone'))).durationSeconds).toBeGreaterThan(1);
  });

  it("records a bridge's mix, told to the apps of the bridge, until the bridge is destroyed", async () => {
    const caller = await answeredCall();
    const taker = await takerLeg();
    await ari(emulator, 'POST', '/bridges/b-2?type=mixing');
    expect((await ari(emulator, 'POST', `/bridges/b-2/addChannel?channel=${caller},${taker}`)).status).toBe(
      204,
    );
    await events.next('ChannelEnteredBridge', about(taker));
    expect((await ari(emulator, 'POST', '/bridges/nope/record?name=x&format=wav')).status).toBe(404);
    const started = await ari(emulator, 'POST', '/bridges/b-2/record?name=rec/b-2&format=wav');
    expect(started).toEqual({
      status: 201,
      body: { name: 'rec/b-2', format: 'wav', state: 'queued', target_uri: 'bridge:b-2' },
    });
    await events.next('RecordingStarted', named('rec/b-2'));
    // The Recorder channel is Asterisk's own: it is not one of the bridge's members to the app.
    expect(emulator.snapshot().bridges[0]?.channels).toEqual([caller, taker]);
    await sleep(120);
    expect((await ari(emulator, 'DELETE', '/bridges/b-2')).status).toBe(204);
    await events.next('BridgeDestroyed');
    const types = events.events.map((e) => e.type);
    expect(types.indexOf('RecordingFinished')).toBeLessThan(types.indexOf('BridgeDestroyed'));
    // Names with a slash are subdirectories of the recording directory.
    expect(existsSync(join(emulator.recordingsDir, 'rec', 'b-2.wav'))).toBe(true);
    expect((await ari(emulator, 'GET', '/recordings/stored/rec%2Fb-2')).status).toBe(200);
  });

  it('answers bad requests as Asterisk does, in its order of checks', async () => {
    const caller = await answeredCall();
    expect((await record('nobody', 'x')).status).toBe(404);
    expect(await record(caller, 'x', '&maxDurationSeconds=-1')).toEqual({
      status: 400,
      body: { message: 'max_duration_seconds cannot be negative' },
    });
    expect((await record(caller, 'x', '&ifExists=replace')).body).toEqual({ message: 'ifExists invalid' });
    expect((await record(caller, 'x', '&terminateOn=5')).body).toEqual({ message: 'terminateOn invalid' });
    expect(await ari(emulator, 'POST', `/channels/${caller}/record?name=x&format=mp3`)).toEqual({
      status: 422,
      body: { message: 'specified format is unknown on this system' },
    });
    expect(await record(caller, '../etc/x')).toEqual({
      status: 400,
      body: { message: 'Recording name invalid' },
    });
    for (const op of ['stop', 'pause', 'mute']) {
      expect((await ari(emulator, 'POST', `/recordings/live/none/${op}`)).status).toBe(404);
    }
    expect((await ari(emulator, 'DELETE', '/recordings/stored/none')).status).toBe(404);
    expect((await ari(emulator, 'GET', '/recordings/stored/none/file')).status).toBe(404);
  });

  it('pauses, mutes, cancels (the file goes) and ends at maxDurationSeconds', async () => {
    const caller = await answeredCall();
    expect((await record(caller, 'paused')).status).toBe(201);
    await events.next('RecordingStarted', named('paused'));
    for (const [method, op] of [
      ['POST', 'pause'],
      ['DELETE', 'pause'],
      ['POST', 'mute'],
      ['DELETE', 'mute'],
    ] as const) {
      expect((await ari(emulator, method, `/recordings/live/paused/${op}`)).status).toBe(204);
    }
    expect((await ari(emulator, 'DELETE', '/recordings/live/paused')).status).toBe(204);
    await events.next('RecordingFinished', named('paused'));
    expect(existsSync(file('paused'))).toBe(false);

    expect((await record(caller, 'short', '&maxDurationSeconds=1')).status).toBe(201);
    const finished = await events.next('RecordingFinished', named('short'));
    expect(finished.recording).toMatchObject({ state: 'done', duration: 1 });

    expect(
      (await ari(emulator, 'POST', '/recordings/stored/short/copy?destinationRecordingName=copy')).body,
    ).toEqual({
      name: 'copy',
      format: 'wav',
    });
    expect(
      (await ari(emulator, 'POST', '/recordings/stored/short/copy?destinationRecordingName=copy')).status,
    ).toBe(409);
    expect((await ari(emulator, 'DELETE', '/recordings/stored/copy')).status).toBe(204);
    expect(existsSync(file('copy'))).toBe(false);
  });

  it('meets the faults a test sets: no directory (500), no format_wav (422), a file it cannot write', async () => {
    const caller = await answeredCall();
    emulator.setRecordingFault('no-directory');
    expect(await record(caller, 'a')).toEqual({ status: 500, body: { message: 'Internal Server Error' } });
    emulator.setRecordingFault('unknown-format');
    expect((await record(caller, 'a')).status).toBe(422);
    emulator.setRecordingFault('unwritable');
    expect((await record(caller, 'a')).status).toBe(201);
    await events.next('RecordingStarted', named('a'));
    const finished = await events.next('RecordingFinished', named('a'));
    // Asterisk reports the recording finished, with no duration, and there is no file.
    expect(finished.recording).toEqual({
      name: 'a',
      format: 'wav',
      state: 'done',
      target_uri: `channel:${caller}`,
    });
    expect(existsSync(file('a'))).toBe(false);
    emulator.setRecordingFault(null);
    expect((await record(caller, 'a')).status).toBe(201);
  });
});
