import ari from 'ari-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ariHandlers } from '../../src/emulator/ari-handlers.ts';
import { loadAriSpec, operationKey } from '../../src/emulator/ari-spec.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { validateEvent, validateModel, validateResponse } from '../../src/emulator/event-validator.ts';
import { SpecRouter } from '../../src/emulator/spec-router.ts';

// The emulator may only serve, read and send what Asterisk 22's own Swagger files declare.
const spec = loadAriSpec();
const USER = 'siaga112';
const PASSWORD = 'contract-secret';
const GREETING = 'sound:siaga112/greeting';

/** The slice of ari-client 2.2.0's dynamic API this test drives (generated from the spec at connect). */
type Op = (params?: Record<string, unknown>) => Promise<Record<string, unknown>>;
interface ScenarioClient {
  start(app: string): Promise<void>;
  stop(): void;
  on(event: '*', listener: (event: Record<string, unknown>) => void): void;
  asterisk: Record<'getInfo' | 'ping', Op>;
  applications: Record<'get' | 'list', Op>;
  channels: Record<
    | 'answer'
    | 'play'
    | 'startMoh'
    | 'stopMoh'
    | 'setChannelVar'
    | 'getChannelVar'
    | 'originate'
    | 'get'
    | 'list'
    | 'hangup'
    | 'ring'
    | 'sendDTMF',
    Op
  >;
  bridges: Record<'create' | 'addChannel' | 'get' | 'list' | 'destroy', Op>;
  playbacks: Record<'get' | 'stop', Op>;
}

describe('emulator contract: routes and parameters', () => {
  const router = new SpecRouter(
    spec,
    ariHandlers(() => []),
  );

  it('implements only operations the spec declares, reading only declared parameters', () => {
    expect(router.implemented.length).toBeGreaterThan(20);
    for (const implemented of router.implemented) {
      const declared = spec.operations.find((op) => operationKey(op) === operationKey(implemented));
      expect(declared, operationKey(implemented)).toBeDefined();
      expect(declared?.method).toBe(implemented.method);
      expect(declared?.path).toBe(implemented.path);
      const names = declared?.parameters.map((p) => p.name) ?? [];
      for (const param of implemented.reads)
        expect(names, `${operationKey(implemented)} reads ${param}`).toContain(param);
    }
  });

  it('refuses a handler for an operation or a parameter the spec lacks', () => {
    const base = { handle: () => ({ status: 204 }) };
    expect(
      () => new SpecRouter(spec, [{ ...base, resource: 'channels', nickname: 'teleport', reads: [] }]),
    ).toThrow(/not in the spec/);
    expect(
      () => new SpecRouter(spec, [{ ...base, resource: 'channels', nickname: 'answer', reads: ['force'] }]),
    ).toThrow(/undeclared parameters: force/);
  });

  it('routes every spec path template, and nothing else', () => {
    for (const op of spec.operations) {
      const concrete = op.path.replace(/\{[^}]+\}/g, 'x');
      const match = router.match(op.method, concrete);
      expect(match.kind, `${op.method} ${op.path}`).toBe('found');
    }
    expect(router.match('GET', '/channels/x/teleport').kind).toBe('not-found');
    expect(router.match('GET', '/telephones').kind).toBe('not-found');
  });
});

describe('emulator contract: payloads validated against the models', () => {
  it('reports a malformed event: missing, mistyped, nested and undocumented fields, bad timestamp', () => {
    const good = {
      type: 'ChannelDtmfReceived',
      application: 'siaga112',
      timestamp: '2026-11-23T09:13:27.123+0000',
      asterisk_id: '02:42:ac:11:00:02',
      digit: '5',
      duration_ms: 100,
      channel: {
        id: '1763890407.42',
        protocol_id: '',
        name: 'PJSIP/telkomsel-00000001',
        state: 'Up',
        caller: { name: '', number: '081234567890' },
        connected: { name: '', number: '' },
        accountcode: '',
        dialplan: {
          context: 'from-trunk',
          exten: '112',
          priority: 1,
          app_name: 'Stasis',
          app_data: 'siaga112',
        },
        creationtime: '2026-11-23T09:13:20.001+0000',
        language: 'en',
      },
    };
    expect(validateEvent(spec, good)).toEqual([]);
    const { digit: _omitted, ...missing } = good;
    expect(validateEvent(spec, missing)).toEqual(['ChannelDtmfReceived: missing required field digit']);
    expect(validateEvent(spec, { ...good, duration_ms: '100' })).toHaveLength(1);
    expect(validateEvent(spec, { ...good, timestamp: '2026-11-23T09:13:27Z' })).toHaveLength(1);
    expect(validateEvent(spec, { ...good, pressed_at: 1 })).toEqual([
      'ChannelDtmfReceived: undocumented field pressed_at',
    ]);
    const nested = { ...good, channel: { ...good.channel, caller: { name: '', number: 81234567890 } } };
    expect(validateEvent(spec, nested)).toEqual([
      'ChannelDtmfReceived.channel.caller.number: expected string, got number 81234567890',
    ]);
    expect(validateEvent(spec, { ...good, channel: { ...good.channel, state: 'Ringging' } })).toHaveLength(1);
    expect(validateEvent(spec, { ...good, type: 'Channel' })).toEqual(['event: Channel is not an ARI event']);
  });

  it('reports a malformed response body', () => {
    const get = spec.operations.find((op) => operationKey(op) === 'bridges.get')!;
    const answer = spec.operations.find((op) => operationKey(op) === 'channels.answer')!;
    expect(validateResponse(spec, get, 200, { id: 'b' })).not.toEqual([]);
    expect(validateResponse(spec, answer, 204, { ok: true })).not.toEqual([]);
    expect(validateResponse(spec, answer, 404, { message: 'Channel not found' })).toEqual([]);
    expect(validateResponse(spec, answer, 418, { message: 'teapot' })).not.toEqual([]);
    expect(
      validateModel(spec, 'Playback', { id: 'p', media_uri: 'm', target_uri: 't', state: 'paused' }),
    ).toHaveLength(1);
  });
});

describe('emulator contract: a full call through ari-client 2.2.0 over real sockets', () => {
  let emulator: AsteriskEmulator;
  let client: ScenarioClient;
  const received: Record<string, unknown>[] = [];

  beforeAll(async () => {
    emulator = await startAsteriskEmulator({
      username: USER,
      password: PASSWORD,
      sounds: { [GREETING]: 100 },
      timeScale: 10,
    });
    emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
    client = (await ari.connect(emulator.url, USER, PASSWORD)) as unknown as ScenarioClient;
    client.on('*', (event) => received.push(event));
    await client.start('siaga112');
  });

  afterAll(async () => {
    client?.stop();
    await emulator?.stop();
  });

  const waitFor = async (type: string, match: (e: Record<string, unknown>) => boolean = () => true) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const hit = received.find((e) => e.type === type && match(e));
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no ${type}; got ${received.map((e) => e.type).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const onChannel = (id: string) => (e: Record<string, unknown>) =>
    (e.channel as { id?: string } | undefined)?.id === id;

  it('runs inbound call, IVR, taker, bridge and teardown without a single spec violation', async () => {
    await client.asterisk.getInfo();
    await client.asterisk.ping();
    const call = emulator.placeCall({
      from: '+6281234567890',
      appArgs: ['telkomsel'],
      caller: [{ speak: 2 }, { dtmf: '55' }],
    });
    await waitFor('StasisStart', onChannel(call.channelId));
    await client.channels.ring({ channelId: call.channelId });
    await client.channels.answer({ channelId: call.channelId });
    await client.channels.setChannelVar({
      channelId: call.channelId,
      variable: 'TALK_DETECT(set)',
      value: '',
    });
    await client.channels.setChannelVar({ channelId: call.channelId, variable: 'SIAGA_CALL', value: 'c-1' });
    expect(
      await client.channels.getChannelVar({ channelId: call.channelId, variable: 'SIAGA_CALL' }),
    ).toEqual({
      value: 'c-1',
    });
    const playback = await client.channels.play({
      channelId: call.channelId,
      media: GREETING,
      playbackId: 'greet-1',
    });
    expect(playback.id).toBe('greet-1');
    await client.playbacks.get({ playbackId: 'greet-1' });
    await waitFor('PlaybackFinished');
    await client.channels.startMoh({ channelId: call.channelId, mohClass: 'default' });
    await waitFor('ChannelTalkingFinished', onChannel(call.channelId));
    await waitFor('ChannelDtmfReceived', onChannel(call.channelId));
    await client.channels.sendDTMF({ channelId: call.channelId, dtmf: '1' });

    const taker = await client.channels.originate({
      endpoint: 'PJSIP/taker1',
      app: 'siaga112',
      appArgs: 'taker,c-1',
      timeout: 5,
      callerId: '"112 Kendari" <112>',
      channelId: 'taker-c-1',
      variables: { SIAGA_CALL: 'c-1' },
    });
    expect(taker.id).toBe('taker-c-1');
    await waitFor('StasisStart', onChannel('taker-c-1'));
    await client.channels.stopMoh({ channelId: call.channelId });
    const bridge = await client.bridges.create({ type: 'mixing', bridgeId: 'bridge-c-1', name: 'call c-1' });
    await client.bridges.addChannel({ bridgeId: bridge.id, channel: [call.channelId, 'taker-c-1'] });
    await waitFor('ChannelEnteredBridge', onChannel('taker-c-1'));
    await client.bridges.get({ bridgeId: 'bridge-c-1' });
    await client.bridges.list();
    await client.channels.list();
    await client.channels.get({ channelId: call.channelId });
    await client.applications.get({ applicationName: 'siaga112' });
    await client.applications.list();

    await client.channels.hangup({ channelId: 'taker-c-1', reason: 'normal' });
    await waitFor('ChannelDestroyed', onChannel('taker-c-1'));
    call.hangup();
    await waitFor('StasisEnd', onChannel(call.channelId));
    await client.bridges.destroy({ bridgeId: 'bridge-c-1' });
    await waitFor('BridgeDestroyed');

    const eventErrors = received.flatMap((event) => validateEvent(spec, event));
    expect(eventErrors).toEqual([]);
    expect(emulator.violations).toEqual([]);
    expect(emulator.snapshot()).toEqual({ channels: [], bridges: [], playbacks: [] });
    expect(new Set(received.map((e) => e.type))).toEqual(
      new Set([
        'StasisStart',
        'ChannelStateChange',
        'PlaybackStarted',
        'PlaybackFinished',
        'ChannelTalkingStarted',
        'ChannelTalkingFinished',
        'ChannelDtmfReceived',
        'ChannelVarset',
        'Dial',
        'ChannelEnteredBridge',
        'ChannelConnectedLine',
        'ChannelHangupRequest',
        'ChannelLeftBridge',
        'StasisEnd',
        'ChannelDestroyed',
        'BridgeDestroyed',
      ]),
    );
  });
});
