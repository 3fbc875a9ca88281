import { describe, expect, it } from 'vitest';
import { wavDurationFromHead } from '../../../src/recording/recording-store.ts';

/** A 44-byte PCM WAVE header for 8 kHz mono 16-bit, claiming `dataBytes`. */
function header(dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

describe('a WAVE file plays for', () => {
  it('its audio bytes over the byte rate', () => {
    expect(wavDurationFromHead(header(16_000), 44 + 16_000)).toBe(1000);
    expect(wavDurationFromHead(header(0), 44)).toBe(0);
  });

  it("the bytes on disk, when Asterisk never got to write the header's sizes (a crash)", () => {
    expect(wavDurationFromHead(header(0), 44 + 8_000)).toBe(500);
  });

  it('nothing known, for a file that is not WAVE', () => {
    expect(wavDurationFromHead(Buffer.from('not a wave file at all'), 22)).toBeNull();
  });
});
