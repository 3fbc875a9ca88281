/**
 * A day of 112 traffic made up on the spot, with the profile of ../shared/traffic/kendari-day.jsonl
 * (about 120 calls, 40% prank, a handful of silent calls, misdials and questions, more calls by day
 * than at night, a few pranksters calling again and again in different caller-ID forms). The demo
 * uses it when the traffic file is not there. Deterministic: the same seed gives the same day.
 */
import type { CallerStep } from '../emulator/inbound-caller.ts';
import { type TrafficCall, type Truth, verdictFor } from './traffic.ts';

export interface GeneratedDayOptions {
  /** How many calls (default 120). */
  calls?: number;
  /** Same seed, same day (default 112). */
  seed?: number;
}

/** Calls per hour of the day at Kendari (the file's own counts), as weights. */
const HOURLY_WEIGHTS = [3, 2, 1, 2, 1, 2, 3, 9, 7, 6, 5, 12, 3, 9, 6, 2, 3, 7, 9, 9, 5, 8, 4, 2];
const TRUTH_SHARES: ReadonlyArray<[Truth, number]> = [
  ['genuine', 0.415],
  ['prank', 0.4],
  ['silent-accidental', 0.067],
  ['misdial', 0.05],
  ['info', 0.05],
  ['silent-genuine', 0.018],
];
const TRUNK_SHARES: ReadonlyArray<[string, number]> = [
  ['telkomsel', 0.53],
  ['xl', 0.18],
  ['smartfren', 0.15],
  ['indosat', 0.14],
];
const OPERATOR_PREFIXES = ['812', '813', '821', '822', '852', '853', '857', '878', '881', '896'];
/** Share of the prank calls made by a handful of repeat pranksters (the rest are one-offs). */
const REPEAT_PRANK_SHARE = 0.45;
const REPEAT_PRANKSTERS = 5;

/** mulberry32: small, fast and good enough to make up a day. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function generateDay(options: GeneratedDayOptions = {}): TrafficCall[] {
  const count = options.calls ?? 120;
  const next = random(options.seed ?? 112);
  const between = (low: number, high: number) => Math.round((low + next() * (high - low)) * 10) / 10;
  const pick = <T>(items: ReadonlyArray<[T, number]>): T => {
    let left = next() * items.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [item, weight] of items) {
      left -= weight;
      if (left < 0) return item;
    }
    return items[items.length - 1]![0];
  };
  const newNumber = () =>
    `${OPERATOR_PREFIXES[Math.floor(next() * OPERATOR_PREFIXES.length)]}${String(Math.floor(next() * 1e8)).padStart(8, '0')}`;
  // The same subscriber, as the trunks deliver it: national, E.164 with or without the plus.
  const asDelivered = (national: string) =>
    pick<string>([
      [`0${national}`, 0.5],
      [`+62${national}`, 0.35],
      [`62${national}`, 0.15],
    ]);
  const pranksters = Array.from({ length: REPEAT_PRANKSTERS }, newNumber);
  const hours = HOURLY_WEIGHTS.map((weight, hour): [number, number] => [hour, weight]);

  const calls: TrafficCall[] = [];
  for (let i = 0; i < count; i++) {
    const truth = pick(TRUTH_SHARES);
    const at = Math.round((pick(hours) * 3600 + next() * 3600) * 10) / 10;
    const national =
      truth === 'prank' && next() < REPEAT_PRANK_SHARE
        ? pranksters[Math.floor(next() * pranksters.length)]!
        : newNumber();
    const from = truth !== 'prank' && next() < 0.03 ? 'anonymous' : asDelivered(national);
    calls.push({
      id: `generated-day-${String(i + 1).padStart(5, '0')}`,
      line: 0,
      at,
      from,
      trunk: pick(TRUNK_SHARES),
      truth,
      ...behaviour(truth, between, next),
      verdict: verdictFor(truth),
    });
  }
  calls.sort((a, b) => a.at - b.at);
  return calls.map((call, index) => ({ ...call, line: index + 1 }));
}

/** What a caller of this kind does, how long they wait for a person, how long they talk. */
function behaviour(
  truth: Truth,
  between: (low: number, high: number) => number,
  next: () => number,
): { caller: CallerStep[]; patience: number; talk: number } {
  switch (truth) {
    case 'genuine':
      return {
        caller:
          next() < 0.3 ? [{ speak: between(4, 9) }, { dtmf: '1' }, { speak: 3 }] : [{ speak: between(4, 9) }],
        patience: between(80, 300),
        talk: between(60, 210),
      };
    case 'prank':
      return {
        caller:
          next() < 0.3
            ? [{ speak: 2 }, { hangup: true }]
            : [{ silence: between(0, 4) }, { speak: between(1, 3) }],
        patience: between(30, 80),
        talk: between(7, 30),
      };
    case 'silent-genuine':
      return { caller: [{ silence: 10 }, { dtmf: '55' }], patience: 300, talk: between(60, 120) };
    case 'silent-accidental':
      return { caller: [{ silence: 600 }], patience: between(80, 180), talk: between(10, 35) };
    case 'misdial':
      return { caller: [{ speak: 2 }, { hangup: true }], patience: 20, talk: 5 };
    case 'info':
      return { caller: [{ speak: between(3, 6) }], patience: between(60, 120), talk: between(30, 90) };
  }
}
