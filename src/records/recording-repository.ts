import { type Kysely, type Selectable, sql } from 'kysely';
import type { RecordingKind, SegmentRef } from '../recording/recording-name.ts';
import { storableText } from './call-repository.ts';
import type { CallRecordingsTable, Database } from './database.ts';

export type SegmentState = 'recording' | 'done' | 'failed';
/** `spool`: Asterisk's recording directory (RECORDINGS_DIR); `store`: RECORDINGS_STORE_DIR. */
export type StorageLocation = 'spool' | 'store';

/** One segment of a call's recording, as Postgres knows it. */
export interface RecordingSegment {
  callId: string;
  segment: number;
  kind: RecordingKind;
  name: string;
  format: string;
  state: SegmentState;
  location: StorageLocation | null;
  fileName: string | null;
  startedAt: Date;
  endedAt: Date | null;
  durationMs: number | null;
  sizeBytes: number | null;
  sha256: string | null;
  /** Why it failed: Asterisk's refusal or cause, or what was wrong with the file. */
  failure: string | null;
}

/** A stored segment: its file known to the byte. */
export interface StoredSegment {
  location: StorageLocation;
  fileName: string;
  sizeBytes: number;
  sha256: string;
  durationMs: number | null;
  endedAt: Date;
}

export interface LegalHold {
  callId: string;
  reason: string;
  setBy: string;
  setAt: Date;
}

/** A prank call of a caller with its stored segments (the police export). */
export interface RecordedPrankCall {
  callId: string;
  arrivedAt: Date;
  endedAt: Date | null;
  callerNumber: string | null;
  callerIdRaw: string;
  trunk: string | null;
  disposition: string | null;
  takerId: string | null;
  verdictBy: string | null;
  verdictAt: Date | null;
  verdictNote: string | null;
  talkMs: number | null;
  segments: RecordingSegment[];
}

export interface RecordingRepository {
  callExists(callId: string): Promise<boolean>;
  /**
   * A segment began. Throws while the call's row is not in Postgres yet (its job retries); a
   * segment already known is left as it is (a late or repeated job never moves one back).
   */
  started(ref: SegmentRef & { format: string; startedAt: Date }): Promise<void>;
  /** A segment's file is kept: `done` with where it is, its size, checksum and duration. */
  stored(ref: SegmentRef & { format: string; startedAt: Date }, file: StoredSegment): Promise<void>;
  /** A segment failed (never one already `done`). */
  failed(ref: SegmentRef & { format: string; at: Date }, failure: string): Promise<void>;
  get(callId: string, segment: number): Promise<RecordingSegment | undefined>;
  listForCall(callId: string): Promise<RecordingSegment[]>;
  getHold(callId: string): Promise<LegalHold | undefined>;
  /** Puts a call on hold (or updates why); undefined when there is no such call. */
  hold(callId: string, reason: string, setBy: string, at: Date): Promise<LegalHold | undefined>;
  /** Lifts a hold; false when there was none. */
  release(callId: string): Promise<boolean>;
  /** Segments of calls that arrived before `cutoff` and are not on hold, oldest first, past the first `skip`. */
  expired(cutoff: Date, limit: number, skip?: number): Promise<RecordingSegment[]>;
  /** How many segments past `cutoff` a legal hold keeps. */
  countHeld(cutoff: Date): Promise<number>;
  remove(callId: string, segment: number): Promise<void>;
  /** Calls of `callerNumber` (E.164) judged prank with at least one stored segment, oldest first. */
  recordedPrankCalls(callerNumber: string): Promise<RecordedPrankCall[]>;
}

const fromRow = (row: Selectable<CallRecordingsTable>): RecordingSegment => ({
  callId: row.call_id,
  segment: row.segment,
  kind: row.kind,
  name: row.name,
  format: row.format,
  state: row.state,
  location: row.location,
  fileName: row.file_name,
  startedAt: row.started_at,
  endedAt: row.ended_at,
  durationMs: row.duration_ms,
  sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
  sha256: row.sha256,
  failure: row.failure,
});

export function createRecordingRepository(db: Kysely<Database>): RecordingRepository {
  const callExists = async (callId: string) =>
    (await db.selectFrom('calls').select('id').where('id', '=', callId).executeTakeFirst()) !== undefined;
  return {
    callExists,

    async started(ref) {
      await db
        .insertInto('call_recordings')
        .values({
          call_id: ref.callId,
          segment: ref.segment,
          kind: ref.kind,
          name: ref.name,
          format: ref.format,
          state: 'recording',
          started_at: ref.startedAt,
        })
        .onConflict((oc) => oc.columns(['call_id', 'segment']).doNothing())
        .execute();
    },

    async stored(ref, file) {
      const done = {
        state: 'done' as const,
        location: file.location,
        file_name: file.fileName,
        size_bytes: file.sizeBytes,
        sha256: file.sha256,
        duration_ms: file.durationMs,
        ended_at: file.endedAt,
        failure: null,
      };
      await db
        .insertInto('call_recordings')
        .values({
          call_id: ref.callId,
          segment: ref.segment,
          kind: ref.kind,
          name: ref.name,
          format: ref.format,
          started_at: ref.startedAt,
          ...done,
        })
        .onConflict((oc) =>
          oc.columns(['call_id', 'segment']).doUpdateSet({ ...done, updated_at: sql`now()` }),
        )
        .execute();
    },

    async failed(ref, failure) {
      const text = storableText(failure).slice(0, 500);
      await db
        .insertInto('call_recordings')
        .values({
          call_id: ref.callId,
          segment: ref.segment,
          kind: ref.kind,
          name: ref.name,
          format: ref.format,
          state: 'failed',
          started_at: ref.at,
          ended_at: ref.at,
          failure: text,
        })
        .onConflict((oc) =>
          oc
            .columns(['call_id', 'segment'])
            .doUpdateSet({ state: 'failed', failure: text, ended_at: ref.at, updated_at: sql`now()` })
            .where('call_recordings.state', '<>', 'done'),
        )
        .execute();
    },

    async get(callId, segment) {
      const row = await db
        .selectFrom('call_recordings')
        .selectAll()
        .where('call_id', '=', callId)
        .where('segment', '=', segment)
        .executeTakeFirst();
      return row ? fromRow(row) : undefined;
    },

    async listForCall(callId) {
      const rows = await db
        .selectFrom('call_recordings')
        .selectAll()
        .where('call_id', '=', callId)
        .orderBy('segment')
        .execute();
      return rows.map(fromRow);
    },

    async getHold(callId) {
      const row = await db
        .selectFrom('legal_holds')
        .selectAll()
        .where('call_id', '=', callId)
        .executeTakeFirst();
      return row
        ? { callId: row.call_id, reason: row.reason, setBy: row.set_by, setAt: row.set_at }
        : undefined;
    },

    async hold(callId, reason, setBy, at) {
      if (!(await callExists(callId))) return undefined;
      const values = { reason: storableText(reason), set_by: storableText(setBy), set_at: at };
      await db
        .insertInto('legal_holds')
        .values({ call_id: callId, ...values })
        .onConflict((oc) => oc.column('call_id').doUpdateSet(values))
        .execute();
      return { callId, reason: values.reason, setBy: values.set_by, setAt: at };
    },

    async release(callId) {
      const result = await db.deleteFrom('legal_holds').where('call_id', '=', callId).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },

    async expired(cutoff, limit, skip = 0) {
      const rows = await db
        .selectFrom('call_recordings as r')
        .innerJoin('calls as c', 'c.id', 'r.call_id')
        .selectAll('r')
        .where('c.arrived_at', '<', cutoff)
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom('legal_holds as h').select('h.call_id').whereRef('h.call_id', '=', 'r.call_id'),
            ),
          ),
        )
        .orderBy('c.arrived_at')
        .orderBy('r.call_id')
        .orderBy('r.segment')
        .limit(limit)
        .offset(skip)
        .execute();
      return rows.map(fromRow);
    },

    async countHeld(cutoff) {
      const row = await db
        .selectFrom('call_recordings as r')
        .innerJoin('calls as c', 'c.id', 'r.call_id')
        .innerJoin('legal_holds as h', 'h.call_id', 'r.call_id')
        .select((eb) => eb.fn.countAll<string>().as('held'))
        .where('c.arrived_at', '<', cutoff)
        .executeTakeFirstOrThrow();
      return Number(row.held);
    },

    async remove(callId, segment) {
      await db
        .deleteFrom('call_recordings')
        .where('call_id', '=', callId)
        .where('segment', '=', segment)
        .execute();
    },

    async recordedPrankCalls(callerNumber) {
      const calls = await db
        .selectFrom('calls')
        .select([
          'id',
          'arrived_at',
          'ended_at',
          'caller_number',
          'caller_id_raw',
          'trunk',
          'disposition',
          'taker_id',
          'verdict_by',
          'verdict_at',
          'verdict_note',
          'talk_ms',
        ])
        .where('caller_number', '=', callerNumber)
        .where('verdict', '=', 'prank')
        .where(({ exists, selectFrom }) =>
          exists(
            selectFrom('call_recordings as r')
              .select('r.call_id')
              .whereRef('r.call_id', '=', 'calls.id')
              .where('r.state', '=', 'done'),
          ),
        )
        .orderBy('arrived_at')
        .execute();
      if (calls.length === 0) return [];
      const segments = await db
        .selectFrom('call_recordings')
        .selectAll()
        .where(
          'call_id',
          'in',
          calls.map((call) => call.id),
        )
        .where('state', '=', 'done')
        .orderBy('call_id')
        .orderBy('segment')
        .execute();
      return calls.map((call) => ({
        callId: call.id,
        arrivedAt: call.arrived_at,
        endedAt: call.ended_at,
        callerNumber: call.caller_number,
        callerIdRaw: call.caller_id_raw,
        trunk: call.trunk,
        disposition: call.disposition,
        takerId: call.taker_id,
        verdictBy: call.verdict_by,
        verdictAt: call.verdict_at,
        verdictNote: call.verdict_note,
        talkMs: call.talk_ms,
        segments: segments.filter((row) => row.call_id === call.id).map(fromRow),
      }));
    },
  };
}
