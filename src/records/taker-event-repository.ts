import { type Insertable, type Kysely, type Selectable, sql } from 'kysely';
import { storableText } from './call-repository.ts';
import type { Database, TakerEventsTable } from './database.ts';
import { isStreamId, type TakerEvent } from './taker-event.ts';

export interface TakerEventRepository {
  /**
   * Stores the events in one statement (per 5,000); an event whose stream id is already stored
   * is left alone, so a redelivered batch lands once. Returns how many were newly stored.
   */
  insertTakerEvents(events: readonly TakerEvent[]): Promise<number>;
  /**
   * One taker's transitions with `from <= at < to` (either bound optional), in the order they
   * happened: by `at`, then by stream id (Redis' own order of appends).
   */
  listTakerEvents(takerId: string, range?: { from?: Date; to?: Date }): Promise<TakerEvent[]>;
}

// Seven bind parameters a row; Postgres allows 65,535 per statement.
const ROWS_PER_STATEMENT = 5_000;

const nullableText = (value: string | null) => (value === null ? null : storableText(value));

function toRow(event: TakerEvent): Insertable<TakerEventsTable> {
  // Stream ids come from Redis; anything else is a caller's bug, and it would break the ordering.
  if (!isStreamId(event.streamId)) throw new RangeError(`not a stream id: ${JSON.stringify(event.streamId)}`);
  return {
    stream_id: event.streamId,
    taker_id: storableText(event.takerId),
    state: storableText(event.state),
    previous_state: nullableText(event.previousState),
    reason: nullableText(event.reason),
    call_id: event.callId,
    at: event.at,
  };
}

function fromRow(row: Selectable<TakerEventsTable>): TakerEvent {
  return {
    streamId: row.stream_id,
    takerId: row.taker_id,
    state: row.state,
    previousState: row.previous_state,
    reason: row.reason,
    callId: row.call_id,
    at: row.at,
  };
}

/** Numeric `<ms>-<seq>` order: as text, `…-10` would sort before `…-9`. */
const streamOrder = (a: string, b: string) => {
  const [aMs, aSeq] = a.split('-').map(BigInt) as [bigint, bigint];
  const [bMs, bSeq] = b.split('-').map(BigInt) as [bigint, bigint];
  return aMs !== bMs ? (aMs < bMs ? -1 : 1) : aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
};

export function createTakerEventRepository(db: Kysely<Database>): TakerEventRepository {
  return {
    async insertTakerEvents(events) {
      // Each id once, sorted, so two instances inserting overlapping batches lock in one order.
      const rows = [...new Map(events.map((e) => [e.streamId, toRow(e)])).values()].sort((a, b) =>
        streamOrder(a.stream_id, b.stream_id),
      );
      let stored = 0n;
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
        const result = await db
          .insertInto('taker_events')
          .values(rows.slice(i, i + ROWS_PER_STATEMENT))
          .onConflict((oc) => oc.column('stream_id').doNothing())
          .executeTakeFirst();
        stored += result.numInsertedOrUpdatedRows ?? 0n;
      }
      return Number(stored);
    },

    async listTakerEvents(takerId, range = {}) {
      let query = db.selectFrom('taker_events').selectAll().where('taker_id', '=', takerId);
      if (range.from !== undefined) query = query.where('at', '>=', range.from);
      if (range.to !== undefined) query = query.where('at', '<', range.to);
      const rows = await query
        .orderBy('at')
        .orderBy(sql`split_part(stream_id, '-', 1)::numeric`)
        .orderBy(sql`split_part(stream_id, '-', 2)::numeric`)
        .execute();
      return rows.map(fromRow);
    },
  };
}
