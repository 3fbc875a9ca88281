import { type Kysely, sql } from 'kysely';

// Frozen in time: copied, not imported, so this migration keeps its meaning.
const KINDS = ['caller', 'bridge'];
const STATES = ['recording', 'done', 'failed'];
const LOCATIONS = ['spool', 'store'];

const oneOf = (column: string, values: readonly string[]) =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

/**
 * Call recordings: one row per segment of a call's recording (the caller's leg from answer, then
 * the bridge's mix), with where its file is, its size, duration and SHA-256; and legal holds,
 * which keep a call's recordings past their retention. A call's rows go with the call.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('call_recordings')
    .addColumn('call_id', 'uuid', (c) => c.notNull().references('calls.id').onDelete('cascade'))
    .addColumn('segment', 'integer', (c) => c.notNull().check(sql`segment > 0`))
    .addColumn('kind', 'text', (c) => c.notNull().check(oneOf('kind', KINDS)))
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull().check(oneOf('state', STATES)))
    .addColumn('location', 'text', (c) => c.check(oneOf('location', LOCATIONS)))
    .addColumn('file_name', 'text')
    .addColumn('started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('ended_at', 'timestamptz')
    .addColumn('duration_ms', 'integer')
    .addColumn('size_bytes', 'bigint')
    .addColumn('sha256', 'text')
    .addColumn('failure', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('call_recordings_pkey', ['call_id', 'segment'])
    // A stored file is known to the byte: where it is, how big, its checksum.
    .addCheckConstraint(
      'call_recordings_done_complete',
      sql`state <> 'done' or (location is not null and file_name is not null and size_bytes is not null and sha256 is not null)`,
    )
    .execute();
  await db.schema
    .createTable('legal_holds')
    .addColumn('call_id', 'uuid', (c) => c.primaryKey().references('calls.id').onDelete('cascade'))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('set_by', 'text', (c) => c.notNull())
    .addColumn('set_at', 'timestamptz', (c) => c.notNull())
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('legal_holds').execute();
  await db.schema.dropTable('call_recordings').execute();
}
