/**
 * Backtest: how screening decisions over stored calls would change under a candidate rule set.
 * Pure: each call is screened twice (rules in force, candidate) against the history its caller had
 * when it arrived, rebuilt from the stored calls (arrivals, verdicts given before that moment,
 * releases). Live calls are never touched. Releases are the ones that happened: a candidate that
 * would release more would also challenge more callers inside the cooldown, which this understates.
 */
import type { PastCall } from '../queues/caller-history.ts';
import type { Verdict } from '../records/call-record.ts';
import {
  type CallerHistory,
  type CallFacts,
  type ScreeningDecision,
  type ScreeningResult,
  type ScreeningRules,
  screenCall,
} from './screening.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A stored call as the backtest needs it. */
export interface StoredCall extends PastCall {
  callerNumber: string | null;
  callerIdKind: CallFacts['callerIdKind'];
}

/** What the rules would have seen for a caller at `now`, from their earlier calls. */
export function historyAt(past: readonly PastCall[], now: number): CallerHistory {
  const since = (ms: number) => now - ms;
  const arrivals = past.filter((c) => c.arrivedAt < now);
  const judged = (verdict: Verdict, window: number) =>
    past.filter(
      (c) =>
        c.verdict === verdict && c.verdictAt !== null && c.verdictAt < now && c.verdictAt >= since(window),
    ).length;
  const released = past.map((c) => c.releasedAt).filter((at): at is number => at !== null && at < now);
  return {
    calls: {
      last10m: arrivals.filter((c) => c.arrivedAt >= since(10 * MINUTE)).length,
      last1h: arrivals.filter((c) => c.arrivedAt >= since(HOUR)).length,
      last24h: arrivals.filter((c) => c.arrivedAt >= since(DAY)).length,
      last7d: arrivals.filter((c) => c.arrivedAt >= since(7 * DAY)).length,
    },
    verdicts: {
      prank: { last24h: judged('prank', DAY), last7d: judged('prank', 7 * DAY) },
      genuine: { last7d: judged('genuine', 7 * DAY) },
      silent: { last7d: judged('silent', 7 * DAY) },
    },
    ivrHangups24h: arrivals.filter((c) => c.ivrHangup && c.arrivedAt >= since(DAY)).length,
    lastReleasedAt: released.length === 0 ? null : Math.max(...released),
  };
}

export interface BacktestChange {
  callId: string;
  arrivedAt: number;
  callerNumber: string | null;
  verdict: Verdict | null;
  inForce: ScreeningResult;
  candidate: ScreeningResult;
}

export interface BacktestResult {
  calls: number;
  decisions: { inForce: Record<ScreeningDecision, number>; candidate: Record<ScreeningDecision, number> };
  /** "connect → challenge": how many calls, by the verdict they later got. */
  transitions: Array<{
    from: ScreeningDecision;
    to: ScreeningDecision;
    calls: number;
    byVerdict: Record<string, number>;
  }>;
  /** Calls judged genuine that the candidate would warn and release (the fail-open rules forbid it). */
  genuineReleased: number;
  /** The changed calls, oldest first, at most `limit`. */
  changes: BacktestChange[];
}

const noDecisions = (): Record<ScreeningDecision, number> => ({
  connect: 0,
  'connect-low': 0,
  challenge: 0,
  'warn-and-release': 0,
});

/**
 * `calls`: every stored call from seven days before the range to its end (the history window),
 * any order; only those arriving in [from, to) are screened.
 */
export function backtest(
  calls: readonly StoredCall[],
  range: { from: number; to: number },
  rules: { inForce: ScreeningRules; candidate: ScreeningRules },
  options: { limit?: number; listOf?: (number: string) => CallFacts['list'] } = {},
): BacktestResult {
  const byNumber = new Map<string, StoredCall[]>();
  for (const call of calls) {
    if (call.callerNumber === null) continue;
    const own = byNumber.get(call.callerNumber);
    if (own) own.push(call);
    else byNumber.set(call.callerNumber, [call]);
  }
  const inRange = calls
    .filter((c) => c.arrivedAt >= range.from && c.arrivedAt < range.to)
    .sort((a, b) => a.arrivedAt - b.arrivedAt);
  const result: BacktestResult = {
    calls: inRange.length,
    decisions: { inForce: noDecisions(), candidate: noDecisions() },
    transitions: [],
    genuineReleased: 0,
    changes: [],
  };
  const transitions = new Map<string, BacktestResult['transitions'][number]>();
  for (const call of inRange) {
    const history = historyAt(
      call.callerNumber ? (byNumber.get(call.callerNumber) ?? []) : [],
      call.arrivedAt,
    );
    const facts: CallFacts = {
      callerIdKind: call.callerIdKind,
      list: call.callerNumber ? (options.listOf?.(call.callerNumber) ?? null) : null,
      now: call.arrivedAt,
    };
    const inForce = screenCall(history, facts, rules.inForce);
    const candidate = screenCall(history, facts, rules.candidate);
    result.decisions.inForce[inForce.decision] += 1;
    result.decisions.candidate[candidate.decision] += 1;
    if (candidate.decision === 'warn-and-release' && call.verdict === 'genuine') result.genuineReleased += 1;
    if (inForce.decision === candidate.decision) continue;
    const key = `${inForce.decision}→${candidate.decision}`;
    const transition = transitions.get(key) ?? {
      from: inForce.decision,
      to: candidate.decision,
      calls: 0,
      byVerdict: {},
    };
    transition.calls += 1;
    const verdict = call.verdict ?? 'none';
    transition.byVerdict[verdict] = (transition.byVerdict[verdict] ?? 0) + 1;
    transitions.set(key, transition);
    if (result.changes.length < (options.limit ?? 100)) {
      result.changes.push({
        callId: call.callId,
        arrivedAt: call.arrivedAt,
        callerNumber: call.callerNumber,
        verdict: call.verdict,
        inForce,
        candidate,
      });
    }
  }
  result.transitions = [...transitions.values()].sort((a, b) => b.calls - a.calls);
  return result;
}
