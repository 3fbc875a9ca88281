import { describe, expect, it } from 'vitest';
import { fileNameOf, parseRecordingName, segmentRef } from '../../../src/recording/recording-name.ts';

const CALL = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';

describe('recording names', () => {
  it('name each segment after its call, number and kind, and read back to the same segment', () => {
    const caller = segmentRef(CALL, 'caller');
    const bridge = segmentRef(CALL, 'bridge');
    expect(caller).toEqual({ callId: CALL, segment: 1, kind: 'caller', name: `siaga112-${CALL}-1-caller` });
    expect(bridge.segment).toBe(2);
    expect(parseRecordingName(caller.name)).toEqual(caller);
    expect(parseRecordingName(bridge.name)).toEqual(bridge);
    expect(fileNameOf(bridge)).toBe(`siaga112-${CALL}-2-bridge.wav`);
  });

  it.each([
    ['a recording of someone else', 'voicemail-1234'],
    ['a number that is not the kind', `siaga112-${CALL}-2-caller`],
    ['a call id that is not one', 'siaga112-not-a-call-1-caller'],
    ['a subdirectory', `x/siaga112-${CALL}-1-caller`],
  ])('refuse %s', (_what, name) => {
    expect(parseRecordingName(name)).toBeNull();
  });
});
