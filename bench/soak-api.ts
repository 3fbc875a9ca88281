/** What the soak and its emulator process say to each other (see ipc.ts). */

import type { Verdict } from '../src/records/call-record.ts';
import type { Truth } from '../src/replay/traffic.ts';
import type { ProcessSample } from './process-probe.ts';

export interface SoakSetup {
  readonly password: string;
  /** Taker phones `PJSIP/taker1..N`; each picks up `answerDelayMs` after it starts ringing. */
  readonly takers: number;
  readonly answerDelayMs: number;
}

export interface SoakRun {
  /** New calls per second, steadily, until `stopArrivals`. */
  readonly rate: number;
  /** The demo's traffic generator's seed: the same seed, the same callers in the same order. */
  readonly seed: number;
  /** Talk times and callers' patience are the generator's times this (call time is real time). */
  readonly timeScale: number;
}

/** The emulated Asterisk's state now. */
export interface SoakTrafficSample {
  readonly placed: number;
  /** Callers still on the line. */
  readonly live: number;
  /** Callers put through to a taker so far. */
  readonly bridged: number;
  /** Channels, bridges and playbacks alive in the emulated Asterisk. */
  readonly channels: number;
  readonly bridges: number;
  readonly playbacks: number;
}

export interface SoakTrafficResult {
  /** Every caller channel placed (each must end with exactly one record). */
  readonly callerChannelIds: string[];
  /** Calls placed per kind of caller, and of them put through to a taker. */
  readonly byTruth: Record<string, { placed: number; bridged: number }>;
  /** How the callers' calls ended: the caller hung up, the app did, the dialplan fallback. */
  readonly endedBy: Record<string, number>;
  readonly fallback: number;
  /** Callers still on the line when asked. */
  readonly live: number;
}

export interface SoakTrafficNotices {
  /** A call taker hung up after talking: siaga112 is told the verdict, as a desk would. */
  talked: {
    readonly callId: string;
    readonly takerId: string;
    readonly verdict: Verdict;
    readonly truth: Truth;
  };
}

export type SoakTrafficApi = {
  start: { args: SoakSetup; reply: { url: string; recordingsDir: string } };
  /** Starts placing calls; resolves at once. */
  run: { args: SoakRun; reply: null };
  /** Stops placing calls; resolves with how many were placed. */
  stopArrivals: { args: Record<string, never>; reply: { placed: number } };
  /** Waits until no caller is on the line (at most `timeoutMs`); resolves with those left. */
  drain: { args: { timeoutMs: number }; reply: { live: number } };
  state: { args: Record<string, never>; reply: SoakTrafficSample };
  result: { args: Record<string, never>; reply: SoakTrafficResult };
  sample: { args: { gc: boolean }; reply: ProcessSample };
  stop: { args: Record<string, never>; reply: null };
};
