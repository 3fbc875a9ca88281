import type { Kysely } from 'kysely';

/**
 * Every call-taker state transition, copied from the Redis stream the Lua scripts append to.
 * `stream_id` (the stream entry id) makes a redelivered entry land once. No foreign key to
 * `call_takers` and no CHECK on the states: an event for a taker deleted (or not yet added) or
 * in a state a newer version introduced must still be stored, or the drain would stall on it.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('taker_events')
    .addColumn('stream_id', 'text', (c) => c.primaryKey())
    .addColumn('taker_id', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('previous_state', 'text')
    .addColumn('reason', 'text')
    .addColumn('call_id', 'uuid')
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .execute();

  // Occupancy and login time: one taker's transitions over a period, in order.
  await db.schema
    .createIndex('taker_events_taker_id_at_idx')
    .on('taker_events')
    .columns(['taker_id', 'at'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('taker_events').execute();
}
