import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';

/** A dependency the service needs to take calls, and how to check it quickly. */
export type RequiredCheck = () => Promise<boolean>;

/**
 * Something watched but not needed to take calls: when it fails the instance stays ready and
 * says it is degraded. AMI is one: ARI carries every call, AMI is a second witness of softphone
 * presence and watches the trunks; taking an instance out of service for it would drop nothing
 * but the calls it could still handle.
 */
export interface AdvisoryCheck {
  readonly advisory: () => Promise<boolean>;
}

export type ReadinessCheck = RequiredCheck | AdvisoryCheck;

/** Wraps a check as advisory: reported in `checks` and `degraded`, never failing `/ready`. */
export const advisory = (check: () => Promise<boolean>): AdvisoryCheck => ({ advisory: check });

const Health = Type.Object({ status: Type.Literal('ok') });
const Readiness = Type.Object({
  ready: Type.Boolean({ description: 'every required check passed (200); else 503' }),
  checks: Type.Record(Type.String(), Type.Boolean(), { description: 'every check by name, required or not' }),
  degraded: Type.Array(Type.String(), {
    description: 'advisory checks that failed (e.g. ami, trunk:telkomsel): calls are still taken',
  }),
});

/**
 * `/health`: the process is alive. `/ready`: ARI, Redis and Postgres all answer (else 503);
 * advisory checks (AMI, trunks) are reported beside them and listed in `degraded` when failing.
 */
export async function healthRoutes(
  app: FastifyInstance,
  checks: Record<string, ReadinessCheck>,
): Promise<void> {
  app.get('/health', { schema: { response: { 200: Health } } }, async () => ({ status: 'ok' as const }));

  app.get('/ready', { schema: { response: { 200: Readiness, 503: Readiness } } }, async (_request, reply) => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const required = typeof check === 'function';
        const ok = await (required ? check() : check.advisory()).catch(() => false);
        return { name, required, ok };
      }),
    );
    const result = Object.fromEntries(entries.map(({ name, ok }) => [name, ok]));
    const ready = entries.every(({ required, ok }) => ok || !required);
    const degraded = entries.filter(({ required, ok }) => !required && !ok).map(({ name }) => name);
    return reply.status(ready ? 200 : 503).send({ ready, checks: result, degraded });
  });
}
