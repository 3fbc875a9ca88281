/**
 * The format of a RIFF/WAVE file, read from its header (pure). Asterisk's format_wav plays `.wav`
 * files that are PCM (format 1), mono, 16-bit, at 8 kHz: what a prompt must be.
 */

export interface WavFormat {
  /** 1 = PCM. */
  readonly audioFormat: number;
  readonly channels: number;
  readonly sampleRate: number;
  readonly bitsPerSample: number;
  /** Bytes of audio in the `data` chunk. */
  readonly dataBytes: number;
  readonly durationSeconds: number;
}

export class WavFormatError extends Error {
  override readonly name = 'WavFormatError';
  readonly code = 'wav-format';
}

/** Reads the `fmt ` and `data` chunks; throws {@link WavFormatError} for anything that is not a whole WAVE file. */
export function readWavFormat(bytes: Uint8Array): WavFormat {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number): string => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new WavFormatError('not a RIFF/WAVE file');
  }
  const riffEnd = 8 + view.getUint32(4, true);
  if (riffEnd > bytes.byteLength) throw new WavFormatError('the RIFF size runs past the end of the file');
  let fmt: Omit<WavFormat, 'dataBytes' | 'durationSeconds'> | undefined;
  let offset = 12;
  while (offset + 8 <= riffEnd) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (body + size > riffEnd) throw new WavFormatError(`the "${id}" chunk runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw new WavFormatError('the fmt chunk is too short');
      fmt = {
        audioFormat: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bitsPerSample: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new WavFormatError('the data chunk comes before the fmt chunk');
      const bytesPerSecond = fmt.sampleRate * fmt.channels * (fmt.bitsPerSample / 8);
      return { ...fmt, dataBytes: size, durationSeconds: bytesPerSecond > 0 ? size / bytesPerSecond : 0 };
    }
    offset = body + size + (size % 2);
  }
  throw new WavFormatError('no data chunk');
}
