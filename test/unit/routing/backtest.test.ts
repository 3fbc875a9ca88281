import { describe, expect, it } from 'vitest';
import { backtest, historyAt, type StoredCall } from '../../../src/routing/backtest.ts';
import { DEFAULT_RULES } from '../../../src/routing/screening.ts';

const H = 3_600_000;
const T0 = 1_800_000_000_000;
let seq = 0;
function stored(over: Partial<StoredCall> & { at: number }): StoredCall {
  seq += 1;
  return {
    callId: `call-${seq}`,
    arrivedAt: T0 + over.at,
    verdict: null,
    verdictAt: null,
    ivrHangup: false,
    releasedAt: null,
    callerNumber: '+6281234567890',
    callerIdKind: 'e164',
    ...over,
  };
}
const prank = (at: number) => stored({ at, verdict: 'prank', verdictAt: T0 + at + 5 * 60_000 });

describe('historyAt: what the rules saw when a call arrived', () => {
  it('counts only what happened before that moment, in each window', () => {
    const past = [prank(0), prank(4 * H), stored({ at: 26 * H, releasedAt: T0 + 26 * H + 60_000 })];
    const h = historyAt(past, T0 + 27 * H);
    expect(h.calls).toEqual({ last10m: 0, last1h: 1, last24h: 2, last7d: 3 });
    // The first prank's verdict (at 0:05) is 26 h 55 min old: out of the day, in the week.
    expect(h.verdicts.prank).toEqual({ last24h: 1, last7d: 2 });
    expect(h.lastReleasedAt).toBe(T0 + 26 * H + 60_000);
    // A verdict given after the moment is not seen.
    expect(historyAt([prank(0)], T0 + 60_000).verdicts.prank.last7d).toBe(0);
  });
});

describe('backtest: decisions in force against a candidate rule set', () => {
  const calls = [
    prank(0),
    prank(H),
    prank(2 * H), // the third call of a caller with two pranks today
    stored({ at: 3 * H, callerNumber: null, callerIdKind: 'anonymous' }),
    stored({ at: 4 * H, callerNumber: '+6285700000001', verdict: 'genuine', verdictAt: T0 + 4 * H + 60_000 }),
  ];

  it('a stricter candidate shows which calls change, by the verdict they got', () => {
    const strict = { ...DEFAULT_RULES, lowAfterPranks7d: 1, releaseAfterPranks24h: 1 };
    const result = backtest(
      calls,
      { from: T0, to: T0 + 5 * H },
      { inForce: DEFAULT_RULES, candidate: strict },
    );
    expect(result.calls).toBe(5);
    expect(result.decisions.inForce).toEqual({
      connect: 3,
      'connect-low': 1,
      challenge: 0,
      'warn-and-release': 1,
    });
    expect(result.decisions.candidate).toEqual({
      connect: 3,
      'connect-low': 0,
      challenge: 0,
      'warn-and-release': 2,
    });
    expect(result.transitions).toEqual([
      { from: 'connect-low', to: 'warn-and-release', calls: 1, byVerdict: { prank: 1 } },
    ]);
    expect(result.changes).toHaveLength(1);
    expect(result.changes[0]).toMatchObject({ callId: calls[1]!.callId, verdict: 'prank' });
    expect(result.changes[0]!.candidate.reasons[0]).toBe('pranks today: warned and released');
    expect(result.genuineReleased).toBe(0);
  });

  it('the same rules change nothing, and only calls in the range are screened', () => {
    const result = backtest(
      calls,
      { from: T0 + H, to: T0 + 3 * H },
      { inForce: DEFAULT_RULES, candidate: DEFAULT_RULES },
    );
    expect(result.calls).toBe(2);
    expect(result.transitions).toEqual([]);
    expect(result.changes).toEqual([]);
  });
});
