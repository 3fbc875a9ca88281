import { type Kysely, sql } from 'kysely';

// Frozen in time: the values below are copied, not imported, so this migration means the same
// thing whatever the application code later becomes.
const CALLER_ID_KINDS = ['e164', 'anonymous', 'empty', 'invalid'];
const DISPOSITIONS = ['connected', 'abandoned', 'released', 'silent', 'overflowed', 'failed', 'lost'];
const ENDED_BY = ['caller', 'taker', 'system'];

const oneOf = (column: string, values: readonly string[]) =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('call_takers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull().unique())
    .addColumn('skills', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'`))
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('calls')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('caller_channel_id', 'text', (c) => c.notNull())
    .addColumn('trunk', 'text')
    // Whatever the trunk delivered, of any length: untrusted, stored, never interpreted.
    .addColumn('caller_id_raw', 'text', (c) => c.notNull())
    .addColumn('caller_number', 'text')
    .addColumn('caller_id_kind', 'text', (c) => c.notNull().check(oneOf('caller_id_kind', CALLER_ID_KINDS)))
    .addColumn('priority', 'smallint', (c) => c.notNull())
    .addColumn('arrived_at', 'timestamptz', (c) => c.notNull())
    .addColumn('answered_at', 'timestamptz')
    .addColumn('queued_at', 'timestamptz')
    .addColumn('offered_at', 'timestamptz')
    .addColumn('connected_at', 'timestamptz')
    .addColumn('ended_at', 'timestamptz')
    .addColumn('disposition', 'text', (c) => c.check(oneOf('disposition', DISPOSITIONS)))
    .addColumn('ended_by', 'text', (c) => c.check(oneOf('ended_by', ENDED_BY)))
    .addColumn('taker_id', 'text', (c) => c.references('call_takers.id').onDelete('set null'))
    .addColumn('wait_ms', 'integer')
    .addColumn('talk_ms', 'integer')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  // Reports and the supervisor's views ask "calls between t1 and t2".
  await db.schema.createIndex('calls_arrived_at_idx').on('calls').column('arrived_at').execute();
  // "Has this number called before?" (repeat callers, callbacks, misuse screening).
  await db.schema
    .createIndex('calls_caller_number_arrived_at_idx')
    .on('calls')
    .columns(['caller_number', 'arrived_at'])
    .where(sql.ref('caller_number'), 'is not', null)
    .execute();
  // A call taker's calls; also what ON DELETE SET NULL scans when a taker is removed.
  await db.schema
    .createIndex('calls_taker_id_idx')
    .on('calls')
    .column('taker_id')
    .where(sql.ref('taker_id'), 'is not', null)
    .execute();

  await db.schema
    .createTable('call_events')
    .addColumn('call_id', 'uuid', (c) => c.notNull().references('calls.id'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('detail', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addPrimaryKeyConstraint('call_events_pkey', ['call_id', 'seq'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('call_events').execute();
  await db.schema.dropTable('calls').execute();
  await db.schema.dropTable('call_takers').execute();
}
