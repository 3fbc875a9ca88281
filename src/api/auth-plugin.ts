import type { FastifyInstance, FastifyRequest } from 'fastify';
import { accessFor } from '../auth/access-policy.ts';
import type { ApiKeyRepository, Principal } from '../auth/api-keys.ts';
import { sessionToken } from '../auth/wallboard-sessions.ts';
import { ApiProblem } from './problem.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The key's holder, once authenticated (null on public routes). */
    principal: Principal | null;
  }
}

/** Checking keys and writing the audit log: the API-key repository's part; wallboard sessions. */
export type AuthDeps = Pick<ApiKeyRepository, 'verify' | 'audit'> & {
  /** The key holder of a wallboard session cookie; accepted only where the policy says `session`. */
  verifySession?: (token: string) => Promise<Principal | undefined>;
};

/** Failed authentications allowed per client address per window, before 429. */
const MAX_FAILURES = 10;
const FAILURE_WINDOW_MS = 60_000;

const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? request.url.split('?')[0] ?? '';

/**
 * API keys (`Authorization: Bearer <key>`) and roles on every route but health and docs; a call
 * taker's key acts only for its taker; an address that keeps presenting invalid keys gets 429;
 * every write a person makes goes to the audit log.
 */
export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  const failures = new Map<string, number[]>();
  const recentFailures = (ip: string, now: number) =>
    (failures.get(ip) ?? []).filter((at) => now - at < FAILURE_WINDOW_MS);

  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request, reply) => {
    const access = accessFor(request.method, routeOf(request));
    if ('public' in access) return;
    // The scheme is case-insensitive (RFC 9110 §11.1); the key is not.
    const match = /^Bearer +([A-Za-z0-9_-]{1,200})$/i.exec(request.headers.authorization ?? '');
    let principal = match ? await deps.verify(match[1] as string) : undefined;
    // Without a key header, the wallboard's routes take its session cookie (EventSource sends no header).
    const token = access.session && !request.headers.authorization && sessionToken(request.headers.cookie);
    if (token && deps.verifySession) principal = await deps.verifySession(token);
    if (!principal) {
      // Only failures are slowed down: a valid key always works, even from an address (a shared
      // NAT, a proxy) that someone else is failing from.
      const now = Date.now();
      const recent = recentFailures(request.ip, now);
      failures.set(request.ip, [...recent, now]);
      if (recent.length >= MAX_FAILURES) {
        reply.header('retry-after', String(Math.ceil(FAILURE_WINDOW_MS / 1000)));
        throw new ApiProblem(
          429,
          'too-many-failed-logins',
          'too many requests with an invalid API key; wait a minute',
        );
      }
      throw new ApiProblem(
        401,
        'unauthorized',
        `headers.authorization: a valid API key is required (Bearer <key>)${access.session ? ', or a wallboard session (POST /wallboard/session)' : ''}`,
      );
    }
    if (!access.roles.includes(principal.role)) {
      throw new ApiProblem(
        403,
        'forbidden',
        `the ${principal.role} role may not ${request.method} ${routeOf(request)}`,
      );
    }
    request.principal = principal;
  });

  // After validation: the taker a request acts for may be in its body.
  app.addHook('preHandler', async (request) => {
    const principal = request.principal;
    if (principal?.role !== 'call-taker') return;
    const access = accessFor(request.method, routeOf(request));
    if ('public' in access || !access.ownTaker) return;
    const params = request.params as Record<string, unknown> | undefined;
    const body = request.body as Record<string, unknown> | undefined;
    const takerId = params?.takerId ?? body?.takerId;
    if (takerId !== principal.takerId) {
      throw new ApiProblem(403, 'not-your-desk', `a call taker's key acts only for ${principal.takerId}`);
    }
  });

  // Before the answer leaves: a client told its change was made finds it in the audit log.
  app.addHook('onSend', async (request, reply, payload) => {
    const principal = request.principal;
    if (!principal || request.method === 'GET' || request.method === 'HEAD' || reply.statusCode >= 400) {
      return payload;
    }
    await deps
      .audit({
        principal,
        method: request.method,
        route: routeOf(request),
        url: request.url,
        status: reply.statusCode,
        body: request.body,
      })
      .catch((error: unknown) => request.log.error({ err: error }, 'could not write the audit log'));
    return payload;
  });
}
