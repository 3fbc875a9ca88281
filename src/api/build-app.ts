import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { accessFor } from '../auth/access-policy.ts';
import type { Logger } from '../logger.ts';
import { type AuthDeps, registerAuth } from './auth-plugin.ts';
import { frameworkProblem, registerProblemHandler } from './problem.ts';
import { type CallRoutesDeps, callRoutes } from './routes/call-routes.ts';
import { type CallbackRoutesDeps, callbackRoutes } from './routes/callback-routes.ts';
import { type DeskRoutesDeps, deskRoutes } from './routes/desk-routes.ts';
import { healthRoutes, type ReadinessCheck } from './routes/health-routes.ts';
import { type ListRoutesDeps, listRoutes } from './routes/list-routes.ts';
import { type LiveRoutesDeps, liveRoutes } from './routes/live-routes.ts';
import { type MetricsRoutesDeps, metricsRoutes } from './routes/metrics-routes.ts';
import { type RecordRoutesDeps, recordRoutes } from './routes/record-routes.ts';
import { type RecordingRoutesDeps, recordingRoutes } from './routes/recording-routes.ts';
import { type RuleRoutesDeps, ruleRoutes } from './routes/rule-routes.ts';
import { type TakerDirectoryDeps, takerDirectoryRoutes } from './routes/taker-directory-routes.ts';
import { type TakerRoutesDeps, takerRoutes } from './routes/taker-routes.ts';
import { type WallboardRoutesDeps, wallboardRoutes } from './routes/wallboard-routes.ts';
import { documentCommonProblems, SECURITY_SCHEMES } from './schemas.ts';

export interface AppDeps {
  logger: Logger;
  /** API keys and roles; every route but health and the docs needs a key. */
  auth: AuthDeps;
  readiness: Record<string, ReadinessCheck>;
  takers: TakerRoutesDeps;
  live: LiveRoutesDeps;
  calls: CallRoutesDeps;
  lists: ListRoutesDeps;
  rules: RuleRoutesDeps;
  callbacks: CallbackRoutesDeps;
  desk: DeskRoutesDeps;
  records: RecordRoutesDeps;
  /** Call recordings: listing, audited playback, legal holds, the police export. */
  recordings: RecordingRoutesDeps;
  takerDirectory: TakerDirectoryDeps;
  /** This instance's Prometheus registry, served at `/metrics`. */
  metrics: MetricsRoutesDeps;
  /** The supervisor wallboard at `/wallboard`. */
  wallboard: WallboardRoutesDeps;
  /** Reverse proxies whose `X-Forwarded-For` gives the client address (`TRUST_PROXY`). */
  trustProxy?: false | number | readonly string[];
}

/** A hop count becomes "trust the nearest n hops" (what fastify does with a number at run time). */
function trustedProxies(
  trust: false | number | readonly string[],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return [...trust];
}

/** The HTTP API, ready for `inject()` in tests or `listen()` in main; it never listens itself. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // pino's Logger is Fastify's logger; the types differ only in generics.
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // The client's address limits failed logins and goes to the audit log: behind a proxy it is
    // the forwarded one, but only from proxies named in the configuration.
    trustProxy: trustedProxies(deps.trustProxy ?? false),
    frameworkErrors: frameworkProblem,
    // One line per request would drown the call log; errors are still logged by the handler.
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerProblemHandler(app);
  registerAuth(app, deps.auth);
  documentCommonProblems(app, (method, url) => {
    const access = accessFor(method, url);
    return 'public' in access ? 'public' : access.session ? 'key-or-session' : 'key';
  });
  // Every route's schemas become the OpenAPI document: /openapi.json, browsable at /docs.
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'siaga112',
        version: '0.1.0',
        description:
          'Call handling for 112: call takers, screening rules and lists, live state, callbacks. ' +
          'Errors are RFC 9457 application/problem+json naming the offending field.',
      },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(async (scope) => healthRoutes(scope, deps.readiness));
  await app.register(async (scope) => takerRoutes(scope, deps.takers));
  await app.register(async (scope) => liveRoutes(scope, deps.live));
  await app.register(async (scope) => callRoutes(scope, deps.calls));
  await app.register(async (scope) => listRoutes(scope, deps.lists));
  await app.register(async (scope) => ruleRoutes(scope, deps.rules));
  await app.register(async (scope) => callbackRoutes(scope, deps.callbacks));
  await app.register(async (scope) => deskRoutes(scope, deps.desk));
  await app.register(async (scope) => recordRoutes(scope, deps.records));
  await app.register(async (scope) => recordingRoutes(scope, deps.recordings));
  await app.register(async (scope) => takerDirectoryRoutes(scope, deps.takerDirectory));
  await app.register(async (scope) => metricsRoutes(scope, deps.metrics));
  await app.register(async (scope) => wallboardRoutes(scope, deps.wallboard));
  return app;
}
