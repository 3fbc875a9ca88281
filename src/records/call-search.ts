import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { Disposition, ScreeningDecision } from './call-record.ts';
import type { Database } from './database.ts';

/** What supervisors search call records by; every field narrows the result. */
export interface CallFilter {
  from: Date;
  to: Date;
  number?: string | undefined;
  disposition?: Disposition | undefined;
  decision?: ScreeningDecision | undefined;
  verdict?: string | undefined;
  takerId?: string | undefined;
  trunk?: string | undefined;
}

/** One call as search results and the CSV export show it. */
export interface CallRow {
  id: string;
  arrivedAt: Date;
  callerNumber: string | null;
  callerIdRaw: string;
  callerIdKind: string;
  trunk: string | null;
  priority: number;
  disposition: Disposition | null;
  takerId: string | null;
  waitMs: number | null;
  talkMs: number | null;
  decision: ScreeningDecision | null;
  verdict: string | null;
  incidentCategory: string | null;
}

/** Newest first: a cursor is the last row's (arrival, id), so pages never skip or repeat a call. */
export interface Cursor {
  arrivedAt: Date;
  id: string;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.arrivedAt.toISOString()}|${cursor.id}`).toString('base64url');
}

export function decodeCursor(text: string): Cursor | undefined {
  const [at, id] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  const arrivedAt = new Date(at ?? '');
  if (!id || Number.isNaN(arrivedAt.getTime()) || !/^[0-9a-f-]{36}$/.test(id)) return undefined;
  return { arrivedAt, id };
}

/** The columns a search reads, in the order the CSV export writes them. */
const CALL_COLUMNS = [
  'id',
  'arrived_at',
  'caller_number',
  'caller_id_raw',
  'caller_id_kind',
  'trunk',
  'priority',
  'disposition',
  'taker_id',
  'wait_ms',
  'talk_ms',
  'screening_decision',
  'verdict',
  'incident_category',
] as const;

function filtered(db: Kysely<Database>, filter: CallFilter) {
  let query = db
    .selectFrom('calls')
    .select(CALL_COLUMNS)
    .where('arrived_at', '>=', filter.from)
    .where('arrived_at', '<', filter.to);
  if (filter.number !== undefined) query = query.where('caller_number', '=', filter.number);
  if (filter.disposition !== undefined) query = query.where('disposition', '=', filter.disposition);
  if (filter.decision !== undefined) query = query.where('screening_decision', '=', filter.decision);
  if (filter.verdict !== undefined) query = query.where('verdict', '=', filter.verdict as never);
  if (filter.takerId !== undefined) query = query.where('taker_id', '=', filter.takerId);
  if (filter.trunk !== undefined) query = query.where('trunk', '=', filter.trunk);
  return query;
}

type FilteredQuery = ReturnType<typeof filtered>;
type Row = FilteredQuery extends SelectQueryBuilder<Database, 'calls', infer R> ? R : never;

const toCallRow = (row: Row): CallRow => ({
  id: row.id,
  arrivedAt: row.arrived_at,
  callerNumber: row.caller_number,
  callerIdRaw: row.caller_id_raw,
  callerIdKind: row.caller_id_kind,
  trunk: row.trunk,
  priority: row.priority,
  disposition: row.disposition,
  takerId: row.taker_id,
  waitMs: row.wait_ms,
  talkMs: row.talk_ms,
  decision: row.screening_decision,
  verdict: row.verdict,
  incidentCategory: row.incident_category,
});

/** One page of calls, newest first, after `cursor`. */
export async function searchCalls(
  db: Kysely<Database>,
  filter: CallFilter,
  page: { limit: number; after?: Cursor | undefined },
): Promise<{ items: CallRow[]; next: Cursor | null }> {
  let query = filtered(db, filter);
  const after = page.after;
  if (after) {
    query = query.where((eb) =>
      eb.or([
        eb('arrived_at', '<', after.arrivedAt),
        eb.and([eb('arrived_at', '=', after.arrivedAt), eb('id', '<', after.id)]),
      ]),
    );
  }
  const rows = await query
    .orderBy('arrived_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1)
    .execute();
  const items = rows.slice(0, page.limit).map(toCallRow);
  const last = items.at(-1);
  return {
    items,
    next: rows.length > page.limit && last ? { arrivedAt: last.arrivedAt, id: last.id } : null,
  };
}

/**
 * Every matching call, page by page (keyset pagination: each page is one indexed query), so an
 * export of a year of records holds one page in memory at a time.
 */
export async function* allCalls(
  db: Kysely<Database>,
  filter: CallFilter,
  pageSize = 2000,
): AsyncGenerator<CallRow[]> {
  let after: Cursor | undefined;
  for (;;) {
    const { items, next } = await searchCalls(db, filter, { limit: pageSize, after });
    if (items.length > 0) yield items;
    if (!next) return;
    after = next;
  }
}

/** The export's header is the columns it reads, in their order. */
export const CSV_COLUMNS = CALL_COLUMNS;

/**
 * RFC 4180 field. Text starting with = + - @ (other than an E.164 number) is neutralized with a
 * quote, so a spreadsheet never runs a junk caller ID as a formula.
 */
export function csvField(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^\+\d{1,15}$/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(row: CallRow): string {
  return `${[
    row.id,
    row.arrivedAt.toISOString(),
    row.callerNumber,
    row.callerIdRaw,
    row.callerIdKind,
    row.trunk,
    row.priority,
    row.disposition,
    row.takerId,
    row.waitMs,
    row.talkMs,
    row.decision,
    row.verdict,
    row.incidentCategory,
  ]
    .map(csvField)
    .join(',')}\r\n`;
}
