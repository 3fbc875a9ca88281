import type { FastifyInstance } from 'fastify';
import { type TSchema, Type } from 'typebox';
import { WALLBOARD_COOKIE } from '../auth/wallboard-sessions.ts';
import { ProblemSchema } from './problem.ts';

/**
 * Schema pieces the routes share. Responses are serialized by their schema (fast-json-stringify):
 * a property a schema leaves out is dropped, so an object whose shape varies says so with
 * `additionalProperties: true`.
 */

/** A value or null (OpenAPI 3.0 shows it as `nullable`). */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** A moment in ISO 8601; a `Date` a handler returns is serialized as one. */
export const DateTime = (description?: string) =>
  Type.String({ format: 'date-time', ...(description === undefined ? {} : { description }) });

/** Screening's decision on a call, its score and the reasons a person reads. */
export const ScreeningOutcomeSchema = Type.Object(
  {
    decision: Type.String({ description: 'connect, connect-low, challenge or warn-and-release' }),
    score: Type.Number({ description: 'higher is more suspect' }),
    reasons: Type.Array(Type.String()),
  },
  { additionalProperties: true },
);

/** A success response that is not JSON (a stream, a file), documented by its media type. */
export const textResponse = (mediaType: string, description: string) => ({
  description,
  content: { [mediaType]: { schema: { type: 'string' } } },
});

/**
 * An error response of a route's schema: problem details under the media type the error handler
 * sends (`application/problem+json`), with what the status means for that route.
 */
export const problem = (description: string) =>
  ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } }) as const;

/** The 400 of every route with params, a query or a body: validation names the offending field. */
export const InvalidRequest = problem('invalid request; `detail` names the offending field');

/** What the key check answers, on any route that needs a key. */
const KEY_PROBLEMS = {
  401: problem('no valid API key (`Authorization: Bearer <key>`)'),
  403: problem("the key's role may not use this route, or a call taker's key acts for another taker"),
  429: problem('too many requests with an invalid key from this address; wait a minute'),
};

/** What the body parser answers, on any route that takes a body. */
const BODY_PROBLEMS = {
  413: problem('the body is over the size limit'),
  415: problem('the body is not application/json'),
};

/** How a client proves who it is, as `components.securitySchemes` of the OpenAPI document. */
export const SECURITY_SCHEMES = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (`npm run api-key`), sent as `Authorization: Bearer <key>`.',
  },
  wallboardSession: {
    type: 'apiKey',
    in: 'cookie',
    name: WALLBOARD_COOKIE,
    description: "The wallboard's session (POST /wallboard/session), accepted on its read-only routes.",
  },
} as const;

/** What a route asks of its client: nothing, an API key, or a key or the wallboard's session. */
export type RouteSecurity = 'public' | 'key' | 'key-or-session';

/**
 * Documents, on every route that documents its responses, the problems that come from outside its
 * handler: the key check (401, 403, 429) where a key is needed, the body parser (413, 415) where
 * there is a body; and the security the route requires. A route's own entry for a status wins.
 * Register before the routes.
 */
export function documentCommonProblems(
  app: FastifyInstance,
  securityOf: (method: string, url: string) => RouteSecurity,
): void {
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response;
    if (typeof response !== 'object' || response === null) return;
    // fastify adds a HEAD route for every GET; the GET speaks for it.
    const methods = [route.method].flat().filter((method) => method !== 'HEAD');
    const [method] = methods;
    if (method === undefined) return;
    const security = securityOf(method, route.url);
    const common = {
      ...(security === 'public' ? {} : KEY_PROBLEMS),
      ...(route.schema?.body === undefined ? {} : BODY_PROBLEMS),
    };
    // A new object: routes may share one response map (the desk's call controls do).
    route.schema = {
      ...route.schema,
      response: { ...common, ...response },
      ...(security === 'public'
        ? {}
        : {
            security: [{ apiKey: [] }, ...(security === 'key-or-session' ? [{ wallboardSession: [] }] : [])],
          }),
    };
  });
}
