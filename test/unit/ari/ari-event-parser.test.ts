import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ARI_MESSAGE_REJECTIONS,
  MAX_ARI_MESSAGE_DEPTH,
  MAX_ARI_MESSAGE_LENGTH,
  parseAriMessage,
} from '../../../src/ari/ari-event-parser.ts';

const channel = {
  id: '1763890407.1',
  protocol_id: '',
  name: 'PJSIP/telkomsel-00000001',
  state: 'Ring',
  caller: { name: '', number: '081234567890' },
  connected: { name: '', number: '' },
  accountcode: '',
  dialplan: { context: 'from-trunk', exten: '112', priority: 1, app_name: 'Stasis', app_data: 'siaga112' },
  creationtime: '2026-11-23T10:00:00.000+0700',
  language: 'en',
};
const playback = {
  id: 'p1',
  media_uri: 'sound:siaga112/greeting',
  target_uri: `channel:${channel.id}`,
  state: 'done',
};
const bridge = { id: 'b1', channels: [channel.id] };
const recording = { name: 'siaga112-x-1-caller', format: 'wav', state: 'done', target_uri: 'channel:1' };

describe('parseAriMessage', () => {
  it('accepts an event we handle', () => {
    const parsed = parseAriMessage(JSON.stringify({ type: 'StasisStart', args: [], channel }));
    expect(parsed).toMatchObject({ kind: 'event', event: { type: 'StasisStart', channel } });
  });

  it('ignores event types we do not use, including names every object has', () => {
    for (const type of ['DeviceStateChanged', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      expect(parseAriMessage(JSON.stringify({ type }))).toEqual({ kind: 'ignored', type });
    }
  });

  it.each([
    ['not-json', '{"type":'],
    ['not-json', ''],
    ['not-an-object', '[]'],
    ['not-an-object', 'null'],
    ['not-an-object', '"StasisStart"'],
    ['no-type', '{"channel":{}}'],
    ['no-type', '{"type":7}'],
    ['no-type', '{"type":""}'],
    ['too-large', JSON.stringify({ type: 'X', pad: 'x'.repeat(MAX_ARI_MESSAGE_LENGTH) })],
    ['too-deep', '['.repeat(MAX_ARI_MESSAGE_DEPTH + 1)],
  ])('rejects %s: %s', (reason, data) => {
    expect(parseAriMessage(data)).toMatchObject({ kind: 'malformed', reason });
  });

  it('counts brackets inside strings as text, not nesting', () => {
    const data = JSON.stringify({ type: 'StasisStart', args: ['['.repeat(100)], channel });
    expect(parseAriMessage(data)).toMatchObject({ kind: 'event' });
    const escaped = JSON.stringify({ type: 'StasisStart', args: [`"${'{'.repeat(100)}\\`], channel });
    expect(parseAriMessage(escaped)).toMatchObject({ kind: 'event' });
  });

  it.each([
    ['StasisStart: channel is not an object', { type: 'StasisStart', args: [] }],
    ['StasisStart: channel.id is not a non-empty string', { type: 'StasisStart', args: [], channel: {} }],
    [
      'StasisStart: channel.id is not a non-empty string',
      { type: 'StasisStart', args: [], channel: { ...channel, id: 1763890407.1 } },
    ],
    ['StasisStart: args is not a list of strings', { type: 'StasisStart', channel }],
    ['StasisStart: args is not a list of strings', { type: 'StasisStart', args: [7], channel }],
    [
      'StasisStart: channel.caller is not an object',
      { type: 'StasisStart', args: [], channel: { ...channel, caller: null } },
    ],
    [
      'ChannelDtmfReceived: digit is not a string',
      { type: 'ChannelDtmfReceived', digit: 5, duration_ms: 100, channel },
    ],
    ['ChannelHangupRequest: cause is not a number', { type: 'ChannelHangupRequest', cause: '16', channel }],
    ['ChannelDestroyed: cause_txt is not a string', { type: 'ChannelDestroyed', cause: 16, channel }],
    [
      'ChannelDestroyed: channel.name is not a string',
      { type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: { ...channel, name: 1 } },
    ],
    ['PlaybackFinished: playback is not an object', { type: 'PlaybackFinished', playback: null }],
    ['BridgeDestroyed: bridge.id is not a non-empty string', { type: 'BridgeDestroyed', bridge: { id: '' } }],
    [
      'EndpointStateChange: endpoint.technology is not a string',
      { type: 'EndpointStateChange', endpoint: { state: 'offline' } },
    ],
    [
      'RecordingFinished: recording.name is not a non-empty string',
      { type: 'RecordingFinished', recording: { state: 'done', format: 'wav' } },
    ],
  ])('rejects a known event without what we act on (%s)', (detail, message) => {
    expect(parseAriMessage(JSON.stringify(message))).toEqual({
      kind: 'malformed',
      reason: 'invalid-field',
      detail,
    });
  });

  it('does not take an own property named __proto__ for the object it names', () => {
    const data = `{"type":"StasisStart","args":[],"channel":{"__proto__":${JSON.stringify(channel)}}}`;
    expect(parseAriMessage(data)).toMatchObject({ kind: 'malformed', reason: 'invalid-field' });
  });

  it.each([
    ['StasisStart', { args: ['telkomsel'], channel }],
    ['ChannelDtmfReceived', { digit: '5', duration_ms: 100, channel }],
    ['ChannelHangupRequest', { channel }],
    ['ChannelHangupRequest', { cause: 16, soft: true, channel }],
    ['ChannelDestroyed', { cause: 16, cause_txt: 'Normal Clearing', channel }],
    ['PlaybackFinished', { playback }],
    ['ChannelEnteredBridge', { bridge, channel }],
    ['BridgeDestroyed', { bridge }],
    ['RecordingFinished', { recording }],
    ['RecordingFailed', { recording: { ...recording, state: 'failed', cause: 'disk full' } }],
    [
      'EndpointStateChange',
      { endpoint: { technology: 'PJSIP', resource: 'taker1', state: 'offline', channel_ids: [] } },
    ],
    ['ApplicationReplaced', {}],
  ])('accepts %s as Asterisk sends it', (type, fields) => {
    const message = { type, application: 'siaga112', timestamp: '2026-11-23T10:00:00.000+0700', ...fields };
    expect(parseAriMessage(JSON.stringify(message))).toEqual({ kind: 'event', event: message });
  });

  describe('never throws, whatever arrives', () => {
    const verdict = (data: string) => {
      const parsed = parseAriMessage(data);
      if (parsed.kind === 'malformed') expect(ARI_MESSAGE_REJECTIONS).toContain(parsed.reason);
      else if (parsed.kind === 'ignored') expect(typeof parsed.type).toBe('string');
      else expect(parsed.kind).toBe('event');
      return parsed;
    };

    it('any string', () => {
      fc.assert(
        fc.property(
          fc.oneof(
            fc.string({ unit: 'binary', maxLength: 200 }),
            fc.string({ unit: fc.constantFrom(...'{}[]":,\\ 0atype'), maxLength: 200 }),
          ),
          (data) => {
            verdict(data);
          },
        ),
        { numRuns: 500 },
      );
    });

    it('any JSON value', () => {
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
          const parsed = verdict(JSON.stringify(value));
          // Only an object with a type can be an event.
          if (parsed.kind === 'event') expect(typeof (value as { type?: unknown }).type).toBe('string');
        }),
        { numRuns: 1000 },
      );
    });

    it('events of every type we handle with any field replaced by any JSON value', () => {
      const types = [
        'StasisStart',
        'StasisEnd',
        'ChannelDtmfReceived',
        'ChannelHangupRequest',
        'ChannelDestroyed',
        'PlaybackFinished',
        'BridgeDestroyed',
        'ChannelLeftBridge',
        'RecordingFinished',
        'EndpointStateChange',
        'Dial',
      ];
      const WITH_CHANNEL = new Set([
        'StasisStart',
        'StasisEnd',
        'ChannelDtmfReceived',
        'ChannelHangupRequest',
        'ChannelDestroyed',
        'ChannelLeftBridge',
      ]);
      const base = (type: string) => ({
        type,
        args: [],
        digit: '1',
        cause: 16,
        cause_txt: 'Normal Clearing',
        channel,
        playback,
        bridge,
        peer: channel,
        recording,
        endpoint: { technology: 'PJSIP', resource: 'taker1', state: 'online', channel_ids: [] },
      });
      fc.assert(
        fc.property(
          fc.constantFrom(...types),
          fc.constantFrom(
            'args',
            'digit',
            'cause',
            'cause_txt',
            'channel',
            'playback',
            'bridge',
            'recording',
          ),
          fc.constantFrom(undefined, 'id', 'name', 'state', 'caller'),
          fc.jsonValue({ maxDepth: 3 }),
          (type, field, inner, value) => {
            const message: Record<string, unknown> = base(type);
            const target = message[field];
            if (inner && typeof target === 'object' && target !== null && !Array.isArray(target)) {
              message[field] = { ...target, [inner]: value };
            } else message[field] = value;
            const parsed = verdict(JSON.stringify(message));
            // What was accepted carries what its handlers read, of the right type.
            if (parsed.kind === 'event' && WITH_CHANNEL.has(type)) {
              const accepted = (
                parsed.event as unknown as { channel: { id: unknown; caller: { number: unknown } } }
              ).channel;
              expect(typeof accepted.id).toBe('string');
              expect(typeof accepted.caller.number).toBe('string');
            }
          },
        ),
        { numRuns: 1500 },
      );
    });
  });
});
