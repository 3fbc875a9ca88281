import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

/** A dependency the service needs to take calls, and how to check it quickly. */
export type ReadinessCheck = () => Promise<boolean>;

const Health = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Record(Type.String(), Type.Boolean()),
});

/** `/health`: the process is alive. `/ready`: ARI, Redis and Postgres all answer (else 503). */
export async function healthRoutes(
  app: FastifyInstance,
  checks: Record<string, ReadinessCheck>,
): Promise<void> {
  app.get('/health', { schema: { response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get('/ready', { schema: { response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => [name, await check().catch(() => false)] as const),
    );
    const result = Object.fromEntries(entries);
    const ready = entries.every(([, ok]) => ok);
    return reply.status(ready ? 200 : 503).send({ ready, checks: result });
  });
}
