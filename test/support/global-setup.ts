import type { TestProject } from 'vitest/node';
import './provided-context.ts';
import { redactUrl, resolveTestServices } from '../../src/dev/local-services.ts';
import { createMigratedTemplate } from './test-database.ts';

/**
 * Finds (or starts) PostgreSQL and Redis once for the whole run and hands their URLs to the
 * tests; whatever it started is stopped by the returned teardown. It also migrates one template
 * database that every test's migrated database is copied from (a copy is one statement; running
 * every migration again for each of the run's hundred-odd databases is not).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const services = await resolveTestServices();
  console.info(
    `siaga112 tests: postgres from ${services.postgres.source} (${redactUrl(services.postgres.url)}), ` +
      `redis from ${services.redis.source} (${redactUrl(services.redis.url)})`,
  );
  let template: Awaited<ReturnType<typeof createMigratedTemplate>>;
  try {
    template = await createMigratedTemplate(services.postgres.url);
  } catch (error) {
    await services.stop();
    throw error;
  }
  project.provide('postgresUrl', services.postgres.url);
  project.provide('postgresTemplate', template.name);
  project.provide('redisUrl', services.redis.url);
  return async () => {
    try {
      await template.drop();
    } finally {
      await services.stop();
    }
  };
}
