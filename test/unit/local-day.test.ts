import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTimeZone, localDay, localHour } from '../../src/local-day.ts';

describe('localDay', () => {
  it('gives the calendar day of an instant in a time zone, midnight to midnight', () => {
    // 23:30 UTC on 22 November is already the 23rd in Jakarta (UTC+7) and Makassar (UTC+8).
    const at = Date.parse('2026-11-22T23:30:00Z');
    expect(localDay(at, 'UTC')).toEqual({
      date: '2026-11-22',
      from: new Date('2026-11-22T00:00:00Z'),
      to: new Date('2026-11-23T00:00:00Z'),
    });
    expect(localDay(at, 'Asia/Jakarta')).toEqual({
      date: '2026-11-23',
      from: new Date('2026-11-22T17:00:00Z'),
      to: new Date('2026-11-23T17:00:00Z'),
    });
    expect(localDay(at, 'Asia/Makassar').from).toEqual(new Date('2026-11-22T16:00:00Z'));
    expect(localHour(at, 'Asia/Jayapura')).toBe(8);
  });

  it('makes a day 23 or 25 hours long across a DST change', () => {
    const spring = localDay(Date.parse('2026-03-29T12:00:00Z'), 'Europe/Berlin');
    expect(spring.to.getTime() - spring.from.getTime()).toBe(23 * 3600_000);
    const autumn = localDay(Date.parse('2026-10-25T12:00:00Z'), 'Europe/Berlin');
    expect(autumn.from).toEqual(new Date('2026-10-24T22:00:00Z'));
    expect(autumn.to.getTime() - autumn.from.getTime()).toBe(25 * 3600_000);
  });

  it('always contains the instant, and the next day starts where it ends', () => {
    const zones = ['UTC', 'Asia/Jakarta', 'Asia/Makassar', 'America/New_York', 'Australia/Lord_Howe'];
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse('2000-01-01'), max: Date.parse('2040-01-01') }),
        fc.constantFrom(...zones),
        (at, zone) => {
          const day = localDay(at, zone);
          expect(day.from.getTime()).toBeLessThanOrEqual(at);
          expect(at).toBeLessThan(day.to.getTime());
          expect(localDay(day.to.getTime(), zone).from).toEqual(day.to);
          expect(localHour(day.from.getTime(), zone)).toBe(0);
        },
      ),
    );
  });

  it('knows IANA zones and nothing else', () => {
    expect(isTimeZone('Asia/Jakarta')).toBe(true);
    expect(isTimeZone('UTC')).toBe(true);
    expect(isTimeZone('Mars/Olympus_Mons')).toBe(false);
  });
});
