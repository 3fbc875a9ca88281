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

/** A fresh, uniquely named database on the test server, migrated unless told otherwise. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = inject('postgresUrl');
  const name = `siaga112_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  await onServer(serverUrl, (client) => client.query(`create database "${name}"`));
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
  try {
    if (options.migrate ?? true) await migrateToLatest(db);
  } catch (error) {
    await destroy();
    throw error;
  }
  return { url, db, destroy };
}
