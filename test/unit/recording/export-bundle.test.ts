import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bundleChecksums, bundleCsv, tarHeader, tarStream } from '../../../src/recording/export-bundle.ts';
import type { RecordedPrankCall } from '../../../src/records/recording-repository.ts';

const collect = async (chunks: AsyncIterable<Buffer>) => {
  const all: Buffer[] = [];
  for await (const chunk of chunks) all.push(chunk);
  return Buffer.concat(all);
};

describe('the export bundle', () => {
  it('writes ustar headers whose checksum and size tar reads back', () => {
    const header = tarHeader('recordings/a.wav', 1234, new Date('2026-11-23T00:00:00Z'));
    expect(header).toHaveLength(512);
    const field = (start: number, length: number) =>
      header
        .subarray(start, start + length)
        .toString('ascii')
        .replace(/\0.*$/s, '')
        .trim();
    expect(field(0, 100)).toBe('recordings/a.wav');
    expect(Number.parseInt(field(124, 12), 8)).toBe(1234);
    expect(field(257, 6)).toBe('ustar');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (header[i] as number);
    expect(Number.parseInt(field(148, 8), 8)).toBe(sum);
    expect(() => tarHeader('x'.repeat(101), 1, new Date())).toThrow(RangeError);
  });

  it('pads each file to the block, ends with two zero blocks, and refuses a file that is not its size', async () => {
    const mtime = new Date();
    const tar = await collect(
      tarStream([
        { path: 'a', size: 3, mtime, open: () => Buffer.from('abc') },
        {
          path: 'b',
          size: 600,
          mtime,
          open: () => Readable.from([Buffer.alloc(100, 1), Buffer.alloc(500, 2)]),
        },
      ]),
    );
    expect(tar.length).toBe(512 + 512 + 512 + 1024 + 1024);
    expect(tar.subarray(512, 515).toString()).toBe('abc');
    expect(tar.subarray(tar.length - 1024).every((byte) => byte === 0)).toBe(true);
    await expect(
      collect(tarStream([{ path: 'c', size: 10, mtime, open: () => Buffer.from('short') }])),
    ).rejects.toThrow(/c is 5 bytes, not 10/);
  });

  it('lists each call with its files and checksums, a spreadsheet formula quoted', () => {
    const call: RecordedPrankCall = {
      callId: 'c1',
      arrivedAt: new Date('2026-11-23T01:00:00Z'),
      endedAt: new Date('2026-11-23T01:02:00Z'),
      callerNumber: '+6281200000001',
      callerIdRaw: '=HYPERLINK("x")',
      trunk: 'telkomsel',
      disposition: 'connected',
      takerId: 'taker1',
      verdictBy: 'taker1',
      verdictAt: null,
      verdictNote: 'laughing, "again"',
      talkMs: 61_400,
      segments: [1, 2].map((segment) => ({
        callId: 'c1',
        segment,
        kind: segment === 1 ? 'caller' : 'bridge',
        name: `n${segment}`,
        format: 'wav',
        state: 'done',
        location: 'spool',
        fileName: `n${segment}.wav`,
        startedAt: new Date(),
        endedAt: new Date(),
        durationMs: 1000,
        sizeBytes: 100,
        sha256: `${segment}`.repeat(64),
        failure: null,
      })),
    };
    const [header, line] = bundleCsv([call]).split('\r\n');
    expect(header).toBe(
      'call_id,arrived_at,ended_at,caller_number,caller_id_raw,trunk,disposition,taker_id,verdict,verdict_by,verdict_at,verdict_note,talk_seconds,recording_files,recording_sha256',
    );
    expect(line).toBe(
      `c1,2026-11-23T01:00:00.000Z,2026-11-23T01:02:00.000Z,+6281200000001,"'=HYPERLINK(""x"")",telkomsel,connected,taker1,prank,taker1,,"laughing, ""again""",61,recordings/c1-1-caller.wav;recordings/c1-2-bridge.wav,${'1'.repeat(64)};${'2'.repeat(64)}`,
    );
    expect(bundleChecksums([{ path: 'recordings/x.wav', sha256: 'ab' }])).toBe('ab  recordings/x.wav\n');
  });
});
