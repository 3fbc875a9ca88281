/**
 * Finds a PostgreSQL server and a Redis server for the test run and the demo, on a developer's
 * machine. Each strategy is one small function that either returns a running service or
 * `undefined` (not available here); the chain in `resolveTestServices` tries them in order for
 * each service independently. Development tooling only: the service itself takes its URLs from
 * config.
 *
 * In tests this runs in vitest's main process (global setup), never inside a test worker.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

export type ServiceKind = 'postgres' | 'redis';

/** Where a service came from, for the one log line of the global setup. */
export type ServiceSource = 'env' | 'local server' | 'testcontainers' | 'private binaries';

export interface RunningService {
  readonly kind: ServiceKind;
  /** Postgres: an admin-capable server URL (may create databases). Redis: a redis:// URL. */
  readonly url: string;
  readonly source: ServiceSource;
  /** Stops what this strategy started; a no-op for servers we merely found. */
  stop(): Promise<void>;
}

export interface TestServices {
  readonly postgres: RunningService;
  readonly redis: RunningService;
  stop(): Promise<void>;
}

export const MISSING_SERVICES_MESSAGE =
  'siaga112 needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL, or start local servers, ' +
  'or install Docker, or install the postgresql and redis-server packages (apt-get install postgresql redis-server)';

const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const LOCAL_REDIS_URL = 'redis://127.0.0.1:6379';
const PROBE_TIMEOUT_MS = 2_000;
const START_TIMEOUT_MS = 30_000;

const found = (kind: ServiceKind, url: string, source: ServiceSource): RunningService => ({
  kind,
  url,
  source,
  stop: async () => {},
});

// ---------------------------------------------------------------------------------------------
// Probes: does a server answer at this URL?

/** True when a Postgres server accepts a login at `url` and answers a query. */
export async function postgresAnswers(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when a Redis server at `url` answers PING (spoken raw, so no client retries muddle it). */
export async function redisAnswers(url: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const { hostname, port, password, username } = new URL(url);
  const auth = password
    ? `AUTH ${decodeURIComponent(username || 'default')} ${decodeURIComponent(password)}\r\n`
    : '';
  const reply = await exchange(
    { host: hostname.replace(/^\[|\]$/g, ''), port: Number(port || 6379) },
    `${auth}PING\r\n`,
    timeoutMs,
  );
  return reply?.includes('+PONG') ?? false;
}

/** Sends `request` and returns what arrived before the peer closed or `timeoutMs` passed. */
function exchange(
  target: { host: string; port: number } | { path: string },
  request: string,
  timeoutMs: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let received = '';
    const socket: Socket = connect(target);
    const done = (value: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(received || undefined), timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.includes('+PONG') || received.includes('\r\n\r\n')) done(received);
    });
    socket.on('error', () => done(undefined));
    socket.on('close', () => done(received || undefined));
  });
}

// ---------------------------------------------------------------------------------------------
// Strategy 1: the environment.

export function fromEnvironment(
  kind: ServiceKind,
  env: Readonly<Record<string, string | undefined>> = process.env,
): RunningService | undefined {
  const url = env[kind === 'postgres' ? 'DATABASE_URL' : 'REDIS_URL'];
  return url ? found(kind, url, 'env') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Strategy 2: a server already running on this machine at its standard port.

export async function fromLocalServer(kind: ServiceKind): Promise<RunningService | undefined> {
  const url = kind === 'postgres' ? LOCAL_POSTGRES_URL : LOCAL_REDIS_URL;
  const answers = kind === 'postgres' ? await postgresAnswers(url) : await redisAnswers(url);
  return answers ? found(kind, url, 'local server') : undefined;
}

// ---------------------------------------------------------------------------------------------
// Strategy 3: testcontainers, only when a Docker engine answers (checked cheaply first, because
// testcontainers itself takes a long time to give up when there is none).

export async function dockerEngineAnswers(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<boolean> {
  const host = env.DOCKER_HOST;
  let target: { host: string; port: number } | { path: string };
  if (host?.startsWith('tcp://')) {
    const parsed = new URL(host);
    target = { host: parsed.hostname, port: Number(parsed.port || 2375) };
  } else if (host?.startsWith('unix://')) {
    target = { path: host.slice('unix://'.length) };
  } else if (host) {
    return false;
  } else {
    if (!existsSync('/var/run/docker.sock')) return false;
    target = { path: '/var/run/docker.sock' };
  }
  const reply = await exchange(target, 'GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n', PROBE_TIMEOUT_MS);
  return reply?.startsWith('HTTP/1.') ?? false;
}

export async function fromTestcontainers(kind: ServiceKind): Promise<RunningService | undefined> {
  if (!(await dockerEngineAnswers())) return undefined;
  const { GenericContainer, Wait } = await import('testcontainers');
  if (kind === 'postgres') {
    const container = await new GenericContainer('postgres:17-alpine')
      .withEnvironment({ POSTGRES_PASSWORD: 'postgres', POSTGRES_HOST_AUTH_METHOD: 'trust' })
      .withExposedPorts(5432)
      .withCommand(['postgres', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'])
      // The image restarts the server once after initialising, hence the second "ready".
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    const url = `postgres://postgres:postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
    return { kind, url, source: 'testcontainers', stop: async () => void (await container.stop()) };
  }
  const container = await new GenericContainer('redis:7-alpine')
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start();
  const url = `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
  return { kind, url, source: 'testcontainers', stop: async () => void (await container.stop()) };
}

// ---------------------------------------------------------------------------------------------
// Strategy 4: the server binaries, started privately on free ports in a temporary directory.

/** Directories that may hold the PostgreSQL server binaries, newest Debian version first. */
function postgresBinDirs(env: Readonly<Record<string, string | undefined>>): string[] {
  const fromPath = (env.PATH ?? '').split(delimiter).filter(Boolean);
  const debian = '/usr/lib/postgresql';
  const versions = existsSync(debian)
    ? readdirSync(debian)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => join(debian, v, 'bin'))
    : [];
  return [...fromPath, ...versions];
}

/** Finds `initdb` and `postgres` side by side (they must be the same version). */
export function findPostgresBinaries(
  env: Readonly<Record<string, string | undefined>> = process.env,
): { initdb: string; postgres: string } | undefined {
  for (const dir of postgresBinDirs(env)) {
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (existsSync(initdb) && existsSync(postgres)) return { initdb, postgres };
  }
  return undefined;
}

export function findRedisServer(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'redis-server');
    if (existsSync(candidate)) return candidate;
  }
  return ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));
}

/** A port nobody listens on right now (the OS picks it; we release it for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * initdb refuses to run as root, so as root we run it (and the server) as an unprivileged
 * account: `setpriv` execs in place, so signals reach postgres itself rather than a wrapper.
 */
async function unprivilegedAccount(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = await readFile('/etc/passwd', 'utf8');
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.split('\n').find((l) => l.startsWith(`${name}:`));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error('running as root and found no postgres or nobody account to run PostgreSQL as');
}

function asAccount(
  account: { uid: number; gid: number } | undefined,
  command: string,
  args: string[],
): [string, string[]] {
  if (!account) return [command, args];
  return [
    'setpriv',
    [`--reuid=${account.uid}`, `--regid=${account.gid}`, '--clear-groups', '--', command, ...args],
  ];
}

async function waitFor(what: string, child: ChildProcess, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before accepting connections`);
    }
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not accept connections within ${START_TIMEOUT_MS / 1000} s`);
}

/** Stops a server we started: the polite signal first, SIGKILL if it lingers. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Collects a child's output so a failed start can say why. */
function captureOutput(child: ChildProcess): () => string {
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => output.trim();
}

export async function startPrivatePostgres(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<RunningService | undefined> {
  const binaries = findPostgresBinaries(env);
  if (!binaries) return undefined;
  const account = await unprivilegedAccount();
  const dir = await mkdtemp(join(tmpdir(), 'siaga112-pg-'));
  const data = join(dir, 'data');
  try {
    await mkdir(data, { mode: 0o700 });
    if (account) {
      await chown(dir, account.uid, account.gid);
      await chown(data, account.uid, account.gid);
    }
    const [initdb, initdbArgs] = asAccount(account, binaries.initdb, [
      '--pgdata',
      data,
      '--username',
      'postgres',
      '--auth',
      'trust',
      '--encoding',
      'UTF8',
      '--locale',
      'C',
      '--no-sync',
      '--no-instructions',
    ]);
    await promisify(execFile)(initdb, initdbArgs, { cwd: dir });
    const port = await freePort();
    const [postgres, postgresArgs] = asAccount(account, binaries.postgres, [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${dir}`,
      // Throwaway data: durability buys nothing here and costs time.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
    ]);
    const child = spawn(postgres, postgresArgs, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const output = captureOutput(child);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    try {
      await waitFor('postgres', child, () => postgresAnswers(url, 1_000));
    } catch (error) {
      await stopChild(child, 'SIGKILL');
      throw new Error(`${(error as Error).message}: ${output()}`);
    }
    return {
      kind: 'postgres',
      url,
      source: 'private binaries',
      stop: async () => {
        // SIGINT is PostgreSQL's "fast shutdown": disconnect clients, stop now.
        await stopChild(child, 'SIGINT');
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

export async function startPrivateRedis(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<RunningService | undefined> {
  const binary = findRedisServer(env);
  if (!binary) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'siaga112-redis-'));
  const port = await freePort();
  const child = spawn(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output = captureOutput(child);
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor('redis-server', child, () => redisAnswers(url, 1_000));
  } catch (error) {
    await stopChild(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(error as Error).message}: ${output()}`);
  }
  return {
    kind: 'redis',
    url,
    source: 'private binaries',
    stop: async () => {
      await stopChild(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function fromPrivateBinaries(kind: ServiceKind): Promise<RunningService | undefined> {
  return kind === 'postgres' ? startPrivatePostgres() : startPrivateRedis();
}

// ---------------------------------------------------------------------------------------------
// The chain.

export type ServiceStrategy = (
  kind: ServiceKind,
) => RunningService | undefined | Promise<RunningService | undefined>;

/** In order: the environment, a local server, testcontainers, private binaries. */
export const STRATEGIES: readonly ServiceStrategy[] = [
  (kind) => fromEnvironment(kind),
  fromLocalServer,
  fromTestcontainers,
  fromPrivateBinaries,
];

export async function resolveService(
  kind: ServiceKind,
  strategies: readonly ServiceStrategy[] = STRATEGIES,
): Promise<RunningService | undefined> {
  for (const strategy of strategies) {
    const service = await strategy(kind);
    if (service) return service;
  }
  return undefined;
}

/** Resolves both services or throws the one-line explanation of what the tests need. */
export async function resolveTestServices(
  strategies: readonly ServiceStrategy[] = STRATEGIES,
): Promise<TestServices> {
  const postgres = await resolveService('postgres', strategies);
  const redis = postgres ? await resolveService('redis', strategies) : undefined;
  if (!postgres || !redis) {
    await postgres?.stop();
    throw new Error(MISSING_SERVICES_MESSAGE);
  }
  return {
    postgres,
    redis,
    stop: async () => {
      await Promise.allSettled([postgres.stop(), redis.stop()]);
    },
  };
}

/** The URL without its password, for logs. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** For the demo: the services, plus a fresh database on the PostgreSQL server, dropped at stop. */
export interface LocalServices extends TestServices {
  /** Creates database `name` (letters, digits, underscores) and returns its URL. */
  createDatabase(name: string): Promise<string>;
}

export async function resolveLocalServices(): Promise<LocalServices> {
  const services = await resolveTestServices();
  const created: string[] = [];
  const onServer = async (sql: string) => {
    const client = new pg.Client({ connectionString: services.postgres.url });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    ...services,
    createDatabase: async (name) => {
      if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`unsafe database name ${JSON.stringify(name)}`);
      await onServer(`create database "${name}"`);
      created.push(name);
      const url = new URL(services.postgres.url);
      url.pathname = `/${name}`;
      return url.toString();
    },
    stop: async () => {
      for (const name of created.splice(0)) {
        await onServer(`drop database if exists "${name}" with (force)`).catch(() => {});
      }
      await services.stop();
    },
  };
}
