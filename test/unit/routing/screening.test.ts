import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CallerHistory,
  type CallFacts,
  DEFAULT_RULES,
  EMPTY_HISTORY,
  screenCall,
} from '../../../src/routing/screening.ts';

const NOW = 1_800_000_000_000;
const facts = (over: Partial<CallFacts> = {}): CallFacts => ({
  callerIdKind: 'e164',
  list: null,
  now: NOW,
  ...over,
});
function history(over: {
  calls?: Partial<CallerHistory['calls']>;
  prank24h?: number;
  prank7d?: number;
  genuine7d?: number;
  silent7d?: number;
  ivrHangups24h?: number;
  lastReleasedAt?: number | null;
}): CallerHistory {
  return {
    calls: { ...EMPTY_HISTORY.calls, ...over.calls },
    verdicts: {
      prank: { last24h: over.prank24h ?? 0, last7d: over.prank7d ?? over.prank24h ?? 0 },
      genuine: { last7d: over.genuine7d ?? 0 },
      silent: { last7d: over.silent7d ?? 0 },
    },
    ivrHangups24h: over.ivrHangups24h ?? 0,
    lastReleasedAt: over.lastReleasedAt ?? null,
  };
}
const decide = (h: CallerHistory, f = facts()) => screenCall(h, f, DEFAULT_RULES).decision;

describe('screening: the default rule table', () => {
  it.each([
    ['a first-time caller', history({}), 'connect'],
    ['one prank this week', history({ prank7d: 1 }), 'connect-low'],
    ['three silent verdicts this week', history({ silent7d: 3 }), 'connect-low'],
    ['three hang-ups in the menu today', history({ ivrHangups24h: 3 }), 'connect-low'],
    ['two pranks today', history({ prank24h: 2 }), 'warn-and-release'],
    ['six pranks this week', history({ prank24h: 1, prank7d: 6 }), 'challenge'],
    ['six pranks today', history({ prank24h: 6 }), 'challenge'],
  ] as const)('%s: %s', (_name, h, expected) => {
    expect(decide(h)).toBe(expected);
  });

  it('gives reasons a person can read', () => {
    const result = screenCall(
      history({ calls: { last1h: 5, last24h: 5, last7d: 9 }, prank24h: 2, prank7d: 3 }),
      facts(),
      DEFAULT_RULES,
    );
    expect(result.decision).toBe('warn-and-release');
    expect(result.reasons).toEqual([
      'pranks today: warned and released',
      '5 calls in the last hour',
      '2 judged prank in the last 24 h',
      '3 judged prank this week',
    ]);
    expect(result.score).toBe(2 * 3 + 3 * 1);
  });

  it('releases a blocklisted caller, with the reason', () => {
    const result = screenCall(history({}), facts({ list: 'block' }), DEFAULT_RULES);
    expect(result).toMatchObject({
      decision: 'warn-and-release',
      reasons: ['on the blocklist: warned and released'],
    });
  });
});

describe('screening: fail-open guarantees', () => {
  it('challenges instead of releasing a caller released minutes ago who calls again', () => {
    const released = history({ prank24h: 3, lastReleasedAt: NOW - 5 * 60_000 });
    expect(decide(released)).toBe('challenge');
    expect(decide(released, facts({ list: 'block' }))).toBe('challenge');
    // After the cooldown a fresh release is possible again.
    expect(decide(history({ prank24h: 3, lastReleasedAt: NOW - 31 * 60_000 }))).toBe('warn-and-release');
  });

  it('never releases a number with a recent genuine verdict', () => {
    expect(decide(history({ prank24h: 5, prank7d: 8, genuine7d: 1 }))).toBe('connect-low');
    expect(decide(history({ genuine7d: 1 }), facts({ list: 'block' }))).toBe('connect');
  });

  it('never penalizes a caller ID many people share (anonymous, empty, junk)', () => {
    for (const callerIdKind of ['anonymous', 'empty', 'invalid'] as const) {
      expect(decide(history({ prank24h: 9, prank7d: 20 }), facts({ callerIdKind }))).toBe('connect');
    }
  });

  it('lets an allowlisted caller through whatever the history', () => {
    expect(decide(history({ prank24h: 9, prank7d: 20 }), facts({ list: 'allow' }))).toBe('connect');
  });

  it('does not take a disaster redial pattern for a prankster', () => {
    // A person in a flood calls 12 times in 10 minutes; nobody judged any of it a prank.
    const redial = history({ calls: { last10m: 12, last1h: 12, last24h: 12, last7d: 12 } });
    expect(screenCall(redial, facts(), DEFAULT_RULES)).toMatchObject({
      decision: 'connect',
      reasons: ['12 calls in the last hour'],
    });
  });

  it('holds for any history: the guarantees are never broken', () => {
    const count = fc.integer({ min: 0, max: 30 });
    fc.assert(
      fc.property(
        count,
        count,
        count,
        count,
        count,
        count,
        fc.option(fc.integer({ min: 0, max: 3 * 3600_000 }), { nil: null }),
        fc.constantFrom('allow', 'block', null),
        fc.constantFrom('e164', 'anonymous', 'empty', 'invalid'),
        (calls, prank24h, extraPrank, genuine7d, silent7d, ivr, releasedAgo, list, callerIdKind) => {
          const h = history({
            calls: { last10m: calls, last1h: calls, last24h: calls, last7d: calls },
            prank24h,
            prank7d: prank24h + extraPrank,
            genuine7d,
            silent7d,
            ivrHangups24h: ivr,
            lastReleasedAt: releasedAgo === null ? null : NOW - releasedAgo,
          });
          const f = facts({
            list: list as CallFacts['list'],
            callerIdKind: callerIdKind as CallFacts['callerIdKind'],
          });
          const { decision, reasons } = screenCall(h, f, DEFAULT_RULES);
          expect(reasons.length).toBeGreaterThan(0);
          if (genuine7d > 0 || list === 'allow' || callerIdKind !== 'e164') {
            expect(decision).not.toBe('warn-and-release');
          }
          if (releasedAgo !== null && releasedAgo < DEFAULT_RULES.releaseCooldownMs) {
            expect(decision).not.toBe('warn-and-release');
          }
          if (prank24h + extraPrank === 0 && silent7d === 0 && ivr === 0 && list !== 'block') {
            expect(decision).toBe('connect'); // volume alone never lowers a caller
          }
        },
      ),
    );
  });
});
