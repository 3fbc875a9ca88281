import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { ari, channelOf, type EventStream, openEvents, PASSWORD, sleep, USER } from './ari-test-client.ts';

const GREETING = 'sound:siaga112/greeting';

describe('Asterisk emulator: call lifecycles as OBSERVED.md records them', () => {
  let emulator: AsteriskEmulator;
  let events: EventStream;

  beforeEach(async () => {
    // timeScale 10: a 1 s speech step takes 100 ms; talk-detection latencies shrink alike.
    emulator = await startAsteriskEmulator({
      username: USER,
      password: PASSWORD,
      sounds: { [GREETING]: 80 },
      timeScale: 10,
    });
    events = await openEvents(emulator, 'siaga112');
  });

  afterEach(async () => {
    await events.close();
    await emulator.stop();
    expect(emulator.violations).toEqual([]);
  });

  it('an inbound call arrives in Stasis in state Ring with its args and caller id as delivered', async () => {
    const call = emulator.placeCall({ from: 'anonymous', trunk: 'indosat', appArgs: ['indosat', 'x'] });
    expect(call.outcome).toBe('stasis');
    const start = await events.next('StasisStart');
    expect(start.args).toEqual(['indosat', 'x']);
    expect(start.channel).toMatchObject({
      id: call.channelId,
      state: 'Ring',
      caller: { number: 'anonymous' },
      dialplan: { context: 'from-trunk', exten: '112', app_name: 'Stasis' },
    });
    expect(channelOf(start).id).toMatch(/^\d+\.\d+$/);
    expect((start.channel as { name: string }).name).toMatch(/^PJSIP\/indosat-[0-9a-f]{8}$/);
  });

  it('answer sends ChannelStateChange Up before its 204, and answering twice gives 204 twice', async () => {
    const order: string[] = [];
    emulator.on('event', (e) => order.push(`event:${String(e.event.type)}`));
    emulator.on('request', (r) => order.push(`reply:${r.operation}:${r.status}`));
    const call = emulator.placeCall({ from: '081234567890' });
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/answer`)).status).toBe(204);
    expect((await ari(emulator, 'POST', `/channels/${call.channelId}/answer`)).status).toBe(204);
    expect(order).toEqual([
      'event:StasisStart',
      'event:ChannelStateChange',
      'reply:channels.answer:204',
      'reply:channels.answer:204',
    ]);
    expect(channelOf(await events.next('ChannelStateChange')).state).toBe('Up');
  });

  it('plays known sounds to done and unknown sounds to failed at once', async () => {
    const call = emulator.placeCall({ from: '081234567890' });
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    const ok = await ari(emulator, 'POST', `/channels/${call.channelId}/play/pb-ok?media=${GREETING}`);
    expect(ok).toMatchObject({
      status: 201,
      body: { id: 'pb-ok', state: 'queued', target_uri: `channel:${call.channelId}` },
    });
    const bad = await ari(
      emulator,
      'POST',
      `/channels/${call.channelId}/play/pb-bad?media=sound:no-such-file`,
    );
    expect(bad.status).toBe(201);
    const failed = await events.next(
      'PlaybackFinished',
      (e) => (e.playback as { id: string }).id === 'pb-bad',
    );
    expect(failed.playback).toMatchObject({ state: 'failed' });
    const done = await events.next('PlaybackFinished', (e) => (e.playback as { id: string }).id === 'pb-ok');
    expect(done.playback).toMatchObject({ state: 'done' });
    expect(events.ofType('PlaybackStarted')).toHaveLength(2);
  });

  it('a taker that never answers is destroyed with cause 19 after the originate timeout, without StasisStart', async () => {
    emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    const reply = await ari(
      emulator,
      'POST',
      '/channels?endpoint=PJSIP/taker1&app=siaga112&timeout=1&channelId=t1',
    );
    expect(reply).toMatchObject({ status: 200, body: { id: 't1', state: 'Down' } });
    expect(channelOf(await events.next('ChannelStateChange')).state).toBe('Ringing');
    const destroyed = await events.next('ChannelDestroyed', () => true, 3_000);
    expect(destroyed).toMatchObject({ cause: 19, cause_txt: 'User alerting, no answer' });
    expect(events.ofType('StasisStart')).toEqual([]);
    expect(emulator.snapshot().channels).toEqual([]);
  });

  it('a taker that rejects is destroyed with its cause', async () => {
    emulator.setEndpoint('PJSIP/taker2', { answer: 'reject', cause: 21 });
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker2&app=siaga112');
    expect(await events.next('ChannelDestroyed')).toMatchObject({ cause: 21 });
    expect(events.ofType('StasisStart')).toEqual([]);
  });

  it('an answering taker gives Ringing, Dial, Up, then StasisStart (Up, with appArgs)', async () => {
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 100 });
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112&appArgs=taker,call-9');
    const start = await events.next('StasisStart');
    expect(start.args).toEqual(['taker', 'call-9']);
    expect(channelOf(start).state).toBe('Up');
    const types = events.events.map((e) => e.type);
    expect(types.indexOf('Dial')).toBeGreaterThan(types.indexOf('ChannelStateChange'));
    expect(types.filter((t) => t === 'Dial').length).toBeGreaterThanOrEqual(2);
    expect(types.slice(-2)).toEqual(['ChannelStateChange', 'StasisStart']);
  });

  it('the trunk channel gets no ChannelDestroyed after StasisEnd; an originated channel does', async () => {
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    const call = emulator.placeCall({ from: '081234567890' });
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112&channelId=taker-leg');
    await events.next('StasisStart', (e) => channelOf(e).id === 'taker-leg');
    call.hangup();
    expect(await call.ended).toMatchObject({ hungUpBy: 'caller', cause: 16 });
    expect(await ari(emulator, 'DELETE', '/channels/taker-leg')).toEqual({ status: 204, body: undefined });
    await events.next('ChannelDestroyed', (e) => channelOf(e).id === 'taker-leg');
    const forCaller = events.events.filter(
      (e) => (e.channel as { id?: string } | undefined)?.id === call.channelId,
    );
    expect(forCaller.map((e) => e.type)).toEqual(['StasisStart', 'ChannelHangupRequest', 'StasisEnd']);
    expect(forCaller[1]).toMatchObject({ cause: 16 });
    const forTaker = events.events.filter((e) => e.type !== 'Dial' && channelOf(e).id === 'taker-leg');
    expect(forTaker.map((e) => e.type).slice(-3)).toEqual([
      'ChannelHangupRequest',
      'StasisEnd',
      'ChannelDestroyed',
    ]);
    expect(forTaker.at(-3)).toMatchObject({ soft: true });
    expect(await ari(emulator, 'DELETE', '/channels/taker-leg')).toEqual({
      status: 404,
      body: { message: 'Channel not found' },
    });
  });

  it('reports talking only after TALK_DETECT(set), with the talk duration', async () => {
    const call = emulator.placeCall({
      from: '081234567890',
      caller: [{ speak: 2 }, { silence: 4 }, { speak: 2 }],
    });
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    // First burst (0–200 ms real) goes unreported: detection is not on yet.
    await sleep(300);
    expect(events.ofType('ChannelTalkingStarted')).toEqual([]);
    await ari(emulator, 'POST', `/channels/${call.channelId}/variable?variable=TALK_DETECT(set)&value=`);
    await events.next('ChannelTalkingStarted');
    const finished = await events.next('ChannelTalkingFinished');
    expect(finished.duration).toBeGreaterThanOrEqual(1_900);
    expect(events.ofType('ChannelTalkingStarted')).toHaveLength(1);
  });

  it('delivers keys as ChannelDtmfReceived with digit and duration_ms', async () => {
    const call = emulator.placeCall({ from: '081234567890', caller: [{ dtmf: '5*' }] });
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    await events.next('ChannelDtmfReceived', (e) => e.digit === '*');
    expect(events.ofType('ChannelDtmfReceived').map((e) => [e.digit, e.duration_ms])).toEqual([
      ['5', 100],
      ['*', 100],
    ]);
  });

  it('with no app connected the call falls back and no events go anywhere', async () => {
    const call = emulator.placeCall({ from: '081234567890', app: 'not-connected' });
    expect(call.outcome).toBe('fallback');
    expect(await call.ended).toMatchObject({ hungUpBy: 'dialplan' });
    expect(emulator.fallbackCalls).toMatchObject([{ channelId: call.channelId, app: 'not-connected' }]);
    expect(events.events).toEqual([]);
  });

  it('a newer WebSocket for the same app replaces the older one', async () => {
    const newer = await openEvents(emulator, 'siaga112');
    try {
      await events.next('ApplicationReplaced');
      const call = emulator.placeCall({ from: '081234567890' });
      await newer.next('StasisStart', (e) => channelOf(e).id === call.channelId);
      expect(events.ofType('StasisStart')).toEqual([]);
    } finally {
      await newer.close();
    }
  });

  it('a WebSocket drop keeps channels in Stasis; reconnecting does not replay StasisStart', async () => {
    const call = emulator.placeCall({ from: '081234567890' });
    await events.next('StasisStart');
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    emulator.dropWebSockets();
    expect(emulator.snapshot().channels.map((c) => c.id)).toEqual([call.channelId]);
    call.pressKeys('1'); // its event is due in 10 ms, while nobody listens: dropped
    await sleep(100);
    const again = await openEvents(emulator, 'siaga112');
    try {
      call.pressKeys('2');
      await again.next('ChannelDtmfReceived', (e) => e.digit === '2');
      expect(again.ofType('StasisStart')).toEqual([]);
      expect(again.ofType('ChannelDtmfReceived').map((e) => e.digit)).toEqual(['2']);
      const app = await ari(emulator, 'GET', '/applications/siaga112');
      expect(app.body).toMatchObject({ name: 'siaga112', channel_ids: [call.channelId] });
    } finally {
      await again.close();
    }
  });

  it('leaves nothing behind after a full call: snapshot is empty', async () => {
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 20, hangupAfterMs: 300 });
    const call = emulator.placeCall({ from: '+6281234567890', patienceMs: 60_000 });
    await ari(emulator, 'POST', `/channels/${call.channelId}/answer`);
    await ari(emulator, 'POST', `/channels/${call.channelId}/moh`);
    await ari(emulator, 'POST', `/channels/${call.channelId}/play/long?media=${GREETING}`);
    await ari(emulator, 'POST', '/channels?endpoint=PJSIP/taker1&app=siaga112&channelId=tk');
    await events.next('StasisStart', (e) => channelOf(e).id === 'tk');
    await ari(emulator, 'POST', '/bridges?type=mixing&bridgeId=call-bridge');
    await ari(emulator, 'POST', `/bridges/call-bridge/addChannel?channel=${call.channelId},tk`);
    await events.next('ChannelDestroyed', (e) => channelOf(e).id === 'tk', 3_000);
    await ari(emulator, 'DELETE', `/channels/${call.channelId}`);
    expect(await call.ended).toMatchObject({ hungUpBy: 'app' });
    await ari(emulator, 'DELETE', '/bridges/call-bridge');
    await events.next('BridgeDestroyed');
    expect(emulator.snapshot()).toEqual({ channels: [], bridges: [], playbacks: [] });
  });
});
