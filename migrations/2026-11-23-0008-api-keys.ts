import { type Kysely, sql } from 'kysely';

// Frozen in time: copied, not imported, so this migration keeps its meaning.
const ROLES = ['admin', 'supervisor', 'call-taker', 'metrics'];

/**
 * API keys (only a hash is kept: a key is shown once, when created) with their role, and for a
 * call taker's key the taker it acts for; and the audit log of every write a person makes.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('api_keys')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) =>
      c.notNull().check(sql`role in (${sql.join(ROLES.map((r) => sql.lit(r)))})`),
    )
    .addColumn('taker_id', 'text', (c) => c.references('call_takers.id').onDelete('cascade'))
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .addCheckConstraint('api_keys_taker_role', sql`(role = 'call-taker') = (taker_id is not null)`)
    .execute();
  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('key_id', 'uuid', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('route', 'text', (c) => c.notNull())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('status', 'integer', (c) => c.notNull())
    .addColumn('body', 'jsonb')
    .execute();
  await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_log').execute();
  await db.schema.dropTable('api_keys').execute();
}
