/**
 * The evidence bundle for the police: a caller's recorded prank calls as one POSIX tar (ustar)
 * stream, `calls.csv` (one line per call, naming its files), the WAVE files under `recordings/`
 * and `SHA256SUMS` (as `sha256sum -c` reads it). The tar is written as it is read: a file is never
 * held in memory whole.
 */
import type { Readable } from 'node:stream';
import { csvField } from '../records/call-search.ts';
import type { RecordedPrankCall, RecordingSegment } from '../records/recording-repository.ts';

const BLOCK = 512;

/** One file of the bundle: its bytes come from `open()` and must be exactly `size` long. */
export interface BundleEntry {
  path: string;
  size: number;
  mtime: Date;
  open(): Readable | Buffer;
}

/** A ustar header block (name ≤ 100 bytes, regular file, mode 0644). */
export function tarHeader(path: string, size: number, mtime: Date): Buffer {
  const name = Buffer.from(path, 'utf8');
  if (name.length > 100) throw new RangeError(`tar entry name over 100 bytes: ${path}`);
  const header = Buffer.alloc(BLOCK);
  name.copy(header, 0);
  const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;
  header.write(octal(0o644, 8), 100, 'ascii');
  header.write(octal(0, 8), 108, 'ascii');
  header.write(octal(0, 8), 116, 'ascii');
  header.write(octal(size, 12), 124, 'ascii');
  header.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  header.write('siaga112', 265, 'ascii');
  header.write('siaga112', 297, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return header;
}

/** The tar stream of `entries`: each header, its bytes, padding to the block; two zero blocks to end. */
export async function* tarStream(entries: Iterable<BundleEntry>): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield tarHeader(entry.path, entry.size, entry.mtime);
    let written = 0;
    const content = entry.open();
    for await (const chunk of Buffer.isBuffer(content) ? [content] : content) {
      const bytes = chunk as Buffer;
      written += bytes.length;
      if (written > entry.size) throw new Error(`${entry.path} grew while it was being exported`);
      yield bytes;
    }
    if (written !== entry.size) throw new Error(`${entry.path} is ${written} bytes, not ${entry.size}`);
    const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** Where a segment's file goes in the bundle. */
export const bundlePath = (
  segment: Pick<RecordingSegment, 'callId' | 'segment' | 'kind' | 'format'>,
): string => `recordings/${segment.callId}-${segment.segment}-${segment.kind}.${segment.format}`;

export const BUNDLE_CSV_COLUMNS = [
  'call_id',
  'arrived_at',
  'ended_at',
  'caller_number',
  'caller_id_raw',
  'trunk',
  'disposition',
  'taker_id',
  'verdict',
  'verdict_by',
  'verdict_at',
  'verdict_note',
  'talk_seconds',
  'recording_files',
  'recording_sha256',
] as const;

/** `calls.csv`: a header line, then one line per call; its files and checksums `;`-separated. */
export function bundleCsv(calls: readonly RecordedPrankCall[]): string {
  const lines = calls.map((call) =>
    [
      call.callId,
      call.arrivedAt.toISOString(),
      call.endedAt?.toISOString() ?? null,
      call.callerNumber,
      call.callerIdRaw,
      call.trunk,
      call.disposition,
      call.takerId,
      'prank',
      call.verdictBy,
      call.verdictAt?.toISOString() ?? null,
      call.verdictNote,
      call.talkMs === null ? null : Math.round(call.talkMs / 1000),
      call.segments.map(bundlePath).join(';'),
      call.segments.map((segment) => segment.sha256 ?? '').join(';'),
    ]
      .map(csvField)
      .join(','),
  );
  return `${[BUNDLE_CSV_COLUMNS.join(','), ...lines].join('\r\n')}\r\n`;
}

/** `SHA256SUMS`: `<hex>  <path>` per file, as `sha256sum -c` checks it. */
export function bundleChecksums(entries: readonly { path: string; sha256: string }[]): string {
  return entries.map((entry) => `${entry.sha256}  ${entry.path}\n`).join('');
}
