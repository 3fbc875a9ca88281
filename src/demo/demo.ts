/**
 * `npm run demo`: a small 112 center on this machine. The Asterisk emulator plays the PBX, a few
 * virtual call takers answer on their softphones, scripted callers ring 112, and siaga112 (the
 * real service, over real sockets, with real Postgres and Redis) handles them. At the end each
 * call's record is printed from Postgres.
 */
import { randomBytes } from 'node:crypto';
import { createApiKeyRepository } from '../auth/api-keys.ts';
import { loadConfig } from '../config.ts';
import { resolveLocalServices } from '../dev/local-services.ts';
import { deleteRedisPrefix } from '../dev/redis-prefix.ts';
import { type InboundCall, startAsteriskEmulator } from '../emulator/asterisk-emulator.ts';
import { createLogger } from '../logger.ts';
import { createCallRepository } from '../records/call-repository.ts';
import { createDatabase } from '../records/database.ts';
import { createTakerRepository } from '../records/taker-repository.ts';
import { startService } from '../service.ts';
import { printCallTable } from './call-table.ts';
import { DEMO_CALLS, DEMO_TAKERS } from './demo-script.ts';

const GREETING = 'sound:siaga112/greeting';

async function main(): Promise<void> {
  console.log('siaga112 demo: finding PostgreSQL and Redis…');
  const services = await resolveLocalServices();
  console.log(`  postgres: ${services.postgres.source}, redis: ${services.redis.source}`);
  const runId = randomBytes(4).toString('hex');
  const redisPrefix = `siaga112-demo-${runId}`;
  const password = randomBytes(12).toString('hex');
  // The emulator first: it fails fast (no ARI description) before anything is made to clean up.
  const emulator = await startAsteriskEmulator({
    username: 'siaga112',
    password,
    sounds: { [GREETING]: 1500 },
  }).catch(async (error: unknown) => {
    await services.stop();
    throw error;
  });
  const databaseUrl = await services
    .createDatabase(`siaga112_demo_${runId}`)
    .catch(async (error: unknown) => {
      await emulator.stop();
      await services.stop();
      throw error;
    });
  const config = loadConfig({
    ARI_URL: emulator.url,
    ARI_USERNAME: 'siaga112',
    ARI_PASSWORD: password,
    DATABASE_URL: databaseUrl,
    REDIS_URL: services.redis.url,
    REDIS_KEY_PREFIX: redisPrefix,
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    GREETING_MEDIA: GREETING,
    RING_TIMEOUT_SECONDS: '3',
    WRAP_UP_SECONDS: '1',
  });
  const service = await startService(config, createLogger(config.logLevel));
  const stop = async () => {
    await service.close();
    await emulator.stop();
    await deleteRedisPrefix(services.redis.url, redisPrefix);
    await services.stop();
  };
  process.once('SIGINT', () => {
    console.log('\nstopping…');
    void stop().then(() => process.exit(130));
  });

  try {
    const address = await service.app.listen({ host: '127.0.0.1', port: 0 });
    console.log(`  Asterisk emulator (ARI): ${emulator.url}/ari   siaga112 API: ${address}`);
    await service.ari.waitUntilConnected(10_000);
    await service.databaseReady;

    const db = createDatabase(databaseUrl, { maxConnections: 2, applicationName: 'siaga112-demo' });
    const takers = createTakerRepository(db);
    const keys = createApiKeyRepository(db);
    for (const taker of DEMO_TAKERS) {
      await takers.upsertTaker({ id: taker.id, name: taker.name, endpoint: taker.endpoint });
      emulator.setEndpoint(taker.endpoint, taker.phone);
      // Log the taker on through the REST API, as their desk would, with their own key.
      const { key } = await keys.create({
        name: `${taker.name}'s desk`,
        role: 'call-taker',
        takerId: taker.id,
        createdBy: 'demo',
      });
      const reply = await fetch(`${address}/takers/${taker.id}/state`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ state: 'available' }),
      });
      if (!reply.ok) throw new Error(`could not log ${taker.id} on: ${reply.status} ${await reply.text()}`);
      console.log(`  ${taker.id} (${taker.name}) is available: ${taker.describe}`);
    }

    const created = new Map<string, number>();
    emulator.on('channel-created', ({ channel, at }) => created.set(channel.id, at));
    console.log(`\nplacing ${DEMO_CALLS.length} calls to 112…`);
    const start = performance.now();
    const calls: InboundCall[] = [];
    for (const script of DEMO_CALLS) {
      const wait = script.atMs - (performance.now() - start);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      calls.push(
        emulator.placeCall({
          from: script.from,
          trunk: script.trunk,
          appArgs: [script.trunk],
          ...script.options,
        }),
      );
      console.log(`  ${((performance.now() - start) / 1000).toFixed(1)} s  ${script.describe}`);
    }
    await Promise.all(calls.map((call) => call.ended));
    await service.center.idle();

    const repository = createCallRepository(db);
    const rows = await waitForRecords(db, calls.length);
    const records = await Promise.all(rows.map((id) => repository.getCall(id)));
    const timelines = await Promise.all(rows.map((id) => repository.listCallEvents(id)));
    printCallTable(
      records.flatMap((record, i) => (record ? [{ record, events: timelines[i] ?? [] }] : [])),
      created,
    );
    await db.destroy();
  } finally {
    await stop();
  }
}

/** The record writer commits asynchronously: wait (bounded) until every call is in Postgres. */
async function waitForRecords(db: ReturnType<typeof createDatabase>, count: number): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const rows = await db
      .selectFrom('calls')
      .select('id')
      .where('disposition', 'is not', null)
      .orderBy('arrived_at')
      .execute();
    if (rows.length >= count || Date.now() > deadline) return rows.map((r) => r.id);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

try {
  await main();
} catch (error) {
  console.error(`siaga112 demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
