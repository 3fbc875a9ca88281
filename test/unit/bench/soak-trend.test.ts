import { describe, expect, it } from 'vitest';
import {
  judgeSoak,
  leastSquaresSlope,
  median,
  type SoakBounds,
  type SoakEnd,
  type SoakSample,
  secondHalf,
  soakTrends,
  windows,
} from '../../../bench/soak-trend.ts';

const MB = 1024 * 1024;

/** A sample every half minute for `minutes`, memory and the rest from functions of the minute. */
function samples(
  minutes: number,
  shape: {
    heap?: (minute: number) => number;
    rss?: (minute: number) => number;
    lag?: (minute: number) => number | null;
    resources?: (minute: number) => number;
  } = {},
): SoakSample[] {
  const out: SoakSample[] = [];
  for (let minute = 0.5; minute <= minutes; minute += 0.5) {
    out.push({
      minute,
      heapUsedBytes: shape.heap?.(minute) ?? 50 * MB,
      rssBytes: shape.rss?.(minute) ?? 150 * MB,
      loopDelayP99Ms: shape.lag ? shape.lag(minute) : 12,
      activeResources: shape.resources?.(minute) ?? 60,
    });
  }
  return out;
}

const flatEnd: SoakEnd = {
  channels: 0,
  bridges: 0,
  callsHeld: 0,
  recordBacklog: 0,
  callsPlaced: 3600,
  unrecorded: 0,
  duplicated: 0,
  callersLeft: 0,
  fallback: 0,
  unexpiringRedisGrowth: 0,
  idleResourcesBefore: 33,
  idleResourcesAfter: 33,
};

const bounds: SoakBounds = {
  heapKbPerMinute: 60,
  rssKbPerMinute: 120,
  loopDelayFactor: 2,
  loopDelaySlackMs: 20,
  resourcesFactor: 1.5,
  resourcesSlack: 30,
  idleResourcesSlack: 3,
};

const failedChecks = (trends: ReturnType<typeof soakTrends>, end: SoakEnd = flatEnd) =>
  judgeSoak(trends, end, bounds)
    .filter((check) => !check.ok)
    .map((check) => check.name);

describe('leastSquaresSlope', () => {
  it('is the slope of points on a line, whatever their order', () => {
    const line = [0, 1, 2, 3, 4].map((x) => ({ x, y: 7 - 2.5 * x }));
    expect(leastSquaresSlope(line)).toBeCloseTo(-2.5, 12);
    expect(leastSquaresSlope([...line].reverse())).toBeCloseTo(-2.5, 12);
  });

  it('fits noise around a line to the line (residuals symmetric about it)', () => {
    const points = [0, 1, 2, 3, 4, 5].map((x, i) => ({ x, y: 3 * x + (i % 2 === 0 ? 1 : -1) }));
    // The alternating ±1 tilts the fit by a known amount: -6/35 (Σ(x-x̄)e / Σ(x-x̄)²).
    expect(leastSquaresSlope(points)).toBeCloseTo(3 - 6 / 35, 12);
  });

  it('is null with fewer than two points or when x never changes', () => {
    expect(leastSquaresSlope([])).toBeNull();
    expect(leastSquaresSlope([{ x: 1, y: 2 }])).toBeNull();
    expect(
      leastSquaresSlope([
        { x: 1, y: 2 },
        { x: 1, y: 5 },
      ]),
    ).toBeNull();
  });
});

describe('median, halves and windows', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([])).toBeNull();
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('keeps the samples from the half-way minute on', () => {
    const all = samples(10);
    const late = secondHalf(all, 10);
    expect(late[0]?.minute).toBe(5);
    expect(late.at(-1)?.minute).toBe(10);
    expect(late).toHaveLength(11);
  });

  it('makes each window a fifth of the samples, at least one', () => {
    expect(windows([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toEqual({ first: [1, 2], last: [9, 10] });
    expect(windows([1, 2])).toEqual({ first: [1], last: [2] });
    expect(windows([])).toEqual({ first: [], last: [] });
  });
});

describe('soakTrends', () => {
  it('measures memory growth over the second half only, in KB per minute', () => {
    // Steep warm-up in the first half (JIT, pools), then 10 KB/min of heap and 100 KB/min of RSS.
    const trends = soakTrends(
      samples(30, {
        heap: (m) => (m < 15 ? 20 * MB + m * 2 * MB : 50 * MB + m * 10 * 1024),
        rss: (m) => (m < 15 ? 100 * MB + m * 4 * MB : 170 * MB + m * 100 * 1024),
      }),
      30,
    );
    expect(trends.heapKbPerMinute).toBe(10);
    expect(trends.rssKbPerMinute).toBe(100);
  });

  it('compares the median loop delay and resources of the first and last fifths, ignoring empty intervals', () => {
    const trends = soakTrends(
      samples(10, {
        lag: (m) => (m === 1 ? null : m <= 2 ? 10 + m : 40),
        resources: (m) => (m <= 2 ? 50 : 80),
      }),
      10,
    );
    expect(trends.loopDelayP99FirstMs).toBe(11.5); // 10.5, (null), 11.5, 12: median 11.5
    expect(trends.loopDelayP99LastMs).toBe(40);
    expect(trends.resourcesFirst).toBe(50);
    expect(trends.resourcesLast).toBe(80);
  });
});

describe('judgeSoak', () => {
  it('passes a flat soak that left nothing behind', () => {
    const checks = judgeSoak(soakTrends(samples(30), 30), flatEnd, bounds);
    expect(checks.length).toBeGreaterThan(10);
    expect(checks.filter((check) => !check.ok)).toEqual([]);
  });

  it('fails each thing left behind on its own', () => {
    const trends = soakTrends(samples(30), 30);
    expect(failedChecks(trends, { ...flatEnd, channels: 1 })).toEqual(['emulator channels left']);
    expect(failedChecks(trends, { ...flatEnd, bridges: 2 })).toEqual(['emulator bridges left']);
    expect(failedChecks(trends, { ...flatEnd, callsHeld: 1 })).toEqual(['calls siaga112 still holds']);
    expect(failedChecks(trends, { ...flatEnd, unrecorded: 1 })).toEqual(['calls without an ended record']);
    expect(failedChecks(trends, { ...flatEnd, duplicated: 1 })).toEqual(['calls with more than one record']);
    expect(failedChecks(trends, { ...flatEnd, unexpiringRedisGrowth: 40 })).toEqual([
      'Redis keys grown with no expiry',
    ]);
    expect(failedChecks(trends, { ...flatEnd, idleResourcesAfter: 37 })).toEqual([
      'active resources idle, after vs before',
    ]);
    expect(failedChecks(trends, { ...flatEnd, idleResourcesAfter: 36 })).toEqual([]);
  });

  it('fails memory growing faster than its bound in the second half, not a warm-up in the first', () => {
    const warmUp = soakTrends(samples(30, { heap: (m) => (m < 15 ? m * 5 * MB : 75 * MB) }), 30);
    expect(failedChecks(warmUp)).toEqual([]);
    const leak = soakTrends(samples(30, { heap: (m) => 50 * MB + m * 61 * 1024 }), 30);
    expect(failedChecks(leak)).toEqual(['heap slope, second half (KB/min)']);
    const resident = soakTrends(samples(30, { rss: (m) => 150 * MB + m * 121 * 1024 }), 30);
    expect(failedChecks(resident)).toEqual(['RSS slope, second half (KB/min)']);
  });

  it('allows the loop delay to double or gain the slack, whichever is more', () => {
    const lagTo = (last: number) => soakTrends(samples(10, { lag: (m) => (m <= 2 ? 10 : last) }), 10);
    expect(failedChecks(lagTo(30))).toEqual([]); // 10 + 20 slack
    expect(failedChecks(lagTo(30.5))).toEqual(['event-loop delay p99, last window (ms)']);
    const slowTo = (last: number) => soakTrends(samples(10, { lag: (m) => (m <= 2 ? 50 : last) }), 10);
    expect(failedChecks(slowTo(100))).toEqual([]); // 2 × 50
    expect(failedChecks(slowTo(101))).toEqual(['event-loop delay p99, last window (ms)']);
  });

  it('fails resources growing beyond 1.5 × the first window or 30 more', () => {
    const to = (last: number) => soakTrends(samples(10, { resources: (m) => (m <= 2 ? 40 : last) }), 10);
    expect(failedChecks(to(70))).toEqual([]);
    expect(failedChecks(to(71))).toEqual(['active resources, last window']);
  });

  it('fails what it could not measure: a soak without samples passes nothing', () => {
    expect(failedChecks(soakTrends([], 30))).toEqual([
      'heap slope, second half (KB/min)',
      'RSS slope, second half (KB/min)',
      'event-loop delay p99, last window (ms)',
      'active resources, last window',
    ]);
  });
});
