import { type Insertable, type Kysely, type QueryCreator, type Selectable, sql } from 'kysely';
import type {
  CallEvent,
  CallEventsAppend,
  CallerIdKind,
  CallRecord,
  CallRecordUpdate,
  Disposition,
  IncidentCategory,
  Verdict,
} from './call-record.ts';
import type { CallEventsTable, CallsTable, Database } from './database.ts';

/** What one `applyUpdates` changed: rows inserted or moved forward, events newly stored. */
export interface AppliedUpdates {
  readonly calls: number;
  readonly events: number;
}

export interface CallRepository {
  /**
   * Stores a batch in one transaction. A call row only moves forward (a lower or equal version
   * never overwrites it) and an event already stored is left alone, so replaying any batch, in
   * any order, any number of times, ends in the same rows. An events-only append (a callback's
   * trace) stores its events and leaves the call row alone.
   */
  applyUpdates(updates: readonly (CallRecordUpdate | CallEventsAppend)[]): Promise<AppliedUpdates>;
  getCall(id: string): Promise<CallRecord | undefined>;
  /** The call's events in `seq` order. */
  listCallEvents(callId: string): Promise<CallEvent[]>;
  countCalls(): Promise<number>;
  /**
   * Records a call taker's verdict on an answered call (a later verdict replaces an earlier one).
   * Undefined when there is no such call; `answered` false when nobody answered it (no verdict
   * is stored then).
   */
  setVerdict(
    callId: string,
    verdict: Verdict,
    by: string,
    at: Date,
    filed?: {
      note?: string | undefined;
      incidentCategory?: IncidentCategory | undefined;
      /** Store only if this taker answered the call (a call taker judges their own calls). */
      onlyIfTakenBy?: string | undefined;
    },
  ): Promise<{ answered: boolean; callerNumber: string | null; refused?: boolean } | undefined>;
  /**
   * Answered calls that ended before `endedBefore` (their wrap-up is over) and still have no
   * verdict get `unknown`, flagged as filled automatically; returns their ids.
   */
  fillMissingVerdicts(endedBefore: Date, at: Date): Promise<string[]>;
  /** Every trusted number's calls since `since`, for rebuilding all screening history at once. */
  listCallsSince(since: Date): Promise<
    Array<{
      id: string;
      callerNumber: string;
      arrivedAt: Date;
      verdict: Verdict | null;
      verdictAt: Date | null;
      disposition: Disposition | null;
      endedAt: Date | null;
    }>
  >;
  /** Every call that arrived in [since, until), for a screening backtest. */
  listCallsBetween(
    since: Date,
    until: Date,
  ): Promise<
    Array<{
      id: string;
      callerNumber: string | null;
      callerIdKind: CallerIdKind;
      arrivedAt: Date;
      verdict: Verdict | null;
      verdictAt: Date | null;
      disposition: Disposition | null;
      endedAt: Date | null;
    }>
  >;
  /** A caller's calls since `since`, for rebuilding screening history. */
  listCallerCalls(
    callerNumber: string,
    since: Date,
  ): Promise<
    Array<{
      id: string;
      arrivedAt: Date;
      verdict: Verdict | null;
      verdictAt: Date | null;
      disposition: Disposition | null;
      endedAt: Date | null;
    }>
  >;
}

/** An auto-filled `unknown` says nothing about the caller: screening never sees it. */
const judged = (verdict: Verdict | 'unknown' | null): Verdict | null =>
  verdict === 'unknown' ? null : verdict;

// Postgres allows 65,535 bind parameters per statement; these keep a multi-row insert well under.
const CALL_ROWS_PER_STATEMENT = 1_000;
const EVENT_ROWS_PER_STATEMENT = 2_000;

/**
 * Postgres text cannot hold U+0000 and jsonb rejects unpaired surrogates: either would make a
 * write fail forever, so such characters become U+FFFD. Everything else is stored exactly.
 */
export function storableText(value: string): string {
  return value.toWellFormed().replaceAll('\u0000', '\uFFFD');
}

function storableJson(detail: Record<string, unknown> | readonly unknown[]): string {
  return JSON.stringify(detail, (_key, value: unknown) =>
    typeof value === 'string' ? storableText(value) : value,
  );
}

const nullableText = (value: string | null) => (value === null ? null : storableText(value));

function toCallRow(record: CallRecord): Insertable<CallsTable> {
  return {
    id: record.id,
    version: record.version,
    caller_channel_id: storableText(record.callerChannelId),
    trunk: nullableText(record.trunk),
    caller_id_raw: storableText(record.callerIdRaw),
    caller_number: nullableText(record.callerNumber),
    caller_id_kind: record.callerIdKind,
    priority: record.priority,
    arrived_at: record.arrivedAt,
    answered_at: record.answeredAt,
    queued_at: record.queuedAt,
    offered_at: record.offeredAt,
    connected_at: record.connectedAt,
    ended_at: record.endedAt,
    disposition: record.disposition,
    ended_by: record.endedBy,
    taker_id: record.takerId,
    wait_ms: record.waitMs,
    talk_ms: record.talkMs,
    screening_decision: record.screening?.decision ?? null,
    screening_score: record.screening?.score ?? null,
    screening_reasons: record.screening ? storableJson(record.screening.reasons) : null,
  };
}

function toEventRow(event: CallEvent): Insertable<CallEventsTable> {
  return {
    call_id: event.callId,
    seq: event.seq,
    at: event.at,
    type: storableText(event.type),
    state: storableText(event.state),
    detail: storableJson(event.detail),
  };
}

function fromCallRow(row: Selectable<CallsTable>): CallRecord {
  return {
    id: row.id,
    version: row.version,
    callerChannelId: row.caller_channel_id,
    trunk: row.trunk,
    callerIdRaw: row.caller_id_raw,
    callerNumber: row.caller_number,
    callerIdKind: row.caller_id_kind,
    priority: row.priority,
    arrivedAt: row.arrived_at,
    answeredAt: row.answered_at,
    queuedAt: row.queued_at,
    offeredAt: row.offered_at,
    connectedAt: row.connected_at,
    endedAt: row.ended_at,
    disposition: row.disposition,
    endedBy: row.ended_by,
    takerId: row.taker_id,
    waitMs: row.wait_ms,
    talkMs: row.talk_ms,
    screening:
      row.screening_decision === null
        ? null
        : {
            decision: row.screening_decision,
            score: row.screening_score ?? 0,
            reasons: row.screening_reasons ?? [],
          },
  };
}

function fromEventRow(row: Selectable<CallEventsTable>): CallEvent {
  return {
    callId: row.call_id,
    seq: row.seq,
    at: row.at,
    type: row.type,
    state: row.state,
    detail: row.detail,
  };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The rows one batch writes: the highest version of each call (Postgres refuses to update one
 * row twice in one `INSERT … ON CONFLICT DO UPDATE`) and each event once. Both sorted by key,
 * so concurrent batches lock rows in the same order and cannot deadlock.
 */
export function planBatch(updates: readonly (CallRecordUpdate | CallEventsAppend)[]): {
  records: CallRecord[];
  events: CallEvent[];
} {
  const records = new Map<string, CallRecord>();
  const events = new Map<string, CallEvent>();
  for (const update of updates) {
    if ('record' in update) {
      const { record } = update;
      const current = records.get(record.id);
      if (current === undefined || record.version > current.version) records.set(record.id, record);
    }
    for (const event of update.events) {
      const key = `${event.callId}\u0000${event.seq}`;
      if (!events.has(key)) events.set(key, event);
    }
  }
  const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    records: [...records.values()].sort((a, b) => byId(a.id, b.id)),
    events: [...events.values()].sort((a, b) => byId(a.callId, b.callId) || a.seq - b.seq),
  };
}

/** Inserts call rows, or moves existing ones forward (a lower or equal version changes nothing). */
function upsertCalls(qc: QueryCreator<Database>, rows: Insertable<CallsTable>[]) {
  return qc
    .insertInto('calls')
    .values(rows)
    .onConflict((oc) =>
      oc
        .column('id')
        .doUpdateSet((eb) => ({
          version: eb.ref('excluded.version'),
          caller_channel_id: eb.ref('excluded.caller_channel_id'),
          trunk: eb.ref('excluded.trunk'),
          caller_id_raw: eb.ref('excluded.caller_id_raw'),
          caller_number: eb.ref('excluded.caller_number'),
          caller_id_kind: eb.ref('excluded.caller_id_kind'),
          priority: eb.ref('excluded.priority'),
          arrived_at: eb.ref('excluded.arrived_at'),
          answered_at: eb.ref('excluded.answered_at'),
          queued_at: eb.ref('excluded.queued_at'),
          offered_at: eb.ref('excluded.offered_at'),
          connected_at: eb.ref('excluded.connected_at'),
          ended_at: eb.ref('excluded.ended_at'),
          disposition: eb.ref('excluded.disposition'),
          ended_by: eb.ref('excluded.ended_by'),
          taker_id: eb.ref('excluded.taker_id'),
          wait_ms: eb.ref('excluded.wait_ms'),
          talk_ms: eb.ref('excluded.talk_ms'),
          screening_decision: eb.ref('excluded.screening_decision'),
          screening_score: eb.ref('excluded.screening_score'),
          screening_reasons: eb.ref('excluded.screening_reasons'),
          updated_at: sql<Date>`now()`,
        }))
        // Only forward: a retried or reordered older snapshot changes nothing.
        .where('calls.version', '<', (eb) => eb.ref('excluded.version')),
    );
}

/** Inserts event rows; one already stored is left alone. */
function insertEvents(qc: QueryCreator<Database>, rows: Insertable<CallEventsTable>[]) {
  return qc
    .insertInto('call_events')
    .values(rows)
    .onConflict((oc) => oc.columns(['call_id', 'seq']).doNothing());
}

export function createCallRepository(db: Kysely<Database>): CallRepository {
  return {
    async applyUpdates(updates) {
      const { records, events } = planBatch(updates);
      if (records.length === 0 && events.length === 0) return { calls: 0, events: 0 };
      const callRows = records.map(toCallRow);
      const eventRows = events.map(toEventRow);
      // What fits in one statement is one round trip, atomic by itself: a single upsert or
      // insert, or both as one statement (the events' foreign key is checked at its end).
      if (callRows.length <= CALL_ROWS_PER_STATEMENT && eventRows.length <= EVENT_ROWS_PER_STATEMENT) {
        if (eventRows.length === 0) {
          const result = await upsertCalls(db, callRows).executeTakeFirst();
          return { calls: Number(result.numInsertedOrUpdatedRows ?? 0n), events: 0 };
        }
        if (callRows.length === 0) {
          const result = await insertEvents(db, eventRows).executeTakeFirst();
          return { calls: 0, events: Number(result.numInsertedOrUpdatedRows ?? 0n) };
        }
        const counts = await db
          .with('written_calls', (qc) => upsertCalls(qc, callRows).returning('id'))
          .with('written_events', (qc) => insertEvents(qc, eventRows).returning('seq'))
          .selectNoFrom((eb) => [
            eb
              .selectFrom('written_calls')
              .select((c) => c.fn.countAll<string>().as('n'))
              .as('calls'),
            eb
              .selectFrom('written_events')
              .select((c) => c.fn.countAll<string>().as('n'))
              .as('events'),
          ])
          .executeTakeFirstOrThrow();
        return { calls: Number(counts.calls ?? 0), events: Number(counts.events ?? 0) };
      }
      return db.transaction().execute(async (trx) => {
        let calls = 0n;
        let stored = 0n;
        // Calls first: the events reference them.
        for (const rows of chunks(callRows, CALL_ROWS_PER_STATEMENT)) {
          const result = await upsertCalls(trx, rows).executeTakeFirst();
          calls += result.numInsertedOrUpdatedRows ?? 0n;
        }
        for (const rows of chunks(eventRows, EVENT_ROWS_PER_STATEMENT)) {
          const result = await insertEvents(trx, rows).executeTakeFirst();
          stored += result.numInsertedOrUpdatedRows ?? 0n;
        }
        return { calls: Number(calls), events: Number(stored) };
      });
    },

    async getCall(id) {
      const row = await db.selectFrom('calls').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : fromCallRow(row);
    },

    async listCallEvents(callId) {
      const rows = await db
        .selectFrom('call_events')
        .selectAll()
        .where('call_id', '=', callId)
        .orderBy('seq')
        .execute();
      return rows.map(fromEventRow);
    },

    async setVerdict(callId, verdict, by, at, filed = {}) {
      const call = await db
        .selectFrom('calls')
        .select(['connected_at', 'caller_number', 'taker_id'])
        .where('id', '=', callId)
        .executeTakeFirst();
      if (!call) return undefined;
      if (call.connected_at === null) return { answered: false, callerNumber: call.caller_number };
      if (filed.onlyIfTakenBy !== undefined && call.taker_id !== filed.onlyIfTakenBy) {
        return { answered: true, callerNumber: call.caller_number, refused: true };
      }
      await db
        .updateTable('calls')
        .set({
          verdict,
          verdict_by: storableText(by),
          verdict_at: at,
          verdict_auto: false,
          verdict_note: filed.note === undefined ? null : storableText(filed.note),
          incident_category: filed.incidentCategory ?? null,
        })
        .where('id', '=', callId)
        .execute();
      return { answered: true, callerNumber: call.caller_number };
    },

    async fillMissingVerdicts(endedBefore, at) {
      const result = await db
        .updateTable('calls')
        .set({ verdict: 'unknown', verdict_auto: true, verdict_by: 'siaga112', verdict_at: at })
        .where('verdict', 'is', null)
        .where('connected_at', 'is not', null)
        .where('taker_id', 'is not', null)
        .where('ended_at', '<', endedBefore)
        .returning('id')
        .execute();
      return result.map((row) => row.id);
    },

    async listCallerCalls(callerNumber, since) {
      const rows = await db
        .selectFrom('calls')
        .select(['id', 'arrived_at', 'verdict', 'verdict_at', 'disposition', 'ended_at'])
        .where('caller_number', '=', callerNumber)
        .where('arrived_at', '>=', since)
        .orderBy('arrived_at')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        arrivedAt: r.arrived_at,
        verdict: judged(r.verdict),
        verdictAt: r.verdict_at,
        disposition: r.disposition,
        endedAt: r.ended_at,
      }));
    },

    async listCallsSince(since) {
      const rows = await db
        .selectFrom('calls')
        .select(['id', 'caller_number', 'arrived_at', 'verdict', 'verdict_at', 'disposition', 'ended_at'])
        .where('arrived_at', '>=', since)
        .where('caller_number', 'is not', null)
        .orderBy('arrived_at')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        callerNumber: r.caller_number!,
        arrivedAt: r.arrived_at,
        verdict: judged(r.verdict),
        verdictAt: r.verdict_at,
        disposition: r.disposition,
        endedAt: r.ended_at,
      }));
    },

    async listCallsBetween(since, until) {
      const rows = await db
        .selectFrom('calls')
        .select([
          'id',
          'caller_number',
          'caller_id_kind',
          'arrived_at',
          'verdict',
          'verdict_at',
          'disposition',
          'ended_at',
        ])
        .where('arrived_at', '>=', since)
        .where('arrived_at', '<', until)
        .orderBy('arrived_at')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        callerNumber: r.caller_number,
        callerIdKind: r.caller_id_kind,
        arrivedAt: r.arrived_at,
        verdict: judged(r.verdict),
        verdictAt: r.verdict_at,
        disposition: r.disposition,
        endedAt: r.ended_at,
      }));
    },

    async countCalls() {
      const { count } = await db
        .selectFrom('calls')
        .select((eb) => eb.fn.countAll<string>().as('count'))
        .executeTakeFirstOrThrow();
      return Number(count);
    },
  };
}
