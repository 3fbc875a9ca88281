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
  ])('reports %s as malformed instead of throwing', (reason, data) => {
    expect(parseAriMessage(data)).toEqual({ kind: 'malformed', reason });
  });
});
