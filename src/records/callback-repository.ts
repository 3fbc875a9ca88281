import { type Kysely, type Selectable, sql } from 'kysely';
import type { CallbackOutcome, CallbackStatus } from '../callbacks/callback-policy.ts';
import type { CallbacksTable, Database } from './database.ts';

/** A callback owed to a caller; its timeline is in the original call's events. */
export interface Callback {
  id: string;
  callId: string;
  /** E.164. */
  callerNumber: string;
  /** The trunk the call came in on: the callback goes out through it. */
  trunk: string | null;
  status: CallbackStatus;
  /** Attempts made to reach the caller so far (the one in progress included). */
  attempts: number;
  /** When a `scheduled` callback is due again. */
  nextAttemptAt: Date | null;
  claimedBy: string | null;
  lastOutcome: CallbackOutcome | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface CallbackRepository {
  /** Creates the callback of a call; none when the call has one already (a retried job). */
  create(input: { id: string; callId: string; callerNumber: string; trunk: string | null }): Promise<boolean>;
  get(id: string): Promise<Callback | undefined>;
  getByCall(callId: string): Promise<Callback | undefined>;
  /** Oldest first; `statuses` empty: all. */
  list(statuses: readonly CallbackStatus[], limit: number): Promise<Callback[]>;
  /**
   * A taker takes a pending callback (or a scheduled one already due at `now`): `claimed`, with
   * the attempt this claim makes. Undefined when it is not claimable (someone else was first).
   */
  claim(id: string, takerId: string, now: Date): Promise<Callback | undefined>;
  /** The taker answered and the caller is being dialled: attempt `attempt` counts. */
  markDialing(id: string, attempt: number): Promise<boolean>;
  /** Back to `pending` without an attempt made (the taker never answered, or hung up first). */
  unclaim(id: string, attempts: number): Promise<boolean>;
  /** The attempt ended: `reached`, `failed`, `exhausted`, or `scheduled` until `nextAttemptAt`. */
  finishAttempt(
    id: string,
    attempt: number,
    result: { status: CallbackStatus; outcome: CallbackOutcome; nextAttemptAt: Date | null },
  ): Promise<boolean>;
  /** A scheduled callback whose time has come is pending again (idempotent per attempt). */
  makeDue(id: string, attempts: number): Promise<boolean>;
}

const fromRow = (row: Selectable<CallbacksTable>): Callback => ({
  id: row.id,
  callId: row.call_id,
  callerNumber: row.caller_number,
  trunk: row.trunk,
  status: row.status,
  attempts: row.attempts,
  nextAttemptAt: row.next_attempt_at,
  claimedBy: row.claimed_by,
  lastOutcome: row.last_outcome,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export function createCallbackRepository(db: Kysely<Database>): CallbackRepository {
  const changed = (result: { numUpdatedRows: bigint }) => result.numUpdatedRows > 0n;
  return {
    async create(input) {
      const result = await db
        .insertInto('callbacks')
        .values({
          id: input.id,
          call_id: input.callId,
          caller_number: input.callerNumber,
          trunk: input.trunk,
          status: 'pending',
        })
        .onConflict((oc) => oc.column('call_id').doNothing())
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async get(id) {
      const row = await db.selectFrom('callbacks').selectAll().where('id', '=', id).executeTakeFirst();
      return row && fromRow(row);
    },

    async getByCall(callId) {
      const row = await db
        .selectFrom('callbacks')
        .selectAll()
        .where('call_id', '=', callId)
        .executeTakeFirst();
      return row && fromRow(row);
    },

    async list(statuses, limit) {
      let query = db.selectFrom('callbacks').selectAll().orderBy('created_at').orderBy('id').limit(limit);
      if (statuses.length > 0) query = query.where('status', 'in', statuses);
      return (await query.execute()).map(fromRow);
    },

    async claim(id, takerId, now) {
      const row = await db
        .updateTable('callbacks')
        .set({ status: 'claimed', claimed_by: takerId, updated_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where((eb) =>
          eb.or([
            eb('status', '=', 'pending'),
            eb.and([eb('status', '=', 'scheduled'), eb('next_attempt_at', '<=', now)]),
          ]),
        )
        .returningAll()
        .executeTakeFirst();
      return row && fromRow(row);
    },

    async markDialing(id, attempt) {
      return changed(
        await db
          .updateTable('callbacks')
          .set({ status: 'dialing', attempts: attempt, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('status', '=', 'claimed')
          .executeTakeFirst(),
      );
    },

    async unclaim(id, attempts) {
      return changed(
        await db
          .updateTable('callbacks')
          .set({ status: 'pending', attempts, claimed_by: null, updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('status', 'in', ['claimed', 'dialing'])
          .executeTakeFirst(),
      );
    },

    async finishAttempt(id, attempt, result) {
      return changed(
        await db
          .updateTable('callbacks')
          .set({
            status: result.status,
            last_outcome: result.outcome,
            next_attempt_at: result.nextAttemptAt,
            // The taker stays on a reached callback; any other is free for whoever claims next.
            ...(result.status === 'reached' ? {} : { claimed_by: null }),
            updated_at: sql<Date>`now()`,
          })
          .where('id', '=', id)
          .where('attempts', '=', attempt)
          .where('status', 'in', ['claimed', 'dialing'])
          .executeTakeFirst(),
      );
    },

    async makeDue(id, attempts) {
      return changed(
        await db
          .updateTable('callbacks')
          .set({ status: 'pending', updated_at: sql<Date>`now()` })
          .where('id', '=', id)
          .where('status', '=', 'scheduled')
          .where('attempts', '=', attempts)
          .executeTakeFirst(),
      );
    },
  };
}
