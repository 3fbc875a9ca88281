import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseTraffic } from '../../../src/replay/traffic.ts';

const line = (over: Record<string, unknown>) =>
  JSON.stringify({ id: 'c1', at: 0, from: '081234567890', truth: 'genuine', ...over });

describe('traffic files (../shared/traffic/FORMAT.md)', () => {
  it('fills the documented defaults and derives the verdict from the truth', () => {
    const { calls, problems } = parseTraffic(
      [
        line({}),
        line({ id: 'c2', at: 5, truth: 'silent-accidental' }),
        line({ id: 'c3', at: 1, truth: 'prank', verdict: 'misdial' }),
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(calls.map((c) => [c.id, c.at, c.verdict])).toEqual([
      ['c1', 0, 'genuine'],
      ['c3', 1, 'misdial'],
      ['c2', 5, 'silent'],
    ]);
    expect(calls[0]).toMatchObject({
      trunk: 'telkomsel',
      caller: [{ speak: 5 }],
      patience: 120,
      talk: 60,
      line: 1,
    });
  });

  it('keeps untrusted caller IDs exactly as delivered', () => {
    const { calls } = parseTraffic(
      ['', 'anonymous', '<script>', '\u0000'].map((from, i) => line({ id: `c${i}`, from })).join('\n'),
    );
    expect(calls.map((c) => c.from)).toEqual(['', 'anonymous', '<script>', '\u0000']);
  });

  it('reports a bad line with its number and the field, skips it, and keeps the rest', () => {
    const text = [
      line({}),
      '{not json',
      line({ id: 'c2', at: -1 }),
      line({ id: 'c3', truth: 'alien' }),
      line({ id: 'c4', caller: [{ dance: 1 }] }),
      line({ id: 'c5', trunk: '../etc' }),
      line({ id: 'c1' }),
      JSON.stringify({ id: 'c6', at: 0, truth: 'genuine' }),
      line({ id: 'c7', caller: [{ dtmf: '5x' }] }),
      '',
      line({ id: 'c8', unknownField: true, patience: 30 }),
    ].join('\n');
    const { calls, problems } = parseTraffic(text);
    expect(calls.map((c) => c.id)).toEqual(['c1', 'c8']);
    expect(problems).toEqual([
      { line: 2, message: 'not valid JSON' },
      { line: 3, message: 'at must be a number ≥ 0, got -1' },
      { line: 4, message: expect.stringContaining('truth must be one of genuine, prank') },
      { line: 5, message: 'caller[0] must be one of speak, silence, dtmf, hangup' },
      { line: 6, message: expect.stringContaining('trunk must be') },
      { line: 7, message: 'id "c1" appears twice' },
      { line: 8, message: 'from must be a string (it may be empty)' },
      { line: 9, message: 'caller[0].dtmf must be keys 0-9, *, #, A-D' },
    ]);
  });

  it('reads the shared Kendari day without a problem', () => {
    const { calls, problems } = parseTraffic(readFileSync('../shared/traffic/kendari-day.jsonl', 'utf8'));
    expect(problems).toEqual([]);
    expect(calls).toHaveLength(120);
    expect(calls.filter((c) => c.truth === 'prank').length).toBeGreaterThan(40);
  });
});
