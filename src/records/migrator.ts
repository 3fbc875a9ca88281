import type { Kysely } from 'kysely';
import { type MigrationResultSet, Migrator, NO_MIGRATIONS } from 'kysely/migration';
import { migrations } from '../../migrations/index.ts';

/** A migration failed; `migrationName` says which (undefined when none had started). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
  readonly migrationName: string | undefined;

  constructor(direction: 'up' | 'down', migrationName: string | undefined, cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(
      migrationName === undefined
        ? `migrating ${direction} failed: ${detail}`
        : `migration ${migrationName} (${direction}) failed: ${detail}`,
      { cause },
    );
    this.migrationName = migrationName;
  }
}

/**
 * Any Kysely instance, whatever its table types: migrations speak to the schema as it was then,
 * not to the application's current `Database` type.
 */
// biome-ignore lint/suspicious/noExplicitAny: Kysely's Migrator takes an untyped Kysely
export type AnyKysely = Kysely<any>;

function migrator(db: AnyKysely): Migrator {
  return new Migrator({ db, provider: { getMigrations: async () => ({ ...migrations }) } });
}

function settle(direction: 'up' | 'down', { error, results }: MigrationResultSet): string[] {
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new MigrationError(direction, failed, error);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/** Applies every pending migration; returns the names applied, in order. */
export async function migrateToLatest(db: AnyKysely): Promise<string[]> {
  return settle('up', await migrator(db).migrateToLatest());
}

/**
 * Reverts the latest migration, or with `{ all: true }` every one of them; returns the names
 * reverted, in order.
 */
export async function migrateDown(db: AnyKysely, options: { all?: boolean } = {}): Promise<string[]> {
  const m = migrator(db);
  return settle('down', options.all ? await m.migrateTo(NO_MIGRATIONS) : await m.migrateDown());
}
