import { type Kysely, sql } from 'kysely';

/**
 * Screening rule sets as data: every change is a new version (who, when, why, the whole rule
 * set), never an update, so the table is its own audit trail. The active set is the one most
 * recently activated; activating is recorded too.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('screening_rule_sets')
    .addColumn('version', 'serial', (c) => c.primaryKey())
    .addColumn('rules', 'jsonb', (c) => c.notNull())
    .addColumn('comment', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('activated_by', 'text')
    .addColumn('activated_at', 'timestamptz')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('screening_rule_sets').execute();
}
