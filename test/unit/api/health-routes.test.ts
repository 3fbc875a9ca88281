import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { advisory, healthRoutes, type ReadinessCheck } from '../../../src/api/routes/health-routes.ts';

async function ready(checks: Record<string, ReadinessCheck>) {
  const app = Fastify();
  await app.register(async (scope) => healthRoutes(scope, checks));
  const reply = await app.inject({ method: 'GET', url: '/ready' });
  await app.close();
  return { status: reply.statusCode, body: reply.json() };
}

describe('/ready', () => {
  it('stays ready when only an advisory check fails, and names it in degraded', async () => {
    expect(
      await ready({
        ari: async () => true,
        ami: advisory(async () => false),
        'trunk:telkomsel': advisory(async () => {
          throw new Error('not known');
        }),
        'trunk:indosat': advisory(async () => true),
      }),
    ).toEqual({
      status: 200,
      body: {
        ready: true,
        checks: { ari: true, ami: false, 'trunk:telkomsel': false, 'trunk:indosat': true },
        degraded: ['ami', 'trunk:telkomsel'],
      },
    });
  });

  it('is not ready when a required check fails or throws', async () => {
    expect(
      await ready({
        ari: async () => false,
        redis: async () => {
          throw new Error('away');
        },
        ami: advisory(async () => true),
      }),
    ).toEqual({
      status: 503,
      body: { ready: false, checks: { ari: false, redis: false, ami: true }, degraded: [] },
    });
  });
});
