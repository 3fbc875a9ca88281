import { type Kysely, sql } from 'kysely';

// Frozen in time: copied, not imported, so this migration keeps its meaning.
const VERDICTS = ['genuine', 'prank', 'silent', 'misdial', 'info', 'unknown'];
const INCIDENTS = ['medical', 'fire', 'police', 'disaster', 'traffic', 'rescue', 'other'];

const oneOf = (column: string, values: readonly string[]) =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

/**
 * The call taker's note and incident category with the verdict; `unknown` (with `verdict_auto`)
 * when wrap-up ended without a verdict.
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('calls').dropConstraint('calls_verdict_check').execute();
  await db.schema
    .alterTable('calls')
    .addCheckConstraint('calls_verdict_check', oneOf('verdict', VERDICTS))
    .execute();
  await db.schema
    .alterTable('calls')
    .addColumn('verdict_note', 'text')
    .addColumn('incident_category', 'text', (c) => c.check(oneOf('incident_category', INCIDENTS)))
    .addColumn('verdict_auto', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
  // The verdict deadline looks for these every second on every instance: keep it off a full scan.
  await db.schema
    .createIndex('calls_awaiting_verdict')
    .on('calls')
    .column('ended_at')
    .where(sql.ref('verdict'), 'is', null)
    .where(sql.ref('connected_at'), 'is not', null)
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('calls_awaiting_verdict').execute();
  await db.schema
    .alterTable('calls')
    .dropColumn('verdict_note')
    .dropColumn('incident_category')
    .dropColumn('verdict_auto')
    .execute();
  await db.updateTable('calls').set({ verdict: null }).where('verdict', '=', 'unknown').execute();
  await db.schema.alterTable('calls').dropConstraint('calls_verdict_check').execute();
  await db.schema
    .alterTable('calls')
    .addCheckConstraint('calls_verdict_check', oneOf('verdict', VERDICTS.slice(0, -1)))
    .execute();
}
