/**
 * The report of a replay (../shared/traffic/FORMAT.md, "What a replay reports"): pure, from each
 * scripted call's truth and what its record says happened.
 */
import type { Disposition, ScreeningDecision } from '../records/call-record.ts';
import { TRUTHS, type TrafficCall, type TrafficProblem, type Truth } from './traffic.ts';

/** What happened to one scripted call, read from its record (times in call time). */
export interface ReplayOutcome {
  call: TrafficCall;
  /** Null when no record was found for the call (reported as missing). */
  disposition: Disposition | null;
  decision: ScreeningDecision | null;
  /** Arrival to a call taker answering; null when no human answered. */
  timeToHumanMs: number | null;
  /** Connected to ended (a call taker's busy time on it). */
  talkMs: number;
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface ClassReport {
  truth: Truth;
  calls: number;
  /** Shares are 0..1. */
  reachedHuman: number;
  /** Seconds from arrival to a human, over the calls that reached one. */
  timeToHumanSeconds: Percentiles | null;
  warnedAndReleased: number;
  abandonedWhileWaiting: number;
}

export interface ReplayReport {
  calls: number;
  skippedLines: TrafficProblem[];
  /** Scripted calls without a record: each is a defect. */
  missingRecords: string[];
  classes: ClassReport[];
  overall: {
    prankShareOfCalls: number;
    /** Share of call-taker busy (talk) time spent on `prank` calls. */
    prankShareOfTakerTime: number;
    /** "Suspected prank": screening did anything but a plain connect. */
    suspectedPrank: { suspected: number; pranks: number; precision: number | null; recall: number | null };
  };
  /** Genuine and silent-genuine calls that no human answered (must be empty). */
  genuineNotReached: string[];
}

const SUSPECT: ReadonlySet<ScreeningDecision> = new Set(['connect-low', 'challenge', 'warn-and-release']);

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('no values');
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

const share = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

export function buildReplayReport(
  outcomes: readonly ReplayOutcome[],
  skippedLines: TrafficProblem[] = [],
): ReplayReport {
  const classes: ClassReport[] = [];
  for (const truth of TRUTHS) {
    const of = outcomes.filter((o) => o.call.truth === truth);
    if (of.length === 0) continue;
    const times = of
      .flatMap((o) => (o.timeToHumanMs === null ? [] : [o.timeToHumanMs / 1000]))
      .sort((a, b) => a - b);
    classes.push({
      truth,
      calls: of.length,
      reachedHuman: share(times.length, of.length),
      timeToHumanSeconds:
        times.length === 0
          ? null
          : { p50: percentile(times, 50), p90: percentile(times, 90), p99: percentile(times, 99) },
      warnedAndReleased: share(of.filter((o) => o.disposition === 'released').length, of.length),
      abandonedWhileWaiting: share(of.filter((o) => o.disposition === 'abandoned').length, of.length),
    });
  }
  const pranks = outcomes.filter((o) => o.call.truth === 'prank');
  const busy = outcomes.reduce((sum, o) => sum + o.talkMs, 0);
  const prankBusy = pranks.reduce((sum, o) => sum + o.talkMs, 0);
  const suspected = outcomes.filter((o) => o.decision !== null && SUSPECT.has(o.decision));
  const truePositives = suspected.filter((o) => o.call.truth === 'prank').length;
  return {
    calls: outcomes.length,
    skippedLines,
    missingRecords: outcomes.filter((o) => o.disposition === null).map((o) => o.call.id),
    classes,
    overall: {
      prankShareOfCalls: share(pranks.length, outcomes.length),
      prankShareOfTakerTime: share(prankBusy, busy),
      suspectedPrank: {
        suspected: suspected.length,
        pranks: pranks.length,
        precision: suspected.length === 0 ? null : truePositives / suspected.length,
        recall: pranks.length === 0 ? null : truePositives / pranks.length,
      },
    },
    genuineNotReached: outcomes
      .filter(
        (o) => (o.call.truth === 'genuine' || o.call.truth === 'silent-genuine') && o.timeToHumanMs === null,
      )
      .map((o) => o.call.id),
  };
}

const pct = (value: number | null) => (value === null ? '—' : `${(value * 100).toFixed(1)}%`);
const secs = (value: number) => `${value.toFixed(1)} s`;

export function formatReplayReport(report: ReplayReport): string {
  const rows = [
    ['truth', 'calls', 'reached a human', 'to a human p50', 'p90', 'p99', 'warned+released', 'abandoned'],
    ...report.classes.map((c) => [
      c.truth,
      String(c.calls),
      pct(c.reachedHuman),
      c.timeToHumanSeconds ? secs(c.timeToHumanSeconds.p50) : '—',
      c.timeToHumanSeconds ? secs(c.timeToHumanSeconds.p90) : '—',
      c.timeToHumanSeconds ? secs(c.timeToHumanSeconds.p99) : '—',
      pct(c.warnedAndReleased),
      pct(c.abandonedWhileWaiting),
    ]),
  ];
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const table = rows.map((row) =>
    row
      .map((cell, col) => cell.padEnd(widths[col]!))
      .join('  ')
      .trimEnd(),
  );
  const { overall } = report;
  const lines = [
    ...table,
    '',
    `prank calls: ${pct(overall.prankShareOfCalls)} of calls, ${pct(overall.prankShareOfTakerTime)} of call-taker busy time`,
    `suspected prank (screening did more than connect): ${overall.suspectedPrank.suspected} calls, precision ${pct(overall.suspectedPrank.precision)}, recall ${pct(overall.suspectedPrank.recall)}`,
    report.genuineNotReached.length === 0
      ? 'every genuine and silent-genuine call reached a human'
      : `NOT REACHED: ${report.genuineNotReached.join(', ')}`,
  ];
  if (report.missingRecords.length > 0) lines.push(`NO RECORD: ${report.missingRecords.join(', ')}`);
  for (const problem of report.skippedLines) lines.push(`skipped line ${problem.line}: ${problem.message}`);
  return lines.join('\n');
}
