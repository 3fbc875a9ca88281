import { type Kysely, sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { migrations } from '../../../migrations/index.ts';
import { createCallRepository } from '../../../src/records/call-repository.ts';
import type { Database } from '../../../src/records/database.ts';
import { MigrationError, migrateDown, migrateToLatest } from '../../../src/records/migrator.ts';
import { callLifecycle } from '../../support/call-fixtures.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase | undefined;

afterEach(async () => {
  await database?.destroy();
  database = undefined;
});

async function tables(db: Kysely<Database>): Promise<string[]> {
  const { rows } = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%'
    order by table_name
  `.execute(db);
  return rows.map((r) => r.name);
}

describe('migrations', () => {
  it('go up, all the way down, and up again', async () => {
    database = await createTestDatabase({ migrate: false });
    const { db } = database;
    const names = Object.keys(migrations);

    expect(await migrateToLatest(db)).toEqual(names);
    expect(await tables(db)).toEqual([
      'api_keys',
      'audit_log',
      'call_events',
      'call_recordings',
      'call_takers',
      'callbacks',
      'caller_list_entries',
      'calls',
      'legal_holds',
      'screening_rule_sets',
      'taker_events',
    ]);
    expect(await migrateToLatest(db)).toEqual([]);

    expect(await migrateDown(db, { all: true })).toEqual([...names].reverse());
    expect(await tables(db)).toEqual([]);

    expect(await migrateToLatest(db)).toEqual(names);
    const [update] = callLifecycle(1);
    await createCallRepository(db).applyUpdates([update!]);
    expect(await createCallRepository(db).countCalls()).toBe(1);
  });

  it('name the migration that failed', async () => {
    database = await createTestDatabase({ migrate: false });
    await sql`create table calls (id int)`.execute(database.db);
    const error = await migrateToLatest(database.db).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).migrationName).toBe('2026-11-23-0001-initial');
    expect((error as MigrationError).message).toContain('2026-11-23-0001-initial');
    // Each migration runs in a transaction: the failed one left nothing behind.
    expect(await tables(database.db)).toEqual(['calls']);
  });
});
