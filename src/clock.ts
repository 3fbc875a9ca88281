/**
 * Time as the call logic sees it: arrival stamps, history windows, silence and challenge windows,
 * ring timeouts, wrap-ups. Real by default. A replay runs a day of traffic in minutes with a fast
 * clock; I/O timeouts and retries (ARI requests, Redis, the leader lease) stay in real time,
 * because they measure the machine, not the call.
 */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Runs `fn` after `ms` milliseconds of this clock's time; clear it with clearTimeout. */
  setTimeout(fn: () => void, ms: number): NodeJS.Timeout;
  /** Clock milliseconds per real millisecond (1 for the real clock). */
  readonly rate: number;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  rate: 1,
};

/** A clock that runs `rate` times faster than real time and can skip ahead over idle stretches. */
export interface FastClock extends Clock {
  /**
   * Moves time forward at once. Timers already set keep their real delays, so skip only when no
   * timer that matters is pending (a replay skips while no call is live).
   */
  skip(ms: number): void;
}

export function fastClock(rate: number, origin = Date.now()): FastClock {
  if (!Number.isFinite(rate) || rate < 1) throw new RangeError(`clock rate must be ≥ 1, got ${rate}`);
  const realStart = performance.now();
  let skipped = 0;
  return {
    rate,
    now: () => Math.floor(origin + skipped + (performance.now() - realStart) * rate),
    setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms) / rate),
    skip: (ms) => {
      if (ms > 0) skipped += ms;
    },
  };
}
