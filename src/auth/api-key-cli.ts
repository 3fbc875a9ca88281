/**
 * `npm run api-key -- create --role admin --name "Rina (regency IT)"` prints a new key once; a call
 * taker's key names its taker (`--role call-taker --taker taker1`). `npm run api-key -- revoke <id>`.
 * There are no default credentials: the first admin key is made here, on the server, by someone
 * with access to the database.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadDatabaseUrl } from '../config.ts';
import { createDatabase } from '../records/database.ts';
import { migrateToLatest } from '../records/migrator.ts';
import { createApiKeyRepository, ROLES, type Role } from './api-keys.ts';

const USAGE =
  'usage: npm run api-key -- create --role admin|supervisor|call-taker|metrics --name <who> [--taker <takerId>]\n' +
  '       npm run api-key -- revoke <key id>';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { role: { type: 'string' }, name: { type: 'string' }, taker: { type: 'string' } },
  });
  const [command, ...rest] = positionals;
  const db = createDatabase(loadDatabaseUrl(), { maxConnections: 1, applicationName: 'siaga112-api-key' });
  try {
    await migrateToLatest(db);
    const keys = createApiKeyRepository(db);
    if (command === 'create' && rest.length === 0) {
      const role = values.role as Role | undefined;
      if (!role || !ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(', ')}`);
      if (!values.name?.trim()) throw new Error('--name is required (who holds the key)');
      if ((role === 'call-taker') !== (values.taker !== undefined)) {
        throw new Error('--taker is required for a call-taker key, and only for one');
      }
      const { principal, key } = await keys.create({
        name: values.name.trim(),
        role,
        takerId: values.taker ?? null,
        createdBy: `cli:${process.env.USER ?? 'unknown'}`,
      });
      console.log(
        `key id: ${principal.keyId} (${role}${principal.takerId ? ` for ${principal.takerId}` : ''})`,
      );
      console.log(`key:    ${key}`);
      console.log('It is shown only now: siaga112 keeps only its hash.');
      return 0;
    }
    if (command === 'revoke' && rest.length === 1) {
      const revoked = await keys.revoke(rest[0] as string, new Date());
      console.log(revoked ? 'revoked' : 'no such active key');
      return revoked ? 0 : 1;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await db.destroy();
  }
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(
    `siaga112 api-key: ${error instanceof ConfigError || error instanceof Error ? error.message : error}`,
  );
  process.exitCode = 1;
}
