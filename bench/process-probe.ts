/**
 * What each benchmark child reports about its own process: CPU time so far, resident, heap and
 * external memory, and the event loop's delay since the previous sample (perf_hooks).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface ProcessSample {
  /** Epoch ms (µs precision), comparable across the benchmark's processes. */
  readonly at: number;
  /** CPU time used since the process started (user + system), µs. */
  readonly cpuUs: number;
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  /** What V8 holds for the heap (used or not), and memory outside it: Buffers, ArrayBuffers, native. */
  readonly heapTotalBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** Event-loop delay since the previous sample, ms; null when the loop never ran meanwhile. */
  readonly loopDelay: { readonly p50: number; readonly p99: number; readonly max: number } | null;
}

export interface ProcessProbe {
  /** `gc`: collect garbage first, so memory figures are live data, not garbage not yet collected. */
  sample(options?: { gc?: boolean }): ProcessSample;
}

export const epochNow = (): number => performance.timeOrigin + performance.now();

export function createProcessProbe(): ProcessProbe {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const ms = (ns: number) => Math.round(ns / 1000) / 1000;
  return {
    sample(options = {}) {
      // The loop's figures first: a forced collection would show up as a delay of its own.
      const loopDelay =
        delay.count === 0
          ? null
          : { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
      if (options.gc) gc();
      // The collection forced here is ours, not the process's: it counts in no interval.
      delay.reset();
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      return {
        at: epochNow(),
        cpuUs: cpu.user + cpu.system,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        externalBytes: memory.external,
        arrayBuffersBytes: memory.arrayBuffers,
        loopDelay,
      };
    },
  };
}
