import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Logger } from '../../../src/logger.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from '../call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

/** Issue #8, hostile input: what reaches the events WebSocket is logged and ignored, never a crash. */

const APP = 'siaga112';
const MB = 1024 * 1024;

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** The service's log lines, kept in memory (debug and up). */
function captureLog(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = createLogger('debug', {}, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines };
}

const WARN = 40;
const ERROR = 50;

/** The service's Prometheus samples: `name{labels}` → value. */
async function scrape(c: CallCenterUnderTest): Promise<Map<string, number>> {
  const reply = await c.service.app.inject({ method: 'GET', url: '/metrics' });
  expect(reply.statusCode).toBe(200);
  const samples = new Map<string, number>();
  for (const line of reply.body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

async function rejectedTotal(c: CallCenterUnderTest, reason: string): Promise<number> {
  return (await scrape(c)).get(`siaga112_ari_events_rejected_total{reason="${reason}"}`) ?? 0;
}

function inject(c: CallCenterUnderTest, frames: Array<string | Buffer>): void {
  for (const frame of frames) expect(c.emulator.injectEventFrame(APP, frame)).toBe(true);
}

const MALFORMED = 'ignoring malformed ARI message';

/**
 * Frames are handled in the order they arrive, each at once: once a frame sent after `frames` is
 * logged as malformed, every one of them has been through the service's event handling.
 */
async function injectAndSettle(
  c: CallCenterUnderTest,
  lines: LogLine[],
  frames: Array<string | Buffer>,
): Promise<void> {
  const malformed = () => lines.filter((l) => l.msg === MALFORMED).length;
  const before = malformed();
  inject(c, [...frames, 'barrier: not JSON']);
  await eventually(() => malformed() > before, 'the frames handled');
}

/** A channel as Asterisk describes one in events (every field the spec requires). */
function channelJson(id: string, name = 'PJSIP/telkomsel-00000099'): Record<string, unknown> {
  return {
    id,
    protocol_id: '',
    name,
    state: 'Up',
    caller: { name: '', number: '081299990000' },
    connected: { name: '', number: '' },
    accountcode: '',
    dialplan: { context: 'from-trunk', exten: '112', priority: 1, app_name: 'Stasis', app_data: APP },
    creationtime: '2026-11-23T10:00:00.000+0700',
    language: 'en',
  };
}

function eventJson(type: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ type, application: APP, timestamp: '2026-11-23T10:00:00.000+0700', ...fields });
}

/** Frames that are not ARI events at all, by the reason the service gives for rejecting them. */
const NOT_EVENTS: Record<string, Array<string | Buffer>> = {
  'too-large': [
    // 3 MB of `[`: JSON.parse alone would hold the event loop for seconds.
    `{"type":"StasisStart","args":[],"channel":${'['.repeat(3 * MB)}`,
    eventJson('ChannelDestroyed', { cause: 16, cause_txt: 'Normal Clearing', pad: 'x'.repeat(3 * MB) }),
    eventJson('HugeUnknown', { pad: 'y'.repeat(3 * MB) }),
  ],
  'too-deep': [`${'['.repeat(20_000)}`, eventJson('StasisEnd', { channel: nested(40) })],
  'not-json': ['not json at all', '{"type":', '', Buffer.from([0xff, 0xfe, 0x00, 0x81])],
  'not-an-object': ['null', '42', 'true', '"StasisStart"', '[{"type":"StasisStart","args":[]}]'],
  'no-type': ['{}', '{"channel":{"id":"1763890407.1"}}', '{"type":null}', '{"type":7}', '{"type":{"x":1}}'],
};

function nested(depth: number): unknown {
  return depth === 0 ? { id: '1763890407.1' } : { inner: nested(depth - 1) };
}

/** Known event types without the fields the service acts on, or with fields of the wrong type. */
function invalidEvents(channelId: string): string[] {
  const channel = channelJson(channelId);
  return [
    eventJson('StasisStart', { args: [] }),
    eventJson('StasisStart', { args: [], channel: { ...channel, id: 1763890407.5 } }),
    eventJson('StasisStart', { args: 'telkomsel', channel }),
    eventJson('StasisStart', { args: [7], channel }),
    eventJson('StasisStart', { args: [], channel: { ...channel, caller: null } }),
    // An own property named __proto__ (JSON.parse makes one), not a prototype with an id.
    `{"type":"StasisStart","args":[],"channel":{"__proto__":{"id":"${channelId}"}}}`,
    eventJson('ChannelDtmfReceived', { digit: 5, duration_ms: 100, channel }),
    eventJson('ChannelDtmfReceived', { digit: '5', duration_ms: 100, channel: null }),
    eventJson('ChannelHangupRequest', { cause: '16', channel }),
    eventJson('ChannelHangupRequest', { channel: { id: channelId } }),
    eventJson('ChannelDestroyed', { cause: 16, channel: { ...channel, name: 42 } }),
    eventJson('ChannelDestroyed', { cause: 'normal', cause_txt: 'Normal Clearing', channel }),
    eventJson('StasisEnd', { channel: { ...channel, id: '' } }),
    eventJson('PlaybackFinished', { playback: 'the greeting' }),
    eventJson('BridgeDestroyed', { bridge: { id: ['x'] } }),
    eventJson('RecordingFinished', { recording: { name: 7, format: 'wav', state: 'done' } }),
    eventJson('EndpointStateChange', { endpoint: { technology: 'PJSIP', resource: 'taker1', state: 0 } }),
  ];
}

/** Types Asterisk 22 never sends, some named after what every object has. */
const UNKNOWN_TYPES = [
  eventJson('NoSuchEvent', {}),
  eventJson('__proto__', { channel: channelJson('1763890407.77') }),
  eventJson('constructor', {}),
  eventJson('hasOwnProperty', {}),
  eventJson('T'.repeat(100_000), {}),
];

/** The call's only record, once it has its disposition. */
async function onlyRecord(c: CallCenterUnderTest, call: { channelId: string }) {
  return eventually(async () => {
    const rows = await c.database.db
      .selectFrom('calls')
      .select(['id', 'disposition'])
      .where('caller_channel_id', '=', call.channelId)
      .execute();
    expect(rows.length).toBeLessThanOrEqual(1);
    if (!rows[0]?.disposition) return undefined;
    return c.calls.getCall(rows[0].id);
  }, `the record of ${call.channelId}`);
}

async function timelineTypes(c: CallCenterUnderTest, callId: string): Promise<string[]> {
  const events = await eventually(async () => {
    const list = await c.calls.listCallEvents(callId);
    return list.at(-1)?.type === 'ended' ? list : undefined;
  }, 'the timeline up to the end');
  // Numbered 1…n, nothing twice.
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  return events.map((e) => e.type);
}

const count = (types: string[], type: string) => types.filter((t) => t === type).length;

/** A call put through to a taker once: each step of it on the timeline once. */
function expectOneConnectedCall(types: string[]): void {
  for (const type of ['arrived', 'queued', 'answered', 'offered', 'connected', 'bridged', 'ended']) {
    expect(count(types, type), `${type} in ${types.join(', ')}`).toBe(1);
  }
  expect(types).not.toContain('bridge-failed');
  expect(types).not.toContain('offer-failed');
}

async function takersFree(c: CallCenterUnderTest, takerIds: string[]): Promise<void> {
  await eventually(
    async () => {
      for (const takerId of takerIds) {
        if ((await c.service.queue.getTaker(takerId))?.state !== 'available') return false;
      }
      return true;
    },
    `${takerIds.join(', ')} available again`,
  );
}

async function nothingLeftBehind(c: CallCenterUnderTest): Promise<void> {
  await eventually(async () => {
    const { channels, bridges, playbacks } = c.emulator.snapshot();
    expect({ channels, bridges, playbacks }).toEqual({ channels: [], bridges: [], playbacks: [] });
    return true;
  }, 'no channel, bridge or playback left in Asterisk');
  expect(c.service.center.activeCalls).toEqual([]);
}

/** The service is up and never dropped its events socket (a crash of the handler would). */
async function stillServing(c: CallCenterUnderTest, lines: LogLine[]): Promise<void> {
  expect(c.service.ari.connected).toBe(true);
  expect(c.service.lease.leading).toBe(true);
  expect((await scrape(c)).get('siaga112_ari_reconnects_total')).toBe(0);
  expect(lines.filter((l) => l.msg === 'ARI event handler failed')).toEqual([]);
  expect(lines.filter((l) => l.msg === 'ARI events socket closed')).toEqual([]);
}

async function startCenter(takers: number, logger: Logger): Promise<CallCenterUnderTest> {
  const c = await startCallCenter({ takers, logger });
  center = c;
  for (let i = 1; i <= takers; i++) {
    c.emulator.setEndpoint(`PJSIP/taker${i}`, { answer: 'after', delayMs: 300 });
  }
  return c;
}

describe('hostile ARI events (issue #8)', () => {
  it('logs, counts and ignores frames that are no event or a malformed one, around and inside real calls', async () => {
    const log = captureLog();
    const c = await startCenter(2, log.logger);
    await c.makeAvailable('taker1');
    await c.makeAvailable('taker2');
    const fabricated = '1763890407.4242';
    const sent = new Map<string, number>();
    const add = (reason: string, n: number) => sent.set(reason, (sent.get(reason) ?? 0) + n);
    const sendAll = (channelId: string) => {
      for (const [reason, frames] of Object.entries(NOT_EVENTS)) {
        inject(c, frames);
        add(reason, frames.length);
      }
      const invalid = invalidEvents(channelId);
      inject(c, [...invalid, ...UNKNOWN_TYPES]);
      add('invalid-field', invalid.length);
    };

    sendAll(fabricated);
    // A caller arrives amid the noise; the malformed events name its channel while it is answered
    // and queued, then once it is connected: none may end it, bridge it or put a key on it.
    const first = c.emulator.placeCall({ from: '081211112001' });
    sendAll(first.channelId);
    await untilBridged(c, first);
    sendAll(first.channelId);
    const second = c.emulator.placeCall({ from: '081211112002' });
    sendAll(second.channelId);
    await untilBridged(c, second);
    sendAll(second.channelId);
    await injectAndSettle(c, log.lines, []);
    add('not-json', 1);
    first.hangup();
    second.hangup();

    // After all that, a third caller is served as usual.
    await takersFree(c, ['taker1', 'taker2']);
    const third = c.emulator.placeCall({ from: '081211112003' });
    await untilBridged(c, third);
    third.hangup();

    for (const call of [first, second, third]) {
      const record = await onlyRecord(c, call);
      expect(record).toMatchObject({ disposition: 'connected', endedBy: 'caller' });
      expect(record?.takerId).toMatch(/^taker[12]$/);
      const types = await timelineTypes(c, record!.id);
      expectOneConnectedCall(types);
      // The DTMF with a number for a digit was not a key press.
      expect(types).not.toContain('person-heard');
    }
    const records = await c.database.db.selectFrom('calls').select('caller_channel_id').execute();
    expect(records.map((r) => r.caller_channel_id).sort()).toEqual(
      [first.channelId, second.channelId, third.channelId].sort(),
    );
    await takersFree(c, ['taker1', 'taker2']);
    await nothingLeftBehind(c);
    await stillServing(c, log.lines);

    // Every frame counted by its reason and logged once, without its content.
    expect(sent.size).toBe(6);
    for (const [reason, n] of sent) {
      expect(await rejectedTotal(c, reason), reason).toBe(n);
    }
    const malformed = log.lines.filter((l) => l.msg === MALFORMED);
    expect(malformed.length).toBe([...sent.values()].reduce((a, b) => a + b, 0));
    expect(malformed.every((l) => l.level === WARN && typeof l.reason === 'string')).toBe(true);
    expect(malformed.filter((l) => (l.size as number) > 3 * MB).length).toBe(sent.get('too-large'));
    // Sizes are logged, never the frames themselves.
    expect(Math.max(...log.lines.map((l) => JSON.stringify(l).length))).toBeLessThan(16_384);
    // Types Asterisk sends that siaga112 does not use (ChannelCreated…) are logged the same way.
    const ignored = new Set(
      log.lines
        .filter((l) => l.msg === 'ignoring an ARI event type siaga112 does not use')
        .map((l) => l.type),
    );
    for (const type of ['NoSuchEvent', '__proto__', 'constructor', 'hasOwnProperty', 'T'.repeat(64)]) {
      expect(ignored).toContain(type);
    }
    expect(c.emulator.violations).toEqual([]);
  });

  it('acts once on events Asterisk delivers twice, and never on a caller or taker leg that is over', async () => {
    const log = captureLog();
    const c = await startCenter(1, log.logger);
    await c.makeAvailable('taker1');
    // Every event of these types reaches the service twice in a row.
    const twice = new Set([
      'StasisStart',
      'StasisEnd',
      'ChannelDtmfReceived',
      'ChannelHangupRequest',
      'ChannelDestroyed',
      'ChannelEnteredBridge',
      'PlaybackFinished',
      'RecordingFinished',
    ]);
    const seen: Array<{ type: string; channelId: string | undefined; json: string }> = [];
    let takerRung = 0;
    c.emulator.on('channel-created', ({ channel }) => {
      if (channel.name.startsWith('PJSIP/taker1')) takerRung += 1;
    });
    c.emulator.on('event', ({ app, event }) => {
      const json = JSON.stringify(event);
      seen.push({ type: event.type as string, channelId: (event.channel as { id?: string })?.id, json });
      if (twice.has(event.type as string)) c.emulator.injectEventFrame(app, json);
    });

    // The caller presses keys while waiting (answer to ring: 300 ms), is put through, then the
    // taker hangs up.
    const first = c.emulator.placeCall({ from: '081211113001', caller: [{ dtmf: '12' }] });
    await untilBridged(c, first);
    const takerLeg = await eventually(
      () => c.emulator.snapshot().channels.find((ch) => ch.id.startsWith('siaga112-offer-'))?.id,
      "the taker's leg",
    );
    await eventually(
      () => seen.filter((e) => e.type === 'ChannelDtmfReceived').length === 2,
      'both keys pressed',
    );
    c.emulator.hangupChannel(takerLeg);
    const firstRecord = await onlyRecord(c, first);
    expect(firstRecord).toMatchObject({ disposition: 'connected', endedBy: 'taker', takerId: 'taker1' });
    await takersFree(c, ['taker1']);

    // The second caller hangs up on a connected call.
    const second = c.emulator.placeCall({ from: '081211113002' });
    await untilBridged(c, second);
    second.hangup();
    const secondRecord = await onlyRecord(c, second);
    expect(secondRecord).toMatchObject({ disposition: 'connected', endedBy: 'caller', takerId: 'taker1' });
    await takersFree(c, ['taker1']);
    await nothingLeftBehind(c);

    // Out of order: both calls' StasisStart again (callers and taker legs), after their channels
    // were destroyed: no call may start from them, no record, no taker rung.
    const late = seen.filter((e) => e.type === 'StasisStart').map((e) => e.json);
    expect(late.length).toBe(4);
    await injectAndSettle(c, log.lines, late);
    expect(c.service.center.activeCalls).toEqual([]);

    const firstTypes = await timelineTypes(c, firstRecord!.id);
    expectOneConnectedCall(firstTypes);
    // Two keys, each delivered twice: one person heard, no more.
    expect(count(firstTypes, 'person-heard')).toBe(1);
    expect(count(firstTypes, 'greeting-finished')).toBeLessThanOrEqual(1);
    expectOneConnectedCall(await timelineTypes(c, secondRecord!.id));
    for (const record of [firstRecord!, secondRecord!]) {
      const segments = await eventually(async () => {
        const reply = await c.service.app.inject({ method: 'GET', url: `/calls/${record.id}/recordings` });
        const list = reply.json().segments as Array<{ segment: number; kind: string; state: string }>;
        return list.length >= 2 && list.every((s) => s.state !== 'recording') ? list : undefined;
      }, 'the recording segments');
      expect(segments.map((s) => [s.segment, s.kind, s.state])).toEqual([
        [1, 'caller', 'done'],
        [2, 'bridge', 'done'],
      ]);
    }

    // A call after all that is served, and it is the only new record.
    const third = c.emulator.placeCall({ from: '081211113003' });
    await untilBridged(c, third);
    third.hangup();
    expect(await onlyRecord(c, third)).toMatchObject({ disposition: 'connected', takerId: 'taker1' });
    const records = await c.database.db.selectFrom('calls').select('caller_channel_id').execute();
    expect(records.map((r) => r.caller_channel_id).sort()).toEqual(
      [first.channelId, second.channelId, third.channelId].sort(),
    );
    // One taker leg rung per call: the late StasisStarts rang nobody.
    expect(takerRung).toBe(3);
    await takersFree(c, ['taker1']);
    await nothingLeftBehind(c);
    await stillServing(c, log.lines);
    expect(c.emulator.violations).toEqual([]);
  });

  it('ignores events for channels, bridges, playbacks and recordings it never had, out of order or not', async () => {
    const log = captureLog();
    const c = await startCenter(1, log.logger);
    // A real caller waits (nobody available) while the events arrive.
    const waiting = c.emulator.placeCall({ from: '081211114001' });
    await eventually(async () => (await c.service.queue.waiting()).length === 1, 'the caller waiting');

    const unknownCall = randomUUID();
    const destroyedFirst = '1763890407.9001';
    const endedFirst = '1763890407.9002';
    const neverSeen = '1763890407.9003';
    const bridge = {
      id: 'no-such-bridge',
      technology: 'simple_bridge',
      bridge_type: 'mixing',
      bridge_class: 'stasis',
      creator: 'Stasis',
      name: '',
      channels: [neverSeen],
      creationtime: '2026-11-23T10:00:00.000+0700',
    };
    const playback = (id: string) => ({
      id,
      media_uri: 'sound:siaga112/greeting',
      target_uri: `channel:${neverSeen}`,
      state: 'done',
    });
    await injectAndSettle(c, log.lines, [
      // ChannelDestroyed before its StasisStart.
      eventJson('ChannelDestroyed', {
        cause: 16,
        cause_txt: 'Normal Clearing',
        channel: channelJson(destroyedFirst),
      }),
      eventJson('StasisStart', { args: [], channel: channelJson(destroyedFirst) }),
      // Events for a channel never seen.
      eventJson('ChannelDtmfReceived', { digit: '5', duration_ms: 100, channel: channelJson(neverSeen) }),
      eventJson('ChannelTalkingStarted', { channel: channelJson(neverSeen) }),
      eventJson('ChannelHangupRequest', { cause: 16, channel: channelJson(neverSeen) }),
      eventJson('StasisEnd', { channel: channelJson(neverSeen) }),
      eventJson('ChannelDestroyed', {
        cause: 16,
        cause_txt: 'Normal Clearing',
        channel: channelJson(neverSeen),
      }),
      // A taker leg of a call this service never had, answering.
      eventJson('StasisStart', {
        args: ['offer', unknownCall, 'taker1'],
        channel: channelJson(`siaga112-offer-${unknownCall}-1`, 'PJSIP/taker1-00000042'),
      }),
      // Bridges, playbacks and recordings nobody has.
      eventJson('ChannelEnteredBridge', { bridge, channel: channelJson(neverSeen) }),
      eventJson('ChannelLeftBridge', { bridge, channel: channelJson(neverSeen) }),
      eventJson('BridgeDestroyed', { bridge }),
      eventJson('BridgeDestroyed', { bridge: { ...bridge, id: `${unknownCall}-bridge` } }),
      eventJson('PlaybackFinished', { playback: playback(`${unknownCall}-greeting`) }),
      eventJson('PlaybackFinished', { playback: playback('no-such-playback') }),
    ]);
    expect(c.service.center.activeCalls.map((s) => s.snapshot.callerChannelId)).toEqual([waiting.channelId]);

    // StasisEnd before StasisStart: the StasisStart names a channel Asterisk does not have. It
    // cannot be told from a caller who hung up at once: at most an abandoned call, never a taker's.
    await injectAndSettle(c, log.lines, [
      eventJson('StasisEnd', { channel: channelJson(endedFirst) }),
      eventJson('StasisStart', { args: [], channel: channelJson(endedFirst) }),
    ]);
    const phantom = await onlyRecord(c, { channelId: endedFirst });
    expect(phantom).toMatchObject({ disposition: 'abandoned', takerId: null, connectedAt: null });

    // The waiting caller is put through once a taker is free, and so is the next one.
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 50 });
    await c.makeAvailable('taker1');
    await untilBridged(c, waiting);
    waiting.hangup();
    const record = await onlyRecord(c, waiting);
    expect(record).toMatchObject({ disposition: 'connected', takerId: 'taker1' });
    expectOneConnectedCall(await timelineTypes(c, record!.id));
    await takersFree(c, ['taker1']);
    const next = c.emulator.placeCall({ from: '081211114002' });
    await untilBridged(c, next);
    next.hangup();
    expect(await onlyRecord(c, next)).toMatchObject({ disposition: 'connected', takerId: 'taker1' });

    const records = await c.database.db.selectFrom('calls').select('caller_channel_id').execute();
    expect(records.map((r) => r.caller_channel_id).sort()).toEqual(
      [waiting.channelId, next.channelId, endedFirst].sort(),
    );
    await takersFree(c, ['taker1']);
    await nothingLeftBehind(c);
    await stillServing(c, log.lines);
    expect(log.lines.filter((l) => l.level >= ERROR)).toEqual([]);
  });
});
