import { describe, expect, it } from 'vitest';
import { readWavFormat, WavFormatError } from '../../../src/asterisk-conf/wav-header.ts';

/** A WAVE file: RIFF header, the given chunks (id, body), each padded to an even length. */
function wave(chunks: [string, Uint8Array][]): Uint8Array {
  const parts = chunks.map(([id, body]) => {
    const chunk = new Uint8Array(8 + body.length + (body.length % 2));
    chunk.set(new TextEncoder().encode(id), 0);
    new DataView(chunk.buffer).setUint32(4, body.length, true);
    chunk.set(body, 8);
    return chunk;
  });
  const size = 4 + parts.reduce((sum, part) => sum + part.length, 0);
  const file = new Uint8Array(8 + size);
  file.set(new TextEncoder().encode('RIFF'), 0);
  new DataView(file.buffer).setUint32(4, size, true);
  file.set(new TextEncoder().encode('WAVE'), 8);
  let offset = 12;
  for (const part of parts) {
    file.set(part, offset);
    offset += part.length;
  }
  return file;
}

function fmt(audioFormat: number, channels: number, sampleRate: number, bits: number): Uint8Array {
  const body = new Uint8Array(16);
  const view = new DataView(body.buffer);
  view.setUint16(0, audioFormat, true);
  view.setUint16(2, channels, true);
  view.setUint32(4, sampleRate, true);
  view.setUint32(8, (sampleRate * channels * bits) / 8, true);
  view.setUint16(12, (channels * bits) / 8, true);
  view.setUint16(14, bits, true);
  return body;
}

describe('readWavFormat', () => {
  it('reads an 8 kHz mono 16-bit PCM file and its length', () => {
    const bytes = wave([
      ['fmt ', fmt(1, 1, 8000, 16)],
      ['data', new Uint8Array(16000)],
    ]);
    expect(readWavFormat(bytes)).toEqual({
      audioFormat: 1,
      channels: 1,
      sampleRate: 8000,
      bitsPerSample: 16,
      dataBytes: 16000,
      durationSeconds: 1,
    });
  });

  it('skips other chunks (odd-sized ones padded) before the data', () => {
    const bytes = wave([
      ['fmt ', fmt(1, 2, 22050, 16)],
      ['LIST', new Uint8Array(5)],
      ['data', new Uint8Array(88200)],
    ]);
    expect(readWavFormat(bytes)).toMatchObject({ channels: 2, sampleRate: 22050, durationSeconds: 1 });
  });

  it('reads a view into a larger buffer', () => {
    const bytes = wave([
      ['fmt ', fmt(1, 1, 8000, 16)],
      ['data', new Uint8Array(800)],
    ]);
    const larger = new Uint8Array(bytes.length + 10);
    larger.set(bytes, 10);
    expect(readWavFormat(larger.subarray(10)).durationSeconds).toBeCloseTo(0.05);
  });

  it.each([
    ['not RIFF', new TextEncoder().encode('OggS and more bytes'), 'not a RIFF/WAVE file'],
    ['no data chunk', wave([['fmt ', fmt(1, 1, 8000, 16)]]), 'no data chunk'],
    ['data before fmt', wave([['data', new Uint8Array(4)]]), 'the data chunk comes before the fmt chunk'],
    ['short fmt', wave([['fmt ', new Uint8Array(8)]]), 'the fmt chunk is too short'],
    [
      'truncated',
      wave([
        ['fmt ', fmt(1, 1, 8000, 16)],
        ['data', new Uint8Array(100)],
      ]).subarray(0, 80),
      'the RIFF size runs past the end of the file',
    ],
  ])('refuses a file with %s', (_what, bytes, message) => {
    expect(() => readWavFormat(bytes)).toThrow(WavFormatError);
    expect(() => readWavFormat(bytes)).toThrow(message);
  });
});
