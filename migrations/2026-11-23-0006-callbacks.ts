import { type Kysely, sql } from 'kysely';

// Frozen in time: copied, not imported from the application.
const STATUSES = ['pending', 'claimed', 'dialing', 'scheduled', 'reached', 'failed', 'exhausted'];
const OUTCOMES = ['reached', 'no-answer', 'busy', 'invalid', 'error'];

const oneOf = (column: string, values: readonly string[]) =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

/**
 * Callbacks: a caller who hung up after the IVR answered but before a person did is called back.
 * One per call (`call_id` unique); the timeline of each lives in the call's `call_events`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('callbacks')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('call_id', 'uuid', (c) => c.notNull().unique().references('calls.id'))
    .addColumn('caller_number', 'text', (c) => c.notNull())
    .addColumn('trunk', 'text')
    .addColumn('status', 'text', (c) => c.notNull().check(oneOf('status', STATUSES)))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('claimed_by', 'text')
    .addColumn('last_outcome', 'text', (c) => c.check(oneOf('last_outcome', OUTCOMES)))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // The supervisor's list: callbacks by status, oldest first.
  await db.schema
    .createIndex('callbacks_status_created_at_idx')
    .on('callbacks')
    .columns(['status', 'created_at'])
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('callbacks').execute();
}
