import { describe, expect, it } from 'vitest';
import {
  buildReplayReport,
  formatReplayReport,
  percentile,
  type ReplayOutcome,
} from '../../../src/replay/replay-report.ts';
import type { TrafficCall, Truth } from '../../../src/replay/traffic.ts';

const call = (id: string, truth: Truth): TrafficCall => ({
  id,
  line: 1,
  at: 0,
  from: '081234567890',
  trunk: 'telkomsel',
  truth,
  caller: [],
  patience: 120,
  talk: 60,
  verdict: 'genuine',
});
const reached = (
  id: string,
  truth: Truth,
  seconds: number,
  talkS: number,
  decision: ReplayOutcome['decision'] = 'connect',
): ReplayOutcome => ({
  call: call(id, truth),
  disposition: 'connected',
  decision,
  timeToHumanMs: seconds * 1000,
  talkMs: talkS * 1000,
});

describe('the replay report', () => {
  it('nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 90)).toBe(4);
    expect(percentile([7], 99)).toBe(7);
    expect(() => percentile([], 50)).toThrow();
  });

  it('per truth class: reach, time to a human, released and abandoned; overall: prank time share, precision and recall', () => {
    const outcomes: ReplayOutcome[] = [
      reached('g1', 'genuine', 2, 200),
      reached('g2', 'genuine', 4, 100, 'connect-low'),
      reached('p1', 'prank', 3, 20),
      {
        call: call('p2', 'prank'),
        disposition: 'released',
        decision: 'warn-and-release',
        timeToHumanMs: null,
        talkMs: 0,
      },
      {
        call: call('p3', 'prank'),
        disposition: 'abandoned',
        decision: 'challenge',
        timeToHumanMs: null,
        talkMs: 0,
      },
      {
        call: call('p4', 'prank'),
        disposition: 'abandoned',
        decision: 'connect',
        timeToHumanMs: null,
        talkMs: 0,
      },
    ];
    const report = buildReplayReport(outcomes);
    expect(report.classes).toEqual([
      {
        truth: 'genuine',
        calls: 2,
        reachedHuman: 1,
        timeToHumanSeconds: { p50: 2, p90: 4, p99: 4 },
        warnedAndReleased: 0,
        abandonedWhileWaiting: 0,
      },
      {
        truth: 'prank',
        calls: 4,
        reachedHuman: 0.25,
        timeToHumanSeconds: { p50: 3, p90: 3, p99: 3 },
        warnedAndReleased: 0.25,
        abandonedWhileWaiting: 0.5,
      },
    ]);
    expect(report.overall).toEqual({
      prankShareOfCalls: 4 / 6,
      prankShareOfTakerTime: 20 / 320,
      suspectedPrank: { suspected: 3, pranks: 4, precision: 2 / 3, recall: 2 / 4 },
    });
    expect(report.genuineNotReached).toEqual([]);
    expect(formatReplayReport(report)).toContain('every genuine and silent-genuine call reached a human');
  });

  it('names every genuine call no human answered, and every call without a record', () => {
    const report = buildReplayReport(
      [
        {
          call: call('g1', 'genuine'),
          disposition: 'abandoned',
          decision: 'connect',
          timeToHumanMs: null,
          talkMs: 0,
        },
        {
          call: call('s1', 'silent-genuine'),
          disposition: null,
          decision: null,
          timeToHumanMs: null,
          talkMs: 0,
        },
      ],
      [{ line: 3, message: 'not valid JSON' }],
    );
    expect(report.genuineNotReached).toEqual(['g1', 's1']);
    expect(report.missingRecords).toEqual(['s1']);
    const text = formatReplayReport(report);
    expect(text).toContain('NOT REACHED: g1, s1');
    expect(text).toContain('NO RECORD: s1');
    expect(text).toContain('skipped line 3: not valid JSON');
  });
});
