import type { TestProject } from 'vitest/node';
import './provided-context.ts';
import { redactUrl, resolveTestServices } from '../../src/dev/local-services.ts';

/**
 * Finds (or starts) PostgreSQL and Redis once for the whole run and hands their URLs to the
 * tests; whatever it started is stopped by the returned teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await resolveTestServices();
  console.info(
    `siaga112 tests: postgres from ${services.postgres.source} (${redactUrl(services.postgres.url)}), ` +
      `redis from ${services.redis.source} (${redactUrl(services.redis.url)})`,
  );
  project.provide('postgresUrl', services.postgres.url);
  project.provide('redisUrl', services.redis.url);
  return () => services.stop();
}
