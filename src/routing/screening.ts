/**
 * Prank and misuse screening: pure, deterministic functions from a caller's history and the facts
 * of this call to a score, a decision and reasons a person can read. No I/O here: the history is
 * read elsewhere (src/queues/caller-history.ts) and the decision is carried out by the call session.
 *
 * The guarantees come before the score (an emergency number fails open):
 * - an allowlisted caller, or one with a recent `genuine` verdict, is never released;
 * - a caller released recently who calls again is challenged, not released again;
 * - numbers we cannot trust (anonymous, empty, junk) are never penalized: many people share them;
 * - volume alone never lowers a caller: in a disaster, genuine people redial many times in minutes.
 */

import type { ScreeningOutcome } from '../records/call-record.ts';

export type { ScreeningDecision, Verdict } from '../records/call-record.ts';
export { VERDICTS } from '../records/call-record.ts';

/** What the history says about one caller, counted over the windows the rules use. */
export interface CallerHistory {
  calls: { last10m: number; last1h: number; last24h: number; last7d: number };
  verdicts: {
    prank: { last24h: number; last7d: number };
    genuine: { last7d: number };
    silent: { last7d: number };
  };
  /** Calls that hung up in the IVR (menu or challenge) in the last 24 h. */
  ivrHangups24h: number;
  /** When screening last released this caller (epoch ms), if it did. */
  lastReleasedAt: number | null;
}

export const EMPTY_HISTORY: CallerHistory = {
  calls: { last10m: 0, last1h: 0, last24h: 0, last7d: 0 },
  verdicts: { prank: { last24h: 0, last7d: 0 }, genuine: { last7d: 0 }, silent: { last7d: 0 } },
  ivrHangups24h: 0,
  lastReleasedAt: null,
};

export interface CallFacts {
  /** Only `e164` identities have a history of their own. */
  callerIdKind: 'e164' | 'anonymous' | 'empty' | 'invalid';
  list: 'allow' | 'block' | null;
  now: number;
}

/** The tunable part: thresholds and weights (rule sets are data; these are the defaults). */
export interface ScreeningRules {
  /** Pranks judged in the last 24 h from which the caller is warned and released. */
  releaseAfterPranks24h: number;
  /** Pranks judged in the last 7 days from which every call meets the challenge first. */
  challengeAfterPranks7d: number;
  /** One prank this week, or this many silent verdicts, lowers the priority. */
  lowAfterPranks7d: number;
  lowAfterSilent7d: number;
  lowAfterIvrHangups24h: number;
  /** A released caller calling again within this window is challenged, never released twice. */
  releaseCooldownMs: number;
  /** Weights of the score shown to people (higher is more suspect). */
  weights: { prank24h: number; prank7d: number; silent7d: number; ivrHangup24h: number; genuine7d: number };
  /** What the screening IVR plays; a prompt left out is the one configured for the service. */
  prompts?: IvrPrompts;
}

/** Asterisk media URIs (`sound:…`, `recording:…`) the screening IVR plays, in order. */
export interface IvrPrompts {
  /** The recorded warning about misuse of 112 before a release. */
  warning?: string[];
  /** "Press 5 twice to reach a call taker." */
  challenge?: string[];
  /** "If you need help but cannot speak, press 5 twice." */
  silent?: string[];
}

/**
 * The graduated default, after Romania's regulator (2+ pranks in a day: a warning; 6+: an IVR
 * gate before any operator, for days), not a permanent block after 3 pranks, which would lock
 * out a prankster's family in a real emergency.
 */
export const DEFAULT_RULES: ScreeningRules = {
  releaseAfterPranks24h: 2,
  challengeAfterPranks7d: 6,
  lowAfterPranks7d: 1,
  lowAfterSilent7d: 3,
  lowAfterIvrHangups24h: 3,
  releaseCooldownMs: 30 * 60_000,
  weights: { prank24h: 3, prank7d: 1, silent7d: 0.5, ivrHangup24h: 0.5, genuine7d: -5 },
};

export type ScreeningResult = ScreeningOutcome;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function screenCall(history: CallerHistory, facts: CallFacts, rules: ScreeningRules): ScreeningResult {
  const { verdicts, calls } = history;
  const w = rules.weights;
  const score =
    verdicts.prank.last24h * w.prank24h +
    verdicts.prank.last7d * w.prank7d +
    verdicts.silent.last7d * w.silent7d +
    history.ivrHangups24h * w.ivrHangup24h +
    verdicts.genuine.last7d * w.genuine7d;
  const rounded = Math.round(score * 100) / 100;

  if (facts.list === 'allow') return { decision: 'connect', score: rounded, reasons: ['on the allowlist'] };
  if (facts.callerIdKind !== 'e164') {
    return {
      decision: 'connect',
      score: 0,
      reasons: [`caller ID ${facts.callerIdKind}: no history of its own, never penalized`],
    };
  }

  const observations: string[] = [];
  if (calls.last1h > 1) observations.push(`${plural(calls.last1h, 'call')} in the last hour`);
  if (verdicts.prank.last24h > 0)
    observations.push(`${verdicts.prank.last24h} judged prank in the last 24 h`);
  if (verdicts.prank.last7d > 0) observations.push(`${verdicts.prank.last7d} judged prank this week`);
  if (verdicts.silent.last7d > 0) observations.push(`${verdicts.silent.last7d} judged silent this week`);
  if (history.ivrHangups24h > 0)
    observations.push(`${plural(history.ivrHangups24h, 'hang-up')} in the menu today`);

  // Fail-open guarantees first.
  if (verdicts.genuine.last7d > 0) {
    const reasons = [`${verdicts.genuine.last7d} judged genuine this week: never released`, ...observations];
    const low = verdicts.prank.last7d >= rules.lowAfterPranks7d;
    return { decision: low ? 'connect-low' : 'connect', score: rounded, reasons };
  }
  const wantsRelease = facts.list === 'block' || verdicts.prank.last24h >= rules.releaseAfterPranks24h;
  const recentlyReleased =
    history.lastReleasedAt !== null && facts.now - history.lastReleasedAt < rules.releaseCooldownMs;

  if (verdicts.prank.last7d >= rules.challengeAfterPranks7d) {
    return {
      decision: 'challenge',
      score: rounded,
      reasons: ['repeated pranks: a key press first', ...observations],
    };
  }
  if (wantsRelease) {
    const why = facts.list === 'block' ? 'on the blocklist' : 'pranks today';
    if (recentlyReleased) {
      return {
        decision: 'challenge',
        score: rounded,
        reasons: [
          `${why}, but released minutes ago and calling again: challenged, not released`,
          ...observations,
        ],
      };
    }
    return {
      decision: 'warn-and-release',
      score: rounded,
      reasons: [`${why}: warned and released`, ...observations],
    };
  }
  if (
    verdicts.prank.last7d >= rules.lowAfterPranks7d ||
    verdicts.silent.last7d >= rules.lowAfterSilent7d ||
    history.ivrHangups24h >= rules.lowAfterIvrHangups24h
  ) {
    return { decision: 'connect-low', score: rounded, reasons: observations };
  }
  // Volume alone is not suspicion: a disaster makes genuine callers redial.
  return {
    decision: 'connect',
    score: rounded,
    reasons: observations.length > 0 ? observations : ['no history against it'],
  };
}
