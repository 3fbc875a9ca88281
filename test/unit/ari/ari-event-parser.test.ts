import { describe, expect, it } from 'vitest';
import { parseAriMessage } from '../../../src/ari/ari-event-parser.ts';

const channel = { id: '1763890407.1', name: 'PJSIP/telkomsel-00000001' };

describe('parseAriMessage', () => {
  it('accepts an event we handle', () => {
    const parsed = parseAriMessage(JSON.stringify({ type: 'StasisStart', args: [], channel }));
    expect(parsed).toMatchObject({ kind: 'event', event: { type: 'StasisStart', channel } });
  });

  it('ignores event types we do not use', () => {
    expect(parseAriMessage(JSON.stringify({ type: 'DeviceStateChanged' }))).toEqual({
      kind: 'ignored',
      type: 'DeviceStateChanged',
    });
  });

  it.each([
    ['not JSON', '{"type":'],
    ['no event type', '[]'],
    ['no event type', '{"channel":{}}'],
    ['StasisStart without channel.id', '{"type":"StasisStart","args":[],"channel":{}}'],
    ['StasisStart without args', JSON.stringify({ type: 'StasisStart', channel })],
    ['PlaybackFinished without playback.id', '{"type":"PlaybackFinished","playback":null}'],
    [
      'EndpointStateChange without endpoint.technology/resource',
      '{"type":"EndpointStateChange","endpoint":{"state":"offline"}}',
    ],
    ['RecordingFinished without recording.name', '{"type":"RecordingFinished","recording":{"state":"done"}}'],
  ])('reports %s as malformed instead of throwing', (reason, data) => {
    expect(parseAriMessage(data)).toEqual({ kind: 'malformed', reason });
  });

  it('accepts a recording event, which names its recording by name', () => {
    const recording = { name: 'siaga112-x-1-caller', format: 'wav', state: 'done', target_uri: 'channel:1' };
    expect(parseAriMessage(JSON.stringify({ type: 'RecordingFinished', recording }))).toMatchObject({
      kind: 'event',
      event: { type: 'RecordingFinished', recording },
    });
  });

  it('accepts an endpoint state change, which names its endpoint by technology and resource', () => {
    const data = JSON.stringify({
      type: 'EndpointStateChange',
      application: 'siaga112',
      timestamp: '2026-11-23T10:00:00.000+0700',
      endpoint: { technology: 'PJSIP', resource: 'taker1', state: 'offline', channel_ids: [] },
    });
    expect(parseAriMessage(data)).toMatchObject({
      kind: 'event',
      event: { type: 'EndpointStateChange', endpoint: { resource: 'taker1', state: 'offline' } },
    });
  });
});
