/**
 * What a soak's samples say, and whether that is flat (pure: `npm run soak` feeds it, unit tests
 * pin it). Memory is judged by its least-squares slope over the second half of the traffic (the
 * first half holds the warm-up: JIT code, pools and caches filling), event-loop delay and open
 * handles by their first and last windows, and the end state by counts that must be zero.
 */

/** One sample of the soak, taken while the traffic runs. */
export interface SoakSample {
  /** Minutes since the traffic started. */
  readonly minute: number;
  readonly rssBytes: number;
  /** Heap used right after a forced collection: live data. */
  readonly heapUsedBytes: number;
  /** Event-loop delay p99 since the previous sample, ms (null: the loop never ran meanwhile). */
  readonly loopDelayP99Ms: number | null;
  /** `process.getActiveResourcesInfo().length`: timers, sockets, requests in flight. */
  readonly activeResources: number;
}

/** What is left once the traffic stopped and the calls drained. */
export interface SoakEnd {
  /** Channels and bridges still alive in the emulated Asterisk. */
  readonly channels: number;
  readonly bridges: number;
  /** Calls siaga112 still holds, record updates it has not committed. */
  readonly callsHeld: number;
  readonly recordBacklog: number;
  /** Calls placed, and of them: without an ended record, with more than one record. */
  readonly callsPlaced: number;
  readonly unrecorded: number;
  readonly duplicated: number;
  /** Callers still on the line in the emulator when the drain gave up waiting. */
  readonly callersLeft: number;
  /** Calls that found no app holding the events socket (the dialplan's fallback took them). */
  readonly fallback: number;
  /**
   * Redis keys more after the soak than before it, in families of keys per thing (a call, a
   * caller, a job: `call:*`) that never expire.
   */
  readonly unexpiringRedisGrowth: number;
  /** Active resources with no call at all: before the traffic (after the warm-up), and after it. */
  readonly idleResourcesBefore: number;
  readonly idleResourcesAfter: number;
}

export interface SoakTrends {
  /** Least-squares slope over the second half, KB per minute (null: fewer than 2 samples). */
  readonly heapKbPerMinute: number | null;
  readonly rssKbPerMinute: number | null;
  /** Median of the per-sample p99s in the first and in the last window. */
  readonly loopDelayP99FirstMs: number | null;
  readonly loopDelayP99LastMs: number | null;
  /** Median active resources in the first and in the last window. */
  readonly resourcesFirst: number | null;
  readonly resourcesLast: number | null;
}

export interface SoakBounds {
  readonly heapKbPerMinute: number;
  readonly rssKbPerMinute: number;
  /** The last window's loop-delay p99 may be at most this many times the first's… */
  readonly loopDelayFactor: number;
  /** …or this many ms above it, whichever is more (a 10 ms p99 doubling to 20 is noise). */
  readonly loopDelaySlackMs: number;
  /** The same for active resources: × factor, or + slack, whichever is more. */
  readonly resourcesFactor: number;
  readonly resourcesSlack: number;
  /** Idle after the soak vs idle before it: at most this many more active resources. */
  readonly idleResourcesSlack: number;
}

export interface SoakCheck {
  readonly name: string;
  /** null: could not be measured (counts as a failure: a soak that measured nothing passed nothing). */
  readonly value: number | null;
  readonly bound: string;
  readonly ok: boolean;
}

/** A window is this share of the samples at each end (at least one sample). */
const WINDOW_SHARE = 0.2;

/** Least-squares slope of y over x; null with fewer than two distinct x. */
export function leastSquaresSlope(
  points: readonly { readonly x: number; readonly y: number }[],
): number | null {
  const n = points.length;
  if (n < 2) return null;
  const meanX = points.reduce((sum, p) => sum + p.x, 0) / n;
  const meanY = points.reduce((sum, p) => sum + p.y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const { x, y } of points) {
    sxx += (x - meanX) ** 2;
    sxy += (x - meanX) * (y - meanY);
  }
  return sxx === 0 ? null : sxy / sxx;
}

/** The median of the values; null when there are none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Samples taken in the second half of the traffic (`minutes` long). */
export function secondHalf<T extends { readonly minute: number }>(
  samples: readonly T[],
  minutes: number,
): T[] {
  return samples.filter((sample) => sample.minute >= minutes / 2);
}

/** The first and last windows (WINDOW_SHARE of the samples each, at least one). */
export function windows<T>(samples: readonly T[]): { first: T[]; last: T[] } {
  const size = Math.max(1, Math.round(samples.length * WINDOW_SHARE));
  return { first: samples.slice(0, size), last: samples.slice(-size) };
}

export function soakTrends(samples: readonly SoakSample[], minutes: number): SoakTrends {
  const late = secondHalf(samples, minutes);
  const kbPerMinute = (pick: (s: SoakSample) => number) => {
    const slope = leastSquaresSlope(late.map((s) => ({ x: s.minute, y: pick(s) / 1024 })));
    return slope === null ? null : Math.round(slope * 10) / 10;
  };
  const { first, last } = windows(samples);
  const lags = (window: readonly SoakSample[]) =>
    median(window.flatMap((s) => (s.loopDelayP99Ms === null ? [] : [s.loopDelayP99Ms])));
  return {
    heapKbPerMinute: kbPerMinute((s) => s.heapUsedBytes),
    rssKbPerMinute: kbPerMinute((s) => s.rssBytes),
    loopDelayP99FirstMs: lags(first),
    loopDelayP99LastMs: lags(last),
    resourcesFirst: median(first.map((s) => s.activeResources)),
    resourcesLast: median(last.map((s) => s.activeResources)),
  };
}

/** Every check of the soak, passed or not. */
export function judgeSoak(trends: SoakTrends, end: SoakEnd, bounds: SoakBounds): SoakCheck[] {
  const zero = (name: string, value: number): SoakCheck => ({ name, value, bound: '= 0', ok: value === 0 });
  const atMost = (name: string, value: number | null, limit: number, bound: string): SoakCheck => ({
    name,
    value,
    bound,
    ok: value !== null && value <= limit,
  });
  const grown = (first: number | null, factor: number, slack: number) =>
    first === null ? -Infinity : Math.max(first * factor, first + slack);
  return [
    zero('emulator channels left', end.channels),
    zero('emulator bridges left', end.bridges),
    zero('callers still on the line', end.callersLeft),
    zero('calls siaga112 still holds', end.callsHeld),
    zero('record updates not committed', end.recordBacklog),
    zero('calls without an ended record', end.unrecorded),
    zero('calls with more than one record', end.duplicated),
    zero('calls taken by the dialplan fallback', end.fallback),
    zero('Redis keys grown with no expiry', end.unexpiringRedisGrowth),
    atMost(
      'heap slope, second half (KB/min)',
      trends.heapKbPerMinute,
      bounds.heapKbPerMinute,
      `≤ ${bounds.heapKbPerMinute}`,
    ),
    atMost(
      'RSS slope, second half (KB/min)',
      trends.rssKbPerMinute,
      bounds.rssKbPerMinute,
      `≤ ${bounds.rssKbPerMinute}`,
    ),
    atMost(
      'event-loop delay p99, last window (ms)',
      trends.loopDelayP99LastMs,
      grown(trends.loopDelayP99FirstMs, bounds.loopDelayFactor, bounds.loopDelaySlackMs),
      `≤ max(${bounds.loopDelayFactor} × first, first + ${bounds.loopDelaySlackMs}) = ${formatBound(
        grown(trends.loopDelayP99FirstMs, bounds.loopDelayFactor, bounds.loopDelaySlackMs),
      )}`,
    ),
    atMost(
      'active resources, last window',
      trends.resourcesLast,
      grown(trends.resourcesFirst, bounds.resourcesFactor, bounds.resourcesSlack),
      `≤ max(${bounds.resourcesFactor} × first, first + ${bounds.resourcesSlack}) = ${formatBound(
        grown(trends.resourcesFirst, bounds.resourcesFactor, bounds.resourcesSlack),
      )}`,
    ),
    atMost(
      'active resources idle, after vs before',
      end.idleResourcesAfter - end.idleResourcesBefore,
      bounds.idleResourcesSlack,
      `≤ +${bounds.idleResourcesSlack}`,
    ),
  ];
}

const formatBound = (value: number) => (Number.isFinite(value) ? String(Math.round(value * 10) / 10) : 'n/a');
