import type { Kysely } from 'kysely';
import { storableText } from './call-repository.ts';
import type { Database } from './database.ts';

export interface CallerListEntry {
  /** E.164. */
  number: string;
  list: 'allow' | 'block';
  reason: string;
  author: string;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface CallerListRepository {
  /** Puts a number on a list (replacing an entry it had). */
  upsert(entry: Omit<CallerListEntry, 'createdAt'>): Promise<CallerListEntry>;
  remove(number: string): Promise<boolean>;
  /** Entries not expired at `now`. */
  listActive(now: Date): Promise<CallerListEntry[]>;
}

export function createCallerListRepository(db: Kysely<Database>): CallerListRepository {
  return {
    async upsert(entry) {
      const row = {
        number: entry.number,
        list: entry.list,
        reason: storableText(entry.reason),
        author: storableText(entry.author),
        expires_at: entry.expiresAt,
      };
      const saved = await db
        .insertInto('caller_list_entries')
        .values({ ...row, created_at: new Date() })
        .onConflict((oc) => oc.column('number').doUpdateSet({ ...row, created_at: new Date() }))
        .returningAll()
        .executeTakeFirstOrThrow();
      return fromRow(saved);
    },
    async remove(number) {
      const result = await db
        .deleteFrom('caller_list_entries')
        .where('number', '=', number)
        .executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
    async listActive(now) {
      const rows = await db
        .selectFrom('caller_list_entries')
        .selectAll()
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
        .orderBy('number')
        .execute();
      return rows.map(fromRow);
    },
  };
}

function fromRow(row: {
  number: string;
  list: 'allow' | 'block';
  reason: string;
  author: string;
  created_at: Date;
  expires_at: Date | null;
}): CallerListEntry {
  return {
    number: row.number,
    list: row.list,
    reason: row.reason,
    author: row.author,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}
