import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CallRecordUpdate } from '../../../src/records/call-record.ts';
import {
  isRecordSpecificError,
  RECORD_WORKER_DEFAULTS,
  recordJobId,
  retryDelayMs,
  reviveUpdate,
  serializeUpdate,
} from '../../../src/records/record-writer.ts';
import { callLifecycle } from '../../support/call-fixtures.ts';

const date = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2100-01-01T00:00:00Z'),
  noInvalidDate: true,
});
const maybeDate = fc.option(date, { nil: null });

const update: fc.Arbitrary<CallRecordUpdate> = fc
  .record({
    id: fc.uuid(),
    version: fc.nat(),
    callerIdRaw: fc.string({ unit: 'grapheme' }),
    arrivedAt: date,
    answeredAt: maybeDate,
    queuedAt: maybeDate,
    offeredAt: maybeDate,
    connectedAt: maybeDate,
    endedAt: maybeDate,
    eventTimes: fc.array(date, { maxLength: 5 }),
  })
  .map(({ eventTimes, ...fields }) => {
    const base = callLifecycle(1)[0]!;
    const record = { ...base.record, ...fields };
    return {
      record,
      events: eventTimes.map((at, i) => ({
        callId: record.id,
        seq: i + 1,
        at,
        type: 't',
        state: 's',
        detail: { i },
      })),
    };
  });

describe('record job payload', () => {
  it('survives the trip through JSON with every date intact', () => {
    fc.assert(
      fc.property(update, (original) => {
        const travelled = JSON.parse(JSON.stringify(serializeUpdate(original)));
        expect(reviveUpdate(travelled)).toEqual(original);
      }),
    );
  });

  it('names one job per call and version, in a form BullMQ accepts', () => {
    const id = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    expect(recordJobId({ id, version: 3 })).toBe(`${id}-v3`);
    expect(recordJobId({ id, version: 3 })).not.toContain(':');
    expect(recordJobId({ id, version: 3 })).not.toBe(recordJobId({ id, version: 4 }));
  });
});

describe('retry schedule', () => {
  it('doubles from 250 ms and stays at 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100, 1_000_000].map((n) => retryDelayMs(n))).toEqual([
      250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000,
    ]);
    expect(RECORD_WORKER_DEFAULTS.retry).toEqual({ initialDelayMs: 250, maxDelayMs: 5_000 });
  });

  it('never waits longer than the cap nor less than the first delay', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (attempts) => {
        const delay = retryDelayMs(attempts);
        expect(delay).toBeGreaterThanOrEqual(250);
        expect(delay).toBeLessThanOrEqual(5_000);
      }),
    );
  });
});

describe('which errors belong to one update', () => {
  it('splits a batch only for data and constraint errors', () => {
    expect(isRecordSpecificError(Object.assign(new Error('fk'), { code: '23503' }))).toBe(true);
    expect(isRecordSpecificError(Object.assign(new Error('check'), { code: '23514' }))).toBe(true);
    expect(isRecordSpecificError(Object.assign(new Error('bad text'), { code: '22P05' }))).toBe(true);
    // The database being away, overloaded or not migrated yet concerns every update alike.
    expect(isRecordSpecificError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(false);
    expect(isRecordSpecificError(Object.assign(new Error('shutdown'), { code: '57P01' }))).toBe(false);
    expect(isRecordSpecificError(Object.assign(new Error('no table'), { code: '42P01' }))).toBe(false);
    expect(isRecordSpecificError(new Error('Connection terminated unexpectedly'))).toBe(false);
    expect(isRecordSpecificError(null)).toBe(false);
  });
});
