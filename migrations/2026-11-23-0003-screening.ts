import { type Kysely, sql } from 'kysely';

// Frozen in time: copied, not imported, so this migration keeps its meaning.
const VERDICTS = ['genuine', 'prank', 'silent', 'misdial', 'info'];
const DECISIONS = ['connect', 'connect-low', 'challenge', 'warn-and-release'];

const oneOf = (column: string, values: readonly string[]) =>
  sql`${sql.ref(column)} in (${sql.join(values.map((v) => sql.lit(v)))})`;

/**
 * Screening on the call record: what screening decided and why (written with the record), and
 * the call taker's verdict on the call (written by the verdict API, never by the record writer).
 */
// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('calls')
    .addColumn('screening_decision', 'text', (c) => c.check(oneOf('screening_decision', DECISIONS)))
    .addColumn('screening_score', 'real')
    .addColumn('screening_reasons', 'jsonb')
    .addColumn('verdict', 'text', (c) => c.check(oneOf('verdict', VERDICTS)))
    .addColumn('verdict_by', 'text')
    .addColumn('verdict_at', 'timestamptz')
    .execute();
}

// biome-ignore lint/suspicious/noExplicitAny: a migration must not know the application's Database type
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('calls')
    .dropColumn('screening_decision')
    .dropColumn('screening_score')
    .dropColumn('screening_reasons')
    .dropColumn('verdict')
    .dropColumn('verdict_by')
    .dropColumn('verdict_at')
    .execute();
}
