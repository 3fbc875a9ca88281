/**
 * One siaga112 process, or two on one Redis, each in its own child process, on a fresh database
 * and Redis prefix (removed by the benchmark's cleanup), with every call taker logged on through
 * the HTTP API the way a desk does it.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createApiKeyRepository } from '../src/auth/api-keys.ts';
import type { LocalServices } from '../src/dev/local-services.ts';
import { deleteRedisPrefix } from '../src/dev/redis-prefix.ts';
import { createDatabase } from '../src/records/database.ts';
import { migrateToLatest } from '../src/records/migrator.ts';
import { createTakerRepository } from '../src/records/taker-repository.ts';
import type { ServiceApi } from './bench-api.ts';
import type { BenchOptions } from './bench-options.ts';
import { type ChildClient, forkChild, stopChild } from './ipc.ts';
import { type RecordWatch, watchRecords } from './record-watch.ts';
import type { Probe } from './stage-runner.ts';

export const ARI_USER = 'siaga112';

export interface SiagaRun {
  readonly probes: Probe[];
  /** The processes themselves, for what the probes do not ask (the soak's verdicts, open handles). */
  readonly children: readonly ChildClient<ServiceApi, object>[];
  /** The run's own database and Redis prefix, and an admin key to its API. */
  readonly databaseUrl: string;
  readonly redisPrefix: string;
  readonly adminKey: string;
  readonly watch: RecordWatch;
  /**
   * With --profile: starts the processes' CPU profiles, or stops them and writes
   * `<dir>/<stage>-<process>.cpuprofile`.
   */
  profile(action: 'start' | 'stop', stage?: string): Promise<void>;
  stop(): Promise<void>;
}

export interface SiagaContext {
  readonly services: LocalServices;
  readonly options: BenchOptions;
  /** The emulator's ARI URL and password, and where it writes call recordings. */
  readonly ariUrl: string;
  readonly password: string;
  readonly recordingsDir: string;
  /** Names this benchmark run's databases and Redis prefixes. */
  readonly runId: string;
  /** Taker phones, `PJSIP/taker1`…: each is a call taker in the database. */
  readonly endpoints: readonly string[];
  /** Registers what the benchmark must undo whatever happens. */
  onCleanup(step: () => Promise<unknown>): void;
  log(message: string): void;
}

/** One siaga112 (or two on one Redis) on a fresh database and Redis prefix, takers logged on. */
export async function startSiaga(context: SiagaContext, count: number, label: string): Promise<SiagaRun> {
  const { services, options, runId, endpoints, password, log } = context;
  const databaseUrl = await services.createDatabase(`bench_${runId}_${label}`);
  const db = createDatabase(databaseUrl, { maxConnections: 2 });
  await migrateToLatest(db);
  await createTakerRepository(db).seedDemoTakers(options.takers);
  const { key } = await createApiKeyRepository(db).create({
    name: 'benchmark',
    role: 'admin',
    createdBy: 'bench',
  });
  await db.destroy();
  const watch = await watchRecords(databaseUrl);
  context.onCleanup(() => watch.close());
  const prefix = `siaga112-bench-${runId}-${label}`;
  context.onCleanup(() => deleteRedisPrefix(services.redis.url, prefix));
  const children: ChildClient<ServiceApi, object>[] = [];
  for (let i = 0; i < count; i++) {
    const child = forkChild<ServiceApi, object>(`siaga112-${i + 1}`, './service-process.ts');
    children.push(child);
    context.onCleanup(() => stopChild(child, log));
    const { leading } = await child.request(
      'start',
      {
        env: {
          SIAGA_INSTANCE_ID: `${prefix}-${i + 1}`,
          ARI_URL: context.ariUrl,
          ARI_USERNAME: ARI_USER,
          ARI_PASSWORD: password,
          DATABASE_URL: databaseUrl,
          REDIS_URL: services.redis.url,
          REDIS_KEY_PREFIX: prefix,
          HTTP_PORT: '0',
          LOG_LEVEL: options.serviceLogLevel,
          WRAP_UP_SECONDS: '0',
          RECORDINGS_DIR: context.recordingsDir,
        },
        expectLeading: i === 0,
      },
      60_000,
    );
    if (leading !== (i === 0)) throw new Error(`siaga112-${i + 1}: expected leading=${i === 0}`);
  }
  const takerIds = endpoints.map((e) => e.slice('PJSIP/'.length));
  const { loggedOn } = await children[0]!.request('logOn', { takerIds, apiKey: key }, 300_000);
  if (loggedOn !== takerIds.length)
    throw new Error(`only ${loggedOn} of ${takerIds.length} takers logged on`);
  log(`siaga112 ×${count} (${label}) leading, ${loggedOn} takers available`);
  return {
    probes: children.map((child) => ({
      label: child.label,
      sample: (gc: boolean) => child.request('sample', { gc }),
      status: () => child.request('status', {}),
      logCounts: () => child.request('logCounts', {}),
    })),
    watch,
    children,
    databaseUrl,
    redisPrefix: prefix,
    adminKey: key,
    async profile(action, stage = label) {
      const dir = options.profileDir;
      if (!dir) return;
      await mkdir(dir, { recursive: true });
      await Promise.all(
        children.map((child, i) =>
          child.request(
            'profile',
            action === 'start' ? { action } : { action, file: join(dir, `${stage}-${i + 1}.cpuprofile`) },
            120_000,
          ),
        ),
      );
      if (action === 'stop') log(`  CPU profiles in ${dir}/${stage}-*.cpuprofile (bench/profile-summary.ts)`);
    },
    async stop() {
      for (const child of children) await stopChild(child, log);
      await watch.close();
    },
  };
}
