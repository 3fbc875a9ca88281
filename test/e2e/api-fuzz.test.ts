/**
 * Hostile requests over the whole OpenAPI document: random values for every path parameter, query
 * parameter and body field (and random bodies), as an admin. Every answer is a 2xx or a 4xx problem,
 * never a 5xx. Credentials and paths cannot be bent around the key check, and bodies are bounded.
 */
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallCenterUnderTest, startCallCenter } from './call-center-harness.ts';

interface Operation {
  method: string;
  path: string;
  pathParams: string[];
  queryParams: string[];
  bodyFields: string[];
  hasBody: boolean;
}

/** Streams stay open while they are read: fuzzing them would wait forever for a reply. */
const STREAMS = new Set(['GET /live/stream', 'GET /takers/{takerId}/desk', 'GET /wallboard/stream']);

const anyValue = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 300, maxLength: 2000 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom(
    '',
    ' ',
    '0',
    '-1',
    '1e309',
    'NaN',
    '../../etc/passwd',
    '%00',
    "' or 1=1 --",
    '<b>',
    '{}',
    '[]',
  ),
  fc.constantFrom('2026-13-45T99:99:99Z', '2026-11-23T00:00:00Z', '00000000-0000-4000-8000-000000000000'),
  fc.array(fc.anything(), { maxLength: 4 }),
  fc.object({ maxDepth: 2 }),
);
const asText = (value: unknown) => (typeof value === 'string' ? value : (JSON.stringify(value) ?? ''));

async function operations(c: CallCenterUnderTest): Promise<Operation[]> {
  const document = (await c.service.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<
      string,
      Record<
        string,
        {
          parameters?: Array<{ in: string; name: string }>;
          requestBody?: { content: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
        }
      >
    >;
  };
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      method: method.toUpperCase(),
      path,
      pathParams: (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name),
      queryParams: (operation.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      bodyFields: Object.keys(operation.requestBody?.content['application/json']?.schema?.properties ?? {}),
      hasBody: operation.requestBody !== undefined,
    })),
  );
}

/** A random request for one operation: every input random, each field present or not. */
function requestFor(operation: Operation) {
  const pathValues = fc.tuple(...operation.pathParams.map(() => anyValue));
  const queryValues = fc.dictionary(fc.constantFrom(...operation.queryParams, 'unexpected'), anyValue, {
    maxKeys: operation.queryParams.length + 1,
  });
  const body = operation.hasBody
    ? fc.oneof(
        fc.dictionary(fc.constantFrom(...operation.bodyFields, 'extra'), anyValue, {
          maxKeys: operation.bodyFields.length + 1,
        }),
        anyValue,
      )
    : fc.constant(undefined);
  return fc.tuple(pathValues, queryValues, body).map(([params, query, payload]): InjectOptions => {
    let url = operation.path;
    operation.pathParams.forEach((name, i) => {
      url = url.replace(`{${name}}`, encodeURIComponent(asText(params[i])) || '%20');
    });
    const search = new URLSearchParams(
      Object.entries(query).map(([k, v]): [string, string] => [k, asText(v)]),
    ).toString();
    return {
      method: operation.method as 'GET',
      url: search ? `${url}?${search}` : url,
      ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      headers: { 'content-type': 'application/json' },
    };
  });
}

let center: CallCenterUnderTest;
beforeAll(async () => {
  center = await startCallCenter({ takers: 1 });
});
afterAll(async () => {
  await center?.close();
});

describe('the REST API under hostile input', () => {
  it('answers every route with a 2xx or a 4xx problem, never a 5xx', async () => {
    const fuzzed: string[] = [];
    for (const operation of await operations(center)) {
      const route = `${operation.method} ${operation.path}`;
      if (STREAMS.has(route)) continue;
      fuzzed.push(route);
      await fc.assert(
        fc.asyncProperty(requestFor(operation), async (request) => {
          const reply = await center.service.app.inject(request);
          if (reply.statusCode >= 500) {
            throw new Error(`${route}: ${reply.statusCode} for ${request.url} ${String(request.payload)}`);
          }
          if (reply.statusCode >= 400) {
            expect(reply.headers['content-type'], route).toMatch(/^application\/problem\+json/);
            expect(reply.json().detail, route).toEqual(expect.any(String));
          }
        }),
        { numRuns: 25, seed: 112 },
      );
    }
    expect(fuzzed.length).toBeGreaterThan(30);
  });

  it('cannot be talked past the key check by spelling, paths or repeated headers', async () => {
    const refused = async (options: InjectOptions, client: number) => {
      const reply = await center.service.app.inject({ remoteAddress: `198.51.100.${client}`, ...options });
      return [401, 404, 400].includes(reply.statusCode)
        ? reply.statusCode
        : `${reply.statusCode} ${reply.body}`;
    };
    const tries: InjectOptions[] = [
      { method: 'GET', url: '/rules', headers: { authorization: '' } },
      { method: 'GET', url: '/rules', headers: { authorization: 'Bearer' } },
      { method: 'GET', url: '/rules', headers: { authorization: `Basic ${center.adminKey}` } },
      { method: 'GET', url: '/rules', headers: { authorization: `Bearer ${center.adminKey.slice(0, -1)}` } },
      { method: 'GET', url: '/rules', headers: { authorization: `Bearer ${center.adminKey}x` } },
      { method: 'GET', url: '/health/../rules', headers: { authorization: '' } },
      { method: 'GET', url: '//rules', headers: { authorization: '' } },
      { method: 'GET', url: '/RULES', headers: { authorization: '' } },
      { method: 'GET', url: '/rules%2f', headers: { authorization: '' } },
      { method: 'GET', url: '/docs/../rules', headers: { authorization: '' } },
      { method: 'GET', url: '/openapi.json/../rules', headers: { authorization: '' } },
      { method: 'GET', url: '/rules?authorization=Bearer%20x', headers: { authorization: '' } },
      { method: 'GET', url: '/rules', headers: { authorization: '', 'x-api-key': center.adminKey } },
    ];
    let client = 0;
    for (const request of tries) {
      client += 1;
      expect(await refused(request, client), `${request.url} ${JSON.stringify(request.headers)}`).toBeOneOf([
        401, 404, 400,
      ]);
    }
    // The right key, however the scheme is capitalized (RFC 9110: case-insensitive), is served.
    const lower = await center.service.app.inject({
      method: 'GET',
      url: '/rules',
      headers: { authorization: `bearer ${center.adminKey}` },
    });
    expect(lower.statusCode).toBe(200);
  });

  it('refuses a body over the limit with 413, before reading it all', async () => {
    const reply = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(200_000), endpoint: 'PJSIP/taker1' }),
    });
    expect(reply.statusCode).toBe(413);
    expect(reply.headers['content-type']).toMatch(/^application\/problem\+json/);
    // A body in a type the API does not speak is refused too, with a problem.
    const xml = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1',
      headers: { 'content-type': 'application/xml' },
      payload: '<taker/>',
    });
    expect(xml.statusCode).toBe(415);
    expect(xml.headers['content-type']).toMatch(/^application\/problem\+json/);
  });
});
