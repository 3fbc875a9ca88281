import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  dockerEngineAnswers,
  findPostgresBinaries,
  findRedisServer,
  freePort,
  fromEnvironment,
  MISSING_SERVICES_MESSAGE,
  postgresAnswers,
  type RunningService,
  redisAnswers,
  resolveTestServices,
  type ServiceKind,
  startPrivatePostgres,
  startPrivateRedis,
} from '../../../src/dev/local-services.ts';

const fake = (kind: ServiceKind, url: string): RunningService => ({
  kind,
  url,
  source: 'env',
  stop: async () => {},
});

describe('test services', () => {
  it('takes URLs from the environment first', () => {
    const env = { DATABASE_URL: 'postgres://db.example/x', REDIS_URL: 'redis://cache.example' };
    expect(fromEnvironment('postgres', env)?.url).toBe('postgres://db.example/x');
    expect(fromEnvironment('redis', env)?.url).toBe('redis://cache.example');
    expect(fromEnvironment('postgres', {})).toBeUndefined();
  });

  it('uses the first strategy that yields a service and asks no further', async () => {
    const asked: string[] = [];
    const services = await resolveTestServices([
      (kind) => {
        asked.push(`first:${kind}`);
        return undefined;
      },
      (kind) => {
        asked.push(`second:${kind}`);
        return fake(kind, `${kind}://second`);
      },
      (kind) => {
        asked.push(`third:${kind}`);
        return fake(kind, `${kind}://third`);
      },
    ]);
    expect([services.postgres.url, services.redis.url]).toEqual(['postgres://second', 'redis://second']);
    expect(asked).toEqual(['first:postgres', 'second:postgres', 'first:redis', 'second:redis']);
  });

  it('says in one line what is needed when nothing is available', async () => {
    let stopped = false;
    const error = await resolveTestServices([
      (kind) =>
        kind === 'postgres'
          ? {
              ...fake(kind, 'postgres://x'),
              stop: async () => {
                stopped = true;
              },
            }
          : undefined,
    ]).catch((e: unknown) => e);
    expect((error as Error).message).toBe(MISSING_SERVICES_MESSAGE);
    expect(MISSING_SERVICES_MESSAGE).not.toContain('\n');
    // What was started for the run is not left running.
    expect(stopped).toBe(true);
  });

  it('sees no Docker engine where none answers', async () => {
    const port = await freePort();
    expect(await dockerEngineAnswers({ DOCKER_HOST: `tcp://127.0.0.1:${port}` })).toBe(false);
    expect(await dockerEngineAnswers({ DOCKER_HOST: 'unix:///nonexistent/docker.sock' })).toBe(false);
  });

  it('starts PostgreSQL from its binaries on a free port (as root via an unprivileged account), and stops it', async (ctx) => {
    ctx.skip(!findPostgresBinaries(), 'initdb and postgres are not on PATH nor in /usr/lib/postgresql/*/bin');
    const service = await startPrivatePostgres();
    expect(service).toBeDefined();
    const url = service!.url;
    try {
      expect(service!.source).toBe('private binaries');
      expect(new URL(url).port).not.toBe('5432');
      // Admin-capable, as the test databases need.
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query('create database siaga112_private_check');
      const { rows } = await client.query<{ encoding: string }>(
        'select pg_encoding_to_char(encoding) as encoding from pg_database where datname = $1',
        ['siaga112_private_check'],
      );
      expect(rows[0]?.encoding).toBe('UTF8');
      await client.end();
    } finally {
      await service!.stop();
    }
    expect(await postgresAnswers(url, 500)).toBe(false);
  });

  it('starts redis-server from its binary on a free port, and stops it', async (ctx) => {
    ctx.skip(!findRedisServer(), 'redis-server is not on PATH nor in /usr/bin or /usr/local/bin');
    const service = await startPrivateRedis();
    expect(service).toBeDefined();
    const url = service!.url;
    try {
      expect(new URL(url).port).not.toBe('6379');
      expect(await redisAnswers(url)).toBe(true);
    } finally {
      await service!.stop();
    }
    expect(await redisAnswers(url, 500)).toBe(false);
  });
});
