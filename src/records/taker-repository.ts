import { type Kysely, type Selectable, sql } from 'kysely';
import type { CallTakersTable, Database } from './database.ts';

/** A person who answers 112 calls, reached at one SIP endpoint. */
export interface CallTaker {
  /** Stable id, e.g. `taker1`. */
  id: string;
  name: string;
  /** The Asterisk endpoint their phone registers as, e.g. `PJSIP/taker1`; unique. */
  endpoint: string;
  skills: string[];
  active: boolean;
}

export type CallTakerInput = Pick<CallTaker, 'id' | 'name' | 'endpoint'> &
  Partial<Pick<CallTaker, 'skills' | 'active'>>;

export interface TakerRepository {
  /** Ordered by id; `activeOnly` leaves out deactivated takers. */
  listTakers(options?: { activeOnly?: boolean }): Promise<CallTaker[]>;
  getTaker(id: string): Promise<CallTaker | undefined>;
  findTakerByEndpoint(endpoint: string): Promise<CallTaker | undefined>;
  /** Inserts, or replaces the taker with this id; returns the stored taker. */
  upsertTaker(taker: CallTakerInput): Promise<CallTaker>;
  /**
   * Ensures `taker1..count` exist on `PJSIP/taker1..count` for demos and tests. Idempotent, and
   * leaves alone a taker (or endpoint) that already exists, edits included.
   */
  seedDemoTakers(count: number): Promise<CallTaker[]>;
}

const fromRow = (row: Selectable<CallTakersTable>): CallTaker => ({
  id: row.id,
  name: row.name,
  endpoint: row.endpoint,
  skills: row.skills,
  active: row.active,
});

const COLUMNS = ['id', 'name', 'endpoint', 'skills', 'active', 'created_at', 'updated_at'] as const;

export function createTakerRepository(db: Kysely<Database>): TakerRepository {
  return {
    async listTakers(options = {}) {
      let query = db.selectFrom('call_takers').select(COLUMNS).orderBy('id');
      if (options.activeOnly) query = query.where('active', '=', true);
      return (await query.execute()).map(fromRow);
    },

    async getTaker(id) {
      const row = await db.selectFrom('call_takers').select(COLUMNS).where('id', '=', id).executeTakeFirst();
      return row === undefined ? undefined : fromRow(row);
    },

    async findTakerByEndpoint(endpoint) {
      const row = await db
        .selectFrom('call_takers')
        .select(COLUMNS)
        .where('endpoint', '=', endpoint)
        .executeTakeFirst();
      return row === undefined ? undefined : fromRow(row);
    },

    async upsertTaker(taker) {
      const row = await db
        .insertInto('call_takers')
        .values({
          id: taker.id,
          name: taker.name,
          endpoint: taker.endpoint,
          skills: taker.skills ?? [],
          active: taker.active ?? true,
        })
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            name: eb.ref('excluded.name'),
            endpoint: eb.ref('excluded.endpoint'),
            skills: eb.ref('excluded.skills'),
            active: eb.ref('excluded.active'),
            updated_at: sql<Date>`now()`,
          })),
        )
        .returning(COLUMNS)
        .executeTakeFirstOrThrow();
      return fromRow(row);
    },

    async seedDemoTakers(count) {
      if (!Number.isInteger(count) || count < 0)
        throw new RangeError(`taker count must be a whole number, got ${count}`);
      if (count === 0) return [];
      const ids = Array.from({ length: count }, (_, i) => `taker${i + 1}`);
      await db
        .insertInto('call_takers')
        .values(ids.map((id, i) => ({ id, name: `Call taker ${i + 1}`, endpoint: `PJSIP/${id}` })))
        // No conflict target: an existing id or an endpoint already in use both mean "leave it".
        .onConflict((oc) => oc.doNothing())
        .execute();
      const rows = await db.selectFrom('call_takers').select(COLUMNS).where('id', 'in', ids).execute();
      const byId = new Map(rows.map((row) => [row.id, fromRow(row)]));
      return ids.flatMap((id) => byId.get(id) ?? []);
    },
  };
}
