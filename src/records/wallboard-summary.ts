/**
 * What a wallboard shows of one day, from the call records: the day's figures (with the definitions
 * of `/reports/calls`, computed by the same report), calls per local hour by how they were judged,
 * screening's decisions of the day and the latest ones.
 */
import { type Kysely, sql } from 'kysely';
import type { LocalDay } from '../local-day.ts';
import { maskNumber } from '../logger.ts';
import type { ScreeningDecision } from './call-record.ts';
import { callReport } from './call-reports.ts';
import type { Database } from './database.ts';

/**
 * How a call of the chart was judged: the call taker's verdict; else `silent` (released as a silent
 * call), `released` (by screening) or `none` (abandoned, overflowed, no verdict given).
 */
export const CALL_CLASSES = ['genuine', 'prank', 'silent', 'misdial', 'info', 'released', 'none'] as const;
export type CallClass = (typeof CALL_CLASSES)[number];

export const DECISIONS: readonly ScreeningDecision[] = [
  'connect',
  'connect-low',
  'challenge',
  'warn-and-release',
];

export interface DayFigures {
  offered: number;
  /** A call taker answered. */
  answered: number;
  abandoned: number;
  /** Released by screening (warned, then hung up). */
  released: number;
  /** Judged prank by a call taker. */
  prank: number;
  /** Judged silent, or released as an unconfirmed silent call. */
  silent: number;
  /** Share (0..1) of offered calls a call taker answered within 15 s; null with no call. */
  serviceLevel15: number | null;
  averageAnswerSeconds: number | null;
  p90AnswerSeconds: number | null;
}

export interface RecentDecision {
  callId: string;
  arrivedAt: Date;
  /** Masked as in the logs (the operator prefix and the last two digits), or the kind of caller ID. */
  caller: string;
  trunk: string | null;
  decision: ScreeningDecision;
  score: number | null;
  reasons: string[];
  disposition: string | null;
  verdict: string | null;
}

export interface WallboardSummary {
  day: string;
  timeZone: string;
  from: Date;
  to: Date;
  figures: DayFigures;
  /** 24 entries, hour 0 to 23 (local), each with its calls by class. */
  hours: Array<{ hour: number; calls: Record<CallClass, number> }>;
  decisions: Record<ScreeningDecision, number>;
  /** The latest screened calls, newest first. */
  recent: RecentDecision[];
  /** The call-taker directory's names, by id. */
  takerNames: Record<string, string>;
}

const RECENT = 8;

export async function wallboardSummary(
  db: Kysely<Database>,
  day: LocalDay,
  timeZone: string,
): Promise<WallboardSummary> {
  const range = { from: day.from, to: day.to };
  const inDay = db.selectFrom('calls').where('arrived_at', '>=', day.from).where('arrived_at', '<', day.to);
  const [report, hourly, decisions, recent, takers] = await Promise.all([
    callReport(db, range, 'day', timeZone),
    inDay
      .select([
        sql<number>`extract(hour from arrived_at at time zone ${timeZone})::int`.as('hour'),
        sql<CallClass>`case
          when verdict in ('genuine', 'prank', 'silent', 'misdial', 'info') then verdict
          when disposition = 'silent' then 'silent'
          when disposition = 'released' then 'released'
          else 'none' end`.as('class'),
        sql<string>`count(*)`.as('calls'),
      ])
      .groupBy(sql`1, 2`)
      .execute(),
    inDay
      .select(['screening_decision', sql<string>`count(*)`.as('calls')])
      .where('screening_decision', 'is not', null)
      .groupBy('screening_decision')
      .execute(),
    inDay
      .select([
        'id',
        'arrived_at',
        'caller_number',
        'caller_id_kind',
        'trunk',
        'screening_decision',
        'screening_score',
        'screening_reasons',
        'disposition',
        'verdict',
      ])
      .where('screening_decision', 'is not', null)
      .orderBy('arrived_at', 'desc')
      .limit(RECENT)
      .execute(),
    db.selectFrom('call_takers').select(['id', 'name']).execute(),
  ]);

  // The report has one row for the day with calls, none without (or one for takers' time only).
  const row = report.find((r) => r.offered > 0);
  const offered = row?.offered ?? 0;
  const figures: DayFigures = {
    offered,
    answered: row?.answered ?? 0,
    abandoned: row?.abandoned ?? 0,
    released: row?.releasedByScreening ?? 0,
    // The report gives shares of the offered calls; they are whole counts over `offered`.
    prank: Math.round((row?.prankShare ?? 0) * offered),
    silent: Math.round((row?.silentShare ?? 0) * offered),
    serviceLevel15: offered === 0 ? null : (row?.serviceLevel15 ?? 0),
    averageAnswerSeconds: row?.averageAnswerSeconds ?? null,
    p90AnswerSeconds: row?.p90AnswerSeconds ?? null,
  };
  const hours = Array.from({ length: 24 }, (_, hour) => ({
    hour,
    calls: Object.fromEntries(CALL_CLASSES.map((c) => [c, 0])) as Record<CallClass, number>,
  }));
  for (const { hour, class: callClass, calls } of hourly) {
    const entry = hours[hour];
    if (entry) entry.calls[callClass] += Number(calls);
  }
  const byDecision = Object.fromEntries(DECISIONS.map((d) => [d, 0])) as Record<ScreeningDecision, number>;
  for (const { screening_decision, calls } of decisions) {
    if (screening_decision) byDecision[screening_decision] = Number(calls);
  }
  return {
    day: day.date,
    timeZone,
    from: day.from,
    to: day.to,
    figures,
    hours,
    decisions: byDecision,
    recent: recent.map((call) => ({
      callId: call.id,
      arrivedAt: call.arrived_at,
      caller: call.caller_number ? maskNumber(call.caller_number) : `(${call.caller_id_kind})`,
      trunk: call.trunk,
      decision: call.screening_decision as ScreeningDecision,
      score: call.screening_score,
      reasons: call.screening_reasons ?? [],
      disposition: call.disposition,
      verdict: call.verdict,
    })),
    takerNames: Object.fromEntries(takers.map((t) => [t.id, t.name])),
  };
}
