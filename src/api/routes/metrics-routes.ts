import type { FastifyInstance } from 'fastify';

/** A Prometheus registry, as far as the route needs one (prom-client's `Registry` is one). */
export interface MetricsRoutesDeps {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/** `GET /metrics`: this instance's metrics in the Prometheus text format. */
export async function metricsRoutes(app: FastifyInstance, registry: MetricsRoutesDeps): Promise<void> {
  app.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
}
