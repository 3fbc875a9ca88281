import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { inject } from 'vitest';
import { createDatabase, type Database } from '../../src/records/database.ts';
import { migrateToLatest } from '../../src/records/migrator.ts';
import './provided-context.ts';

export interface TestDatabase {
  /** Connection URL of the fresh database (not the server's admin database). */
  readonly url: string;
  readonly db: Kysely<Database>;
  /** Closes `db` and drops the database, whoever is still connected to it. */
  destroy(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Run the migrations (default true); false gives an empty database for migration tests. */
  migrate?: boolean;
  maxConnections?: number;
}

/** The server URL from the global setup with its path swapped for `database`. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer<T>(serverUrl: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, application_name: 'siaga112-tests' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * A database holding every migration, made once per run by the global setup: a test's migrated
 * database is a copy of it (`create database ... template`), the schema and `kysely_migration`
 * rows exactly as `migrateToLatest` leaves them. Nobody may stay connected to it, or copying fails.
 */
export async function createMigratedTemplate(
  serverUrl: string,
): Promise<{ readonly name: string; drop(): Promise<void> }> {
  const name = `siaga112_template_${process.pid}_${randomBytes(5).toString('hex')}`;
  const drop = () =>
    onServer(serverUrl, (client) => client.query(`drop database if exists "${name}" with (force)`)).then(
      () => {},
    );
  await onServer(serverUrl, (client) => client.query(`create database "${name}"`));
  const db = createDatabase(databaseUrl(serverUrl, name), {
    maxConnections: 1,
    applicationName: 'siaga112-tests',
  });
  try {
    await migrateToLatest(db);
  } catch (error) {
    await db.destroy();
    await drop();
    throw error;
  }
  await db.destroy();
  return { name, drop };
}

/** A fresh, uniquely named database on the test server, migrated unless told otherwise. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = inject('postgresUrl');
  const name = `siaga112_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  const migrate = options.migrate ?? true;
  // Migrated: a copy of the run's template. Empty (migration tests): a plain new database.
  const from = migrate ? ` template "${inject('postgresTemplate')}"` : '';
  await onServer(serverUrl, (client) => client.query(`create database "${name}"${from}`));
  const url = databaseUrl(serverUrl, name);
  const db = createDatabase(url, {
    maxConnections: options.maxConnections ?? 5,
    applicationName: 'siaga112-tests',
  });
  let destroyed = false;
  const destroy = async () => {
    if (destroyed) return;
    destroyed = true;
    await db.destroy();
    await onServer(serverUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
  };
  return { url, db, destroy };
}
