/** What the benchmark and its child processes say to each other (see ipc.ts). */
import type { ProcessSample } from './process-probe.ts';

/** The emulated Asterisk and its virtual callers and call takers. */
export interface TrafficSetup {
  readonly password: string;
  /** Taker phones `PJSIP/taker1..N`: they answer after `answerDelayMs` and hang up after `talkMs`. */
  readonly takers: number;
  readonly answerDelayMs: number;
  readonly talkMs: number;
  /** Operator trunks the calls arrive on, in turn. */
  readonly trunks: readonly string[];
  readonly greetingMs: number;
}

/** One stage of traffic: steps of a steady arrival rate, one after the other. */
export interface StageRun {
  readonly stage: string;
  /** The Stasis app the calls enter: siaga112, or the floor app. */
  readonly app: string;
  readonly steps: readonly { readonly rate: number; readonly durationMs: number }[];
  /** A caller not bridged to a taker by then hangs up. */
  readonly patienceMs: number;
  /** A step whose arrival → offer p99 exceeds this (or that lost a call) is saturated. */
  readonly saturationMs: number;
  /** Ramp: stop placing calls once two steps in a row are saturated. */
  readonly stopWhenSaturated: boolean;
  /** How long after a step ends its offers are judged (calls still waiting count as too slow). */
  readonly evaluateAfterMs: number;
  /** How long to wait for the stage's calls to end after the last arrival. */
  readonly drainTimeoutMs: number;
  /**
   * Memory: takers keep every call of the stage until this long after the last arrival, then
   * hang up all at once (null: they hang up after the talk time, as usual).
   */
  readonly holdMs: number | null;
}

/** What the emulator saw of one step, on its own clock. */
export interface StepTraffic {
  readonly rate: number;
  /** Epoch ms. */
  readonly startedAt: number;
  readonly endedAt: number;
  readonly placed: number;
  /** Caller's StasisStart sent → the app's answer request received, ms. */
  readonly answerMs: number[];
  /** Caller's StasisStart sent → the first originate for that caller received, ms (Infinity: none). */
  readonly offerMs: number[];
  /** Taker leg's StasisStart sent → both legs in one bridge, ms. */
  readonly bridgeMs: number[];
  readonly bridged: number;
  /** Callers rung to more than one taker (every bench taker answers, so any second offer is a double). */
  readonly doubleOffers: number;
  /**
   * Calls lost: the caller hung up unbridged while a taker had been idle for a second or more, the
   * app hung up a caller it never bridged, or no app held the events socket (dialplan fallback).
   */
  readonly lost: string[];
  /** Of the lost: calls that found no app connected and took the dialplan's fallback. */
  readonly fallback: number;
  /** Callers who hung up unbridged while every taker was busy. */
  readonly abandoned: number;
  /** Inbound channels alive at most during the step. */
  readonly peakLive: number;
  /** Fewest taker phones idle at any sample during the step. */
  readonly minIdleTakers: number;
  /** Judged too slow (arrival → offer p99 over the bound), for a ramp. */
  readonly saturated: boolean;
  /** Caller channel ids placed in this step (records are checked against them). */
  readonly callerChannelIds: string[];
  /** The emulator's own CPU time during the step, µs. */
  readonly emulatorCpuUs: number;
}

export interface StageTraffic {
  readonly steps: StepTraffic[];
  /** Every call of the stage had ended when the result was sent. */
  readonly drained: boolean;
}

export interface TrafficNotices {
  /** A step's arrivals ended (epoch ms); the benchmark samples the services then. */
  boundary: { readonly step: number; readonly at: number; readonly live: number; readonly last: boolean };
}

export type TrafficApi = {
  /** The emulator's ARI URL and its recording directory (Asterisk's, which siaga112 reads). */
  start: { args: TrafficSetup; reply: { url: string; recordingsDir: string } };
  run: { args: StageRun; reply: StageTraffic };
  live: { args: Record<string, never>; reply: { live: number } };
  sample: { args: { gc: boolean }; reply: ProcessSample };
  stop: { args: Record<string, never>; reply: null };
};

export type ServiceApi = {
  /** Starts siaga112 with this environment; resolves once it leads (or stands by, if told). */
  start: { args: { env: Record<string, string>; expectLeading: boolean }; reply: { leading: boolean } };
  /** Call takers log on through the HTTP API, with an admin key. */
  logOn: { args: { takerIds: string[]; apiKey: string }; reply: { loggedOn: number } };
  sample: { args: { gc: boolean }; reply: ProcessSample };
  /** Calls this process still handles and record updates not yet committed (all instances'). */
  status: { args: Record<string, never>; reply: { activeCalls: number; recordBacklog: number } };
  /** Warnings and errors the process logged since the last ask, counted by level and message. */
  logCounts: { args: Record<string, never>; reply: Record<string, number> };
  /** `process.getActiveResourcesInfo()`: how many timers, sockets and requests keep the loop alive, by kind. */
  resources: {
    args: Record<string, never>;
    reply: {
      total: number;
      byKind: Record<string, number>;
      /** V8's heap spaces: bytes each holds (committed) and uses. */
      heapSpaces: Record<string, { size: number; used: number }>;
    };
  };
  /** A call taker's verdict on a call (PUT /calls/{id}/verdict with this key), retried until its record shows it answered. */
  verdict: {
    args: { callId: string; takerId: string; verdict: string; apiKey: string };
    reply: { status: number };
  };
  /** V8's CPU profiler (what --cpu-prof runs), around the measured stages only. */
  profile: { args: { action: 'start' } | { action: 'stop'; file: string }; reply: null };
  stop: { args: Record<string, never>; reply: null };
};

export type FloorApi = {
  start: {
    args: { url: string; username: string; password: string; app: string; endpoints: string[] };
    reply: null;
  };
  sample: { args: { gc: boolean }; reply: ProcessSample };
  stop: { args: Record<string, never>; reply: null };
};
