import { type Kysely, sql } from 'kysely';
import type { Database } from './database.ts';

export type ReportGrouping = 'hour' | 'day' | 'trunk';

/** One period (or trunk) of a report to the regency. Shares are 0..1, times in seconds. */
export interface ReportRow {
  /** The period's start (local time of the report, ISO without offset), or the trunk. */
  group: string;
  offered: number;
  answered: number;
  abandoned: number;
  releasedByScreening: number;
  prankShare: number;
  silentShare: number;
  averageAnswerSeconds: number | null;
  p90AnswerSeconds: number | null;
  /** Share of offered calls a call taker answered within 15 s / 20 s (the NENA-style measure). */
  serviceLevel15: number;
  serviceLevel20: number;
  /** Call takers' talk time in the period. */
  talkSeconds: number;
}

/**
 * Calls by period or trunk, computed in Postgres in one grouped query. "Answered" is a call taker
 * answering (an overflow target is not one); the answer time is arrival to that moment.
 */
export async function callReport(
  db: Kysely<Database>,
  range: { from: Date; to: Date },
  by: ReportGrouping,
  timeZone: string,
): Promise<ReportRow[]> {
  const group =
    by === 'trunk'
      ? sql<string>`coalesce(trunk, '(none)')`
      : sql<string>`to_char(date_trunc(${sql.lit(by)}, arrived_at at time zone ${timeZone}), 'YYYY-MM-DD"T"HH24:MI:SS')`;
  const answered = sql`connected_at is not null and taker_id is not null`;
  const rows = await db
    .selectFrom('calls')
    .select([
      group.as('group'),
      sql<string>`count(*)`.as('offered'),
      sql<string>`count(*) filter (where ${answered})`.as('answered'),
      sql<string>`count(*) filter (where disposition = 'abandoned')`.as('abandoned'),
      sql<string>`count(*) filter (where disposition = 'released')`.as('released'),
      sql<string>`count(*) filter (where verdict = 'prank')`.as('pranks'),
      sql<string>`count(*) filter (where verdict = 'silent' or disposition = 'silent')`.as('silent'),
      sql<number | null>`avg(wait_ms) filter (where ${answered})`.as('average_answer_ms'),
      sql<number | null>`percentile_cont(0.9) within group (order by wait_ms) filter (where ${answered})`.as(
        'p90_answer_ms',
      ),
      sql<string>`count(*) filter (where ${answered} and wait_ms <= 15000)`.as('within15'),
      sql<string>`count(*) filter (where ${answered} and wait_ms <= 20000)`.as('within20'),
      sql<string>`coalesce(sum(talk_ms) filter (where ${answered}), 0)`.as('talk_ms'),
    ])
    .where('arrived_at', '>=', range.from)
    .where('arrived_at', '<', range.to)
    .groupBy(sql`1`)
    .orderBy(sql`1`)
    .execute();
  return rows.map((row) => {
    const offered = Number(row.offered);
    const share = (n: string) => (offered === 0 ? 0 : Number(n) / offered);
    const seconds = (ms: number | null) => (ms === null ? null : Math.round(Number(ms) / 100) / 10);
    return {
      group: row.group,
      offered,
      answered: Number(row.answered),
      abandoned: Number(row.abandoned),
      releasedByScreening: Number(row.released),
      prankShare: share(row.pranks),
      silentShare: share(row.silent),
      averageAnswerSeconds: seconds(row.average_answer_ms),
      p90AnswerSeconds: seconds(row.p90_answer_ms),
      serviceLevel15: share(row.within15),
      serviceLevel20: share(row.within20),
      talkSeconds: Math.round(Number(row.talk_ms) / 1000),
    };
  });
}
