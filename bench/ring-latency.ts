/**
 * Time to a human, the part siaga112 controls: from a clean caller's channel appearing in
 * Asterisk to the first free call taker's phone being rung, with the emulator in its own process
 * (as Asterisk is). Real Asterisk with a bare ARI app that answers and originates at once:
 * p50 3–4 ms on the machine OBSERVED.md describes.
 *
 *   npm run bench:ring [-- --calls 300 --spacing 50]
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createApiKeyRepository } from '../src/auth/api-keys.ts';
import { loadConfig } from '../src/config.ts';
import { resolveLocalServices } from '../src/dev/local-services.ts';
import { deleteRedisPrefix } from '../src/dev/redis-prefix.ts';
import { createLogger } from '../src/logger.ts';
import { createDatabase } from '../src/records/database.ts';
import { migrateToLatest } from '../src/records/migrator.ts';
import { createTakerRepository } from '../src/records/taker-repository.ts';
import { startService } from '../src/service.ts';

const { values } = parseArgs({
  options: { calls: { type: 'string', default: '300' }, spacing: { type: 'string', default: '50' } },
});
const CALLS = Number(values.calls);
const TAKERS = 20;

const services = await resolveLocalServices();
const databaseUrl = await services.createDatabase(`bench_ring_${randomBytes(4).toString('hex')}`);
const db = createDatabase(databaseUrl, { maxConnections: 2 });
await migrateToLatest(db);
await createTakerRepository(db).seedDemoTakers(TAKERS);
// Taker log-ons go through the API, which wants a key (issue #6).
const { key } = await createApiKeyRepository(db).create({ name: 'bench', role: 'admin', createdBy: 'bench' });

const password = randomBytes(12).toString('hex');
const child = fork(fileURLToPath(new URL('./emulator-process.ts', import.meta.url)), [], {
  execPath: process.execPath,
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const next = <T>(kind: string) =>
  new Promise<T>((resolve) => {
    const onMessage = (message: { kind: string }) => {
      if (message.kind !== kind) return;
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
  });
child.send({ kind: 'start', password, takers: TAKERS });
const { url } = await next<{ url: string }>('ready');

const prefix = `siaga112-bench-${randomBytes(4).toString('hex')}`;
const config = loadConfig({
  ARI_URL: url,
  ARI_USERNAME: 'siaga112',
  ARI_PASSWORD: password,
  DATABASE_URL: databaseUrl,
  REDIS_URL: services.redis.url,
  REDIS_KEY_PREFIX: prefix,
  HTTP_PORT: '0',
  LOG_LEVEL: 'silent',
  WRAP_UP_SECONDS: '0',
});
const service = await startService(config, createLogger('silent'));
try {
  await service.ari.waitUntilConnected(10_000);
  await service.databaseReady;
  for (let i = 1; i <= TAKERS; i++) {
    const reply = await service.app.inject({
      method: 'PUT',
      url: `/takers/taker${i}/state`,
      headers: { authorization: `Bearer ${key}` },
      payload: { state: 'available' },
    });
    if (reply.statusCode !== 200)
      throw new Error(`taker${i} could not log on: ${reply.statusCode} ${reply.body}`);
  }
  child.send({ kind: 'run', calls: CALLS, spacingMs: Number(values.spacing) });
  const { ring } = await next<{ ring: number[] }>('result');
  const sorted = [...ring].sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(2);
  console.log(`${ring.length} clean callers, ${TAKERS} free takers, emulator in its own process`);
  console.log(
    `caller's channel -> free taker's phone rung: p50 ${pct(50)} ms  p90 ${pct(90)} ms  p99 ${pct(99)} ms`,
  );
} finally {
  await service.close();
  await db.destroy();
  await deleteRedisPrefix(services.redis.url, prefix);
  await services.stop();
}
