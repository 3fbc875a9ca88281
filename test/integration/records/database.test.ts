import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDatabase } from '../../../src/records/database.ts';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts';
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts';

let database: TestDatabase;
let proxy: TcpProxy;

beforeAll(async () => {
  database = await createTestDatabase({ migrate: false });
  const { hostname, port } = new URL(database.url);
  proxy = await startTcpProxy({ host: hostname, port: Number(port) });
});

afterAll(async () => {
  await proxy?.close();
  await database?.destroy();
});

describe('database', () => {
  it('fails a query whose connection drops under it, without taking the process down', async () => {
    const db = createDatabase(proxy.url(database.url), { maxConnections: 1 });
    try {
      await sql`select 1`.execute(db);
      const running = sql`select pg_sleep(30)`.execute(db);
      // Once the statement runs on the server, drop the connection under it.
      await vi.waitFor(
        async () => {
          const { rows } = await sql<{ n: string }>`
            select count(*) as n from pg_stat_activity
            where state = 'active' and query = 'select pg_sleep(30)'
          `.execute(database.db);
          expect(Number(rows[0]!.n)).toBe(1);
        },
        { timeout: 10_000, interval: 20 },
      );
      proxy.cut();
      // An 'error' event nobody listened to would surface as an uncaught exception and fail the run.
      await expect(running).rejects.toThrow(/terminated/);
      proxy.restore();
      expect((await sql<{ one: number }>`select 1 as one`.execute(db)).rows).toEqual([{ one: 1 }]);
    } finally {
      await db.destroy();
    }
  });
});
