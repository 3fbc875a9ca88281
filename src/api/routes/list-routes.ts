import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { CallerListEntry } from '../../records/caller-list-repository.ts';
import { normalizeCallerId } from '../../routing/caller-id.ts';
import { ApiProblem } from '../problem.ts';
import { InvalidRequest, problem } from '../schemas.ts';

/** What the list routes need: the durable entries and the cache screening reads. */
export interface ListRoutesDeps {
  put(entry: Omit<CallerListEntry, 'createdAt'>): Promise<CallerListEntry>;
  remove(number: string): Promise<boolean>;
  list(): Promise<CallerListEntry[]>;
}

const NumberParams = Type.Object({
  number: Type.String({ minLength: 1, maxLength: 32, description: 'a phone number, e.g. 081234567890' }),
});
const EntryBody = Type.Object(
  {
    list: Type.Union([Type.Literal('allow'), Type.Literal('block')]),
    reason: Type.String({ minLength: 3, maxLength: 200 }),
    author: Type.String({ minLength: 1, maxLength: 64 }),
    expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
const Entry = Type.Object({
  number: Type.String(),
  list: Type.String(),
  reason: Type.String(),
  author: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const toJson = (e: CallerListEntry) => ({
  ...e,
  createdAt: e.createdAt.toISOString(),
  expiresAt: e.expiresAt?.toISOString() ?? null,
});

/** A usable number in E.164, or a 400 that says so. */
function e164(raw: string): string {
  const identity = normalizeCallerId(raw);
  if (!identity.number) {
    throw new ApiProblem(
      400,
      'invalid-request',
      `params.number: not a usable phone number (${identity.kind})`,
    );
  }
  return identity.number;
}

/** Allowlist and blocklist entries; screening reads them through the cache at once. */
export async function listRoutes(app: FastifyInstance, deps: ListRoutesDeps): Promise<void> {
  app.get(
    '/caller-lists',
    { schema: { response: { 200: Type.Array(Entry, { description: 'every entry of both lists' }) } } },
    async () => (await deps.list()).map(toJson),
  );

  app.put<{
    Params: { number: string };
    Body: { list: 'allow' | 'block'; reason: string; author: string; expiresAt?: string };
  }>(
    '/caller-lists/:number',
    { schema: { params: NumberParams, body: EntryBody, response: { 200: Entry, 400: InvalidRequest } } },
    async (request) => {
      const number = e164(request.params.number);
      const { list, reason, author, expiresAt } = request.body;
      const expires = expiresAt ? new Date(expiresAt) : null;
      if (expires && expires.getTime() <= Date.now()) {
        throw new ApiProblem(400, 'invalid-request', 'body.expiresAt: must be in the future');
      }
      return toJson(await deps.put({ number, list, reason, author, expiresAt: expires }));
    },
  );

  app.delete<{ Params: { number: string } }>(
    '/caller-lists/:number',
    {
      schema: {
        params: NumberParams,
        response: {
          204: Type.Null({ description: 'removed from its list' }),
          400: InvalidRequest,
          404: problem('the number is on no list'),
        },
      },
    },
    async (request, reply) => {
      const number = e164(request.params.number);
      if (!(await deps.remove(number))) throw new ApiProblem(404, 'not-listed', `${number} is on no list`);
      return reply.status(204).send();
    },
  );
}
