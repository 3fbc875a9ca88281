// `npm run migrate`: brings the database named by DATABASE_URL to the latest schema.
import { ConfigError, loadDatabaseUrl } from '../config.ts';
import { createDatabase } from './database.ts';
import { migrateToLatest } from './migrator.ts';

try {
  const db = createDatabase(loadDatabaseUrl(), { maxConnections: 1, applicationName: 'siaga112-migrate' });
  try {
    const applied = await migrateToLatest(db);
    console.log(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database already up to date');
  } finally {
    await db.destroy();
  }
} catch (error) {
  console.error(
    `siaga112 migrate: ${error instanceof ConfigError || error instanceof Error ? error.message : error}`,
  );
  process.exit(1);
}
