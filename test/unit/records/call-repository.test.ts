import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planBatch, storableText } from '../../../src/records/call-repository.ts';
import { callEvent, callLifecycle } from '../../support/call-fixtures.ts';

describe('planBatch', () => {
  it('keeps the highest version of each call and each event once, sorted by key', () => {
    const a = callLifecycle(3);
    const b = callLifecycle(2);
    const plan = planBatch([a[1]!, b[0]!, a[2]!, a[0]!, b[1]!, b[0]!]);
    const ids = [a[0]!.record.id, b[0]!.record.id].sort();
    expect(plan.records.map((r) => r.id)).toEqual(ids);
    expect(plan.records.find((r) => r.id === a[0]!.record.id)).toBe(a[2]!.record);
    expect(plan.records.find((r) => r.id === b[0]!.record.id)).toBe(b[1]!.record);
    expect(plan.events).toHaveLength(6 + 4);
    expect(plan.events.map((e) => [e.callId, e.seq])).toEqual(
      [...plan.events]
        .sort((x, y) => (x.callId < y.callId ? -1 : x.callId > y.callId ? 1 : x.seq - y.seq))
        .map((e) => [e.callId, e.seq]),
    );
  });

  it('keeps the first copy of an event seen twice', () => {
    const [update] = callLifecycle(1);
    const id = update!.record.id;
    const plan = planBatch([
      { record: update!.record, events: [callEvent(id, 1, { type: 'first' })] },
      { record: update!.record, events: [callEvent(id, 1, { type: 'second' })] },
    ]);
    expect(plan.events.map((e) => e.type)).toEqual(['first']);
  });

  it('is an empty plan for an empty batch', () => {
    expect(planBatch([])).toEqual({ records: [], events: [] });
  });
});

describe('storableText', () => {
  it('leaves ordinary text, however odd, exactly as it is', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\u0000')),
        (s) => {
          expect(storableText(s)).toBe(s);
        },
      ),
    );
  });

  it('replaces what Postgres cannot store with U+FFFD, keeping the length', () => {
    expect(storableText('a\u0000b')).toBe('a\uFFFDb');
    expect(storableText('\uD83D')).toBe('\uFFFD');
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const stored = storableText(s);
        expect(stored.includes('\u0000')).toBe(false);
        expect(stored.isWellFormed()).toBe(true);
        expect(stored.length).toBe(s.length);
      }),
    );
  });
});
