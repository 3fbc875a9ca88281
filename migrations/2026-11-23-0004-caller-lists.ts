import { type Kysely, sql } from 'kysely';

/**
 * Allowlist (hospitals, police posts, known field units) and blocklist entries: one per number,
 * with who put it there, why, and until when. Blocked callers still meet screening's fail-open
 * path (a warning, then a challenge when they call straight back), never a hard block.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('caller_list_entries')
    .addColumn('number', 'text', (c) => c.primaryKey())
    .addColumn('list', 'text', (c) => c.notNull().check(sql`list in ('allow', 'block')`))
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('expires_at', 'timestamptz')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('caller_list_entries').execute();
}
