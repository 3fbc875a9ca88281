import { type Kysely, type RawBuilder, sql } from 'kysely';
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
  /**
   * Call takers' logged-in time in the period (every state but offline, breaks included), summed
   * over takers; null by trunk (a taker answers every trunk).
   */
  staffedSeconds: number | null;
  /**
   * Occupancy: time handling calls (ringing, talking, wrap-up) over time handling calls or ready for
   * one (breaks left out, the usual contact-center measure); null by trunk or with nobody ready.
   */
  occupancy: number | null;
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
  const [rows, staffing] = await Promise.all([
    callFigures(db, range, group),
    takerTime(db, range, by, timeZone),
  ]);
  const report = rows.map((row) => {
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
      ...occupancyOf(by === 'trunk' ? undefined : (staffing.get(row.group) ?? NOBODY)),
    };
  });
  // A period with takers logged in and no call is still a period of the report (occupancy 0).
  for (const [group, time] of staffing) {
    if (!report.some((row) => row.group === group)) report.push({ ...emptyRow(group), ...occupancyOf(time) });
  }
  return report.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
}

function callFigures(db: Kysely<Database>, range: { from: Date; to: Date }, group: RawBuilder<string>) {
  const answered = sql`connected_at is not null and taker_id is not null`;
  return db
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
}

interface TakerTime {
  /** Logged in: every state but offline. */
  staffedMs: number;
  /** Ready or handling a call: available, reserved, on-call, wrap-up. */
  readyOrBusyMs: number;
  /** Handling a call: reserved, on-call, wrap-up. */
  busyMs: number;
}
const NOBODY: TakerTime = { staffedMs: 0, readyOrBusyMs: 0, busyMs: 0 };

function occupancyOf(time: TakerTime | undefined): Pick<ReportRow, 'staffedSeconds' | 'occupancy'> {
  if (!time) return { staffedSeconds: null, occupancy: null };
  return {
    staffedSeconds: Math.round(time.staffedMs / 1000),
    occupancy: time.readyOrBusyMs === 0 ? null : time.busyMs / time.readyOrBusyMs,
  };
}

function emptyRow(group: string): ReportRow {
  return {
    group,
    offered: 0,
    answered: 0,
    abandoned: 0,
    releasedByScreening: 0,
    prankShare: 0,
    silentShare: 0,
    averageAnswerSeconds: null,
    p90AnswerSeconds: null,
    serviceLevel15: 0,
    serviceLevel20: 0,
    talkSeconds: 0,
    staffedSeconds: null,
    occupancy: null,
  };
}

/**
 * Call takers' time per period, from their state transitions: each transition holds until the
 * taker's next one (or now), clipped to the range and split at the period boundaries, which are
 * computed in the report's time zone (a day is 23 or 25 hours across a DST change).
 */
async function takerTime(
  db: Kysely<Database>,
  range: { from: Date; to: Date },
  by: ReportGrouping,
  timeZone: string,
): Promise<Map<string, TakerTime>> {
  if (by === 'trunk') return new Map();
  const step = by === 'hour' ? sql.lit('1 hour') : sql.lit('1 day');
  const result = await sql<{ group: string; staffed_ms: string; ready_ms: string; busy_ms: string }>`
    with relevant as (
      select taker_id, state, at, stream_id from taker_events where at >= ${range.from} and at < ${range.to}
      union all
      -- The state each taker was in when the range began.
      (select distinct on (taker_id) taker_id, state, at, stream_id from taker_events
       where at < ${range.from} order by taker_id, at desc, stream_id desc)
    ),
    spans as (
      select state, at as starts,
             coalesce(lead(at) over (partition by taker_id order by at, stream_id), least(now(), ${range.to})) as ends
      from relevant
    ),
    periods as (
      select local_start,
             local_start at time zone ${timeZone} as starts,
             (local_start + ${step}::interval) at time zone ${timeZone} as ends
      from generate_series(
        date_trunc(${sql.lit(by)}, ${range.from}::timestamptz at time zone ${timeZone}),
        ${range.to}::timestamptz at time zone ${timeZone},
        ${step}::interval
      ) as local_start
    ),
    pieces as (
      select to_char(p.local_start, 'YYYY-MM-DD"T"HH24:MI:SS') as "group", s.state,
             extract(epoch from least(s.ends, p.ends, ${range.to}) - greatest(s.starts, p.starts, ${range.from}))
               * 1000 as ms
      from spans s
      join periods p on s.starts < p.ends and s.ends > p.starts
      where s.state <> 'offline' and s.ends > ${range.from}
    )
    select "group",
           sum(ms) filter (where ms > 0) as staffed_ms,
           coalesce(sum(ms) filter (where ms > 0 and state in ('available', 'reserved', 'on-call', 'wrap-up')), 0) as ready_ms,
           coalesce(sum(ms) filter (where ms > 0 and state in ('reserved', 'on-call', 'wrap-up')), 0) as busy_ms
    from pieces
    group by "group"
    having sum(ms) filter (where ms > 0) > 0
  `.execute(db);
  return new Map(
    result.rows.map((row) => [
      row.group,
      { staffedMs: Number(row.staffed_ms), readyOrBusyMs: Number(row.ready_ms), busyMs: Number(row.busy_ms) },
    ]),
  );
}
