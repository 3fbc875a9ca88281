import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTakerEventEntry } from '../../../src/records/taker-event.ts';
import {
  autoClaimEntries,
  backoffDelayMs,
  isEntrySpecificError,
  readGroupEntries,
} from '../../../src/records/taker-event-drain.ts';

const CALL = '0b6f5c3e-2d1a-4c1e-9a57-6a3f0e2b7d41';
const AT = 1_795_000_000_123;

function fields(overrides: Record<string, string> = {}): string[] {
  const base = {
    taker: 'taker1',
    state: 'on-call',
    previous: 'reserved',
    reason: '',
    call: CALL,
    at: String(AT),
  };
  return Object.entries({ ...base, ...overrides }).flat();
}

describe('parseTakerEventEntry', () => {
  it('reads an entry written by the contract', () => {
    expect(parseTakerEventEntry('1795000000200-3', fields())).toEqual({
      kind: 'event',
      problems: [],
      event: {
        streamId: '1795000000200-3',
        takerId: 'taker1',
        state: 'on-call',
        previousState: 'reserved',
        reason: null,
        callId: CALL,
        at: new Date(AT),
      },
    });
  });

  it("reads '' as none for previous, reason and call", () => {
    const parsed = parseTakerEventEntry(
      '1-0',
      fields({ previous: '', call: '', reason: 'login', state: 'available' }),
    );
    expect(parsed.kind === 'event' && parsed.event).toMatchObject({
      previousState: null,
      callId: null,
      reason: 'login',
    });
  });

  it('sets aside what cannot be stored', () => {
    expect(parseTakerEventEntry('1-0', fields({ taker: '' }))).toMatchObject({ kind: 'dead' });
    expect(parseTakerEventEntry('1-0', ['state', 'available', 'at', '1'])).toMatchObject({ kind: 'dead' });
    expect(parseTakerEventEntry('1-0', fields({ state: '' }))).toMatchObject({ kind: 'dead' });
    expect(parseTakerEventEntry('1-0', fields({ taker: 'x'.repeat(257) }))).toMatchObject({ kind: 'dead' });
    expect(parseTakerEventEntry('nonsense', fields())).toMatchObject({ kind: 'dead' });
    expect(parseTakerEventEntry('1-0', null)).toEqual({ kind: 'gone', streamId: '1-0' });
  });

  it('stores what it can repair, naming the repair', () => {
    const repaired = parseTakerEventEntry(
      '1795000000999-0',
      fields({ state: 'training', previous: 'lunch-room', call: 'not-a-uuid', at: 'yesterday' }),
    );
    expect(repaired.kind).toBe('event');
    if (repaired.kind !== 'event') return;
    expect(repaired.event).toMatchObject({
      state: 'training',
      previousState: 'lunch-room',
      callId: null,
      at: new Date(1_795_000_000_999),
    });
    expect(repaired.problems).toHaveLength(4);
  });

  it('never throws, whatever the fields', () => {
    fc.assert(
      fc.property(fc.string(), fc.array(fc.string({ unit: 'binary' })), (id, raw) => {
        const parsed = parseTakerEventEntry(id, raw);
        if (parsed.kind === 'event') expect(Number.isNaN(parsed.event.at.getTime())).toBe(false);
      }),
    );
  });
});

describe('drain helpers', () => {
  it('backs off exponentially to the cap, with jitter within [half, whole]', () => {
    const retry = { initialDelayMs: 100, maxDelayMs: 1_000 };
    expect([1, 2, 3, 4, 5, 50].map((a) => backoffDelayMs(a, retry, () => 1))).toEqual([
      100, 200, 400, 800, 1_000, 1_000,
    ]);
    expect([1, 2, 5].map((a) => backoffDelayMs(a, retry, () => 0))).toEqual([50, 100, 500]);
  });

  it('tells an entry Postgres refuses from Postgres being away', () => {
    expect(isEntrySpecificError({ code: '22P02' })).toBe(true);
    expect(isEntrySpecificError({ code: '23505' })).toBe(true);
    expect(isEntrySpecificError({ code: '54000' })).toBe(true);
    expect(isEntrySpecificError({ code: '57P01' })).toBe(false);
    expect(isEntrySpecificError({ code: 'ECONNREFUSED' })).toBe(false);
    expect(isEntrySpecificError(new Error('timeout'))).toBe(false);
  });

  it('reads XREADGROUP replies in RESP2 and RESP3 shapes', () => {
    const entries = [
      ['1-0', ['taker', 't1']],
      ['2-0', null],
    ];
    const expected = [
      ['1-0', ['taker', 't1']],
      ['2-0', null],
    ];
    expect(readGroupEntries(null)).toEqual([]);
    expect(readGroupEntries([['k', entries]])).toEqual(expected);
    expect(readGroupEntries(['k', entries])).toEqual(expected);
    expect(autoClaimEntries(['5-0', entries, ['3-0']])).toEqual({ next: '5-0', entries: expected });
  });
});
