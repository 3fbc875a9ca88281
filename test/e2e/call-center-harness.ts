import { randomBytes } from 'node:crypto';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { createApiKeyRepository, type Role } from '../../src/auth/api-keys.ts';
import { loadConfig } from '../../src/config.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../src/emulator/asterisk-emulator.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { createCallRepository } from '../../src/records/call-repository.ts';
import { createTakerRepository } from '../../src/records/taker-repository.ts';
import { type Service, type ServiceOptions, startService } from '../../src/service.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { cleanupRedisPrefix, testRedisPrefix, testRedisUrl } from '../support/test-redis.ts';

export const GREETING = 'sound:siaga112/greeting';

export interface CallCenterUnderTest {
  emulator: AsteriskEmulator;
  database: TestDatabase;
  redisPrefix: string;
  env: Record<string, string>;
  service: Service;
  calls: ReturnType<typeof createCallRepository>;
  /** An admin API key; `service.app.inject` sends it unless a test sets its own authorization. */
  adminKey: string;
  /** A new API key with `role` (a call taker's names its taker). */
  createKey(role: Role, takerId?: string): Promise<string>;
  /** How many times each channel entered a bridge with another channel (however briefly). */
  bridgeEntries: ReadonlyMap<string, number>;
  /** Starts another service process-equivalent on the same Redis, Postgres and Asterisk. */
  startAnotherService(overrides?: Record<string, string>): Promise<Service>;
  /** Marks a seeded taker available through the REST API, as a call taker's desk would. */
  makeAvailable(takerId: string, service?: Service): Promise<void>;
  close(): Promise<void>;
}

/**
 * The real service against the emulator over real sockets, real Postgres (a fresh database)
 * and real Redis (a fresh key prefix). `takers` seeds taker1..N in Postgres.
 */
export async function startCallCenter(
  options: {
    takers?: number;
    databaseUrl?: (url: string) => string;
    env?: Record<string, string>;
    service?: ServiceOptions;
    /** Also serve AMI from the emulator and point the service at it. */
    ami?: boolean;
    /** The services' logger (a test reading what was logged); default: LOG_LEVEL on stdout. */
    logger?: Logger;
  } = {},
): Promise<CallCenterUnderTest> {
  const password = randomBytes(12).toString('hex');
  const emulator = await startAsteriskEmulator({
    username: 'siaga112',
    password,
    sounds: {
      [GREETING]: 400,
      'sound:siaga112/misuse-warning': 300,
      'sound:siaga112/lebaran-warning': 300,
      'sound:siaga112/press-5-twice': 300,
      'sound:siaga112/silent-press-5': 300,
    },
    ...(options.ami ? { ami: { username: 'siaga112', secret: password } } : {}),
  });
  // A short conversation can be over before a poll sees it: remember every bridged pair.
  const bridgeEntries = new Map<string, number>();
  emulator.on('event', ({ event }) => {
    const channels = (event.bridge as { channels?: string[] } | undefined)?.channels ?? [];
    const entered = (event.channel as { id?: string } | undefined)?.id;
    if (event.type === 'ChannelEnteredBridge' && channels.length >= 2 && entered) {
      // The channel that entered is now with someone, and so is a member that was alone before.
      const joined = channels.length === 2 ? channels : [entered];
      for (const id of joined) bridgeEntries.set(id, (bridgeEntries.get(id) ?? 0) + 1);
    }
  });
  const database = await createTestDatabase();
  const redisPrefix = testRedisPrefix('e2e');
  await createTakerRepository(database.db).seedDemoTakers(options.takers ?? 2);
  const env = {
    ARI_URL: emulator.url,
    ARI_USERNAME: 'siaga112',
    ARI_PASSWORD: password,
    DATABASE_URL: options.databaseUrl ? options.databaseUrl(database.url) : database.url,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: redisPrefix,
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.SIAGA_TEST_LOG_LEVEL ?? 'silent',
    GREETING_MEDIA: GREETING,
    ...(emulator.ami
      ? { AMI_URL: `ami://siaga112:${password}@${emulator.ami.host}:${emulator.ami.port}` }
      : {}),
    RING_TIMEOUT_SECONDS: '2',
    // Tests that are about wrap-up, announcements or overflow turn them on themselves.
    WRAP_UP_SECONDS: '0',
    ANNOUNCE_INTERVAL_SECONDS: '0',
    SILENCE_WINDOW_SECONDS: '0',
    // The service reads the files Asterisk writes: the emulator's recording directory.
    RECORDINGS_DIR: emulator.recordingsDir,
    ...options.env,
  };
  const keys = createApiKeyRepository(database.db);
  const createKey = async (role: Role, takerId?: string) =>
    (await keys.create({ name: `test ${role}`, role, takerId: takerId ?? null, createdBy: 'test' })).key;
  const adminKey = await createKey('admin');
  const services: Service[] = [];
  const start = async (overrides: Record<string, string> = {}) => {
    const config = loadConfig({ SIAGA_INSTANCE_ID: `instance-${services.length + 1}`, ...env, ...overrides });
    const logger = options.logger ?? createLogger(config.logLevel);
    const service = await startService(config, logger, options.service);
    actAsAdmin(service, adminKey);
    services.push(service);
    // A standby instance holds no events socket until it takes the lease over.
    if (service.lease.leading) await service.ari.waitUntilConnected(10_000);
    return service;
  };
  const service = await start();
  return {
    emulator,
    adminKey,
    createKey,
    bridgeEntries,
    database,
    redisPrefix,
    env,
    service,
    calls: createCallRepository(database.db),
    startAnotherService: start,
    makeAvailable: async (takerId, via = service) => {
      const reply = await via.app.inject({
        method: 'PUT',
        url: `/takers/${takerId}/state`,
        payload: { state: 'available' },
      });
      expect(reply.statusCode, reply.body).toBe(200);
    },
    close: async () => {
      for (const s of services) await s.close();
      await emulator.stop();
      await database.destroy();
      await cleanupRedisPrefix(redisPrefix);
    },
  };
}

/** Polls until `check` passes (it throws, or returns false or undefined, until then); every wait ends. */
export async function eventually<T>(
  check: () => Promise<T> | T,
  what: string,
  timeoutMs = 10_000,
): Promise<Exclude<T, false | undefined | null>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      // null is "not yet" too: a record column still empty must not end the wait.
      if (result !== false && result !== undefined && result !== null) {
        return result as Exclude<T, false | undefined | null>;
      }
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Most tests are about what a route does, not who may call it: their `inject` calls act as an
 * admin. A test about access sets its own `authorization` header, which wins.
 */
function actAsAdmin(service: Service, adminKey: string): void {
  const app = service.app;
  const inject = app.inject.bind(app) as (options: InjectOptions) => Promise<LightMyRequestResponse>;
  app.inject = ((options: InjectOptions | string) => {
    const request = typeof options === 'string' ? { url: options } : options;
    return inject({ ...request, headers: { authorization: `Bearer ${adminKey}`, ...request.headers } });
  }) as typeof app.inject;
}

/**
 * Waits until the caller's channel is (or has been) in a bridge with another channel: a person on
 * the line. `again`: a bridging that happens from now on (the call was bridged before).
 */
export async function untilBridged(
  c: CallCenterUnderTest,
  call: { channelId: string },
  what = 'the caller bridged',
  { again = false }: { again?: boolean } = {},
): Promise<void> {
  const before = again ? (c.bridgeEntries.get(call.channelId) ?? 0) : 0;
  await eventually(() => (c.bridgeEntries.get(call.channelId) ?? 0) > before, what);
}
