import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Logger } from '../logger.ts';
import type { Database } from './database.ts';

/**
 * Caller numbers are personal data (Indonesia's PDP law, UU 27/2022). Past the retention period a
 * call keeps everything a report needs, but its caller ID is replaced by a pseudonym: the same
 * number always gives the same pseudonym (repeat callers still count as repeat callers), and
 * without the key nobody can tell the number back. Without a key the number is removed.
 */
export function pseudonym(number: string, key: string | null): string | null {
  if (key === null) return null;
  return `anon:${createHmac('sha256', key).update(number).digest('hex').slice(0, 16)}`;
}

/** Pseudonymizes calls that arrived before `cutoff` (and their callbacks); returns how many calls. */
export async function pseudonymizeCallsBefore(
  db: Kysely<Database>,
  cutoff: Date,
  key: string | null,
  batchSize = 1000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const rows = await db
      .selectFrom('calls')
      .select(['id', 'caller_number', 'caller_id_raw'])
      .where('arrived_at', '<', cutoff)
      .where('caller_id_raw', 'not like', 'anon:%')
      .where('caller_id_raw', '!=', '[removed]')
      .limit(batchSize)
      .execute();
    if (rows.length === 0) return total;
    await db.transaction().execute(async (trx) => {
      for (const row of rows) {
        const alias = pseudonym(row.caller_number ?? row.caller_id_raw, key);
        await trx
          .updateTable('calls')
          .set({ caller_number: null, caller_id_raw: alias ?? '[removed]' })
          .where('id', '=', row.id)
          .execute();
        await trx
          .updateTable('callbacks')
          .set({ caller_number: alias ?? '[removed]' })
          .where('call_id', '=', row.id)
          .execute();
      }
    });
    total += rows.length;
  }
}

/** Runs the retention every hour on every instance (idempotent); `days` 0 keeps numbers forever. */
export function startRetention(options: {
  db: Kysely<Database>;
  days: number;
  key: string | null;
  schemaReady: Promise<void>;
  logger: Logger;
  everyMs?: number;
}): { stop(): void } {
  const { db, days, key, logger } = options;
  if (days <= 0) return { stop: () => {} };
  const run = async () => {
    const cutoff = new Date(Date.now() - days * 24 * 3600_000);
    const done = await pseudonymizeCallsBefore(db, cutoff, key);
    if (done > 0) logger.info({ calls: done, olderThanDays: days }, 'caller numbers pseudonymized');
  };
  let timer: NodeJS.Timeout | undefined;
  void options.schemaReady.then(() => {
    void run().catch((error: unknown) => logger.warn({ err: error }, 'retention run failed'));
    timer = setInterval(
      () => void run().catch((error: unknown) => logger.warn({ err: error }, 'retention run failed')),
      options.everyMs ?? 3600_000,
    );
    timer.unref();
  });
  return { stop: () => clearInterval(timer) };
}
