import SwaggerParser from '@apidevtools/swagger-parser';
import { afterEach, describe, expect, it } from 'vitest';
import { ScreeningRulesSchema } from '../../src/api/routes/rule-routes.ts';
import { accessFor } from '../../src/auth/access-policy.ts';
import { loadConfig } from '../../src/config.ts';
import type { CallRecord } from '../../src/records/call-record.ts';
import { callReport } from '../../src/records/call-reports.ts';
import { searchCalls } from '../../src/records/call-search.ts';
import { DEFAULT_RULES } from '../../src/routing/screening.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

/** What plain JSON makes of a value: what a route must serve when its schema drops nothing. */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

async function finishedCall(c: CallCenterUnderTest, from: string): Promise<CallRecord> {
  const call = c.emulator.placeCall({ from });
  await call.ended;
  return eventually(async () => {
    const row = await c.database.db
      .selectFrom('calls')
      .select('id')
      .where('caller_channel_id', '=', call.channelId)
      .executeTakeFirst();
    const record = row ? await c.calls.getCall(row.id) : undefined;
    return record?.disposition ? record : undefined;
  }, `the record of ${call.channelId}`);
}

describe('the OpenAPI document', () => {
  it('is served at /openapi.json, validates as OpenAPI 3, and lists every route with its schemas', async () => {
    center = await startCallCenter({ takers: 1 });
    const reply = await center.service.app.inject({ method: 'GET', url: '/openapi.json' });
    expect(reply.statusCode).toBe(200);
    const document = reply.json();
    // Throws, naming the problem, if the document is not valid OpenAPI.
    await SwaggerParser.validate(structuredClone(document));
    expect(document.openapi).toMatch(/^3\./);
    const paths = Object.keys(document.paths);
    for (const path of [
      '/takers/{takerId}/state',
      '/calls/{callId}/verdict',
      '/calls/{callId}/conference',
      '/rules',
      '/rules/backtest',
      '/caller-lists/{number}',
      '/callbacks',
      '/live',
    ]) {
      expect(paths).toContain(path);
    }
    const verdict = document.paths['/calls/{callId}/verdict'].put;
    expect(verdict.requestBody.content['application/json'].schema.properties).toHaveProperty('verdict');

    const docs = await center.service.app.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(docs.statusCode);
  });

  it('gives every operation a documented success, and the problems its input and key can bring', async () => {
    center = await startCallCenter({ takers: 1 });
    const document = (await center.service.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    /** Let off, with why: routes whose files another change owns. */
    const exempt = new Map([
      [
        'GET /metrics',
        'Prometheus text format; src/api/routes/metrics-routes.ts is being reworked elsewhere',
      ],
    ]);
    type Operation = {
      parameters?: unknown[];
      requestBody?: unknown;
      responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
      security?: Record<string, string[]>[];
    };
    // Clients and generators learn how to authenticate from the document itself.
    expect(document.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    const missing: string[] = [];
    let operations = 0;
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, Operation>>)) {
      for (const [method, operation] of Object.entries(item)) {
        if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
        operations += 1;
        const name = `${method.toUpperCase()} ${path}`;
        if (exempt.has(name)) continue;
        const success = Object.entries(operation.responses).filter(([status]) => /^2\d\d$/.test(status));
        // A 204 has no body by definition; any other success names its media type and schema.
        const described = success.some(
          ([status, response]) =>
            status === '204' ||
            Object.values(response.content ?? {}).some((media) => media.schema !== undefined),
        );
        if (!described) missing.push(`${name}: no 2xx response with a media type and schema`);
        const takesInput = (operation.parameters?.length ?? 0) > 0 || operation.requestBody !== undefined;
        const invalid = operation.responses['400']?.content?.['application/problem+json']?.schema;
        if (takesInput && invalid === undefined)
          missing.push(`${name}: takes input, documents no 400 problem`);
        const problems = (statuses: string[]) =>
          statuses.filter((s) => operation.responses[s]?.content?.['application/problem+json'] === undefined);
        const route = path.replaceAll(/\{(\w+)\}/g, ':$1');
        const needsKey = !('public' in accessFor(method.toUpperCase(), route));
        if (needsKey && problems(['401', '403']).length > 0)
          missing.push(`${name}: needs a key, documents no ${problems(['401', '403']).join(', ')}`);
        const asksForKey = operation.security?.some((requirement) => 'apiKey' in requirement) ?? false;
        if (needsKey !== asksForKey)
          missing.push(
            `${name}: ${needsKey ? 'needs a key, declares no apiKey security' : 'public, declares security'}`,
          );
        if (operation.requestBody !== undefined && problems(['413', '415']).length > 0)
          missing.push(`${name}: takes a body, documents no ${problems(['413', '415']).join(', ')}`);
      }
    }
    expect(missing).toEqual([]);
    expect(operations).toBeGreaterThan(30);
  });

  it('serves every field the handlers return: no response schema drops or changes one', async () => {
    center = await startCallCenter({ takers: 1 });
    const c = center;
    const get = async (url: string) => {
      const reply = await c.service.app.inject({ method: 'GET', url });
      expect(reply.statusCode, `${url}: ${reply.body}`).toBe(200);
      return reply.json();
    };
    const send = async (method: 'POST' | 'PUT', url: string, payload: Record<string, unknown>) => {
      const reply = await c.service.app.inject({ method, url, payload });
      expect(reply.statusCode, `${method} ${url}: ${reply.body}`).toBeLessThan(300);
      return reply.json();
    };

    // Two answered calls of one number, the first judged a prank (with a note and a category).
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    await c.makeAvailable('taker1');
    const from = new Date(Date.now() - 60_000);
    const first = await finishedCall(c, '081211112222');
    await send('PUT', `/calls/${first.id}/verdict`, {
      verdict: 'prank',
      takerId: 'taker1',
      note: 'laughter, then hung up',
      incidentCategory: 'other',
    });
    const second = await finishedCall(c, '081211112222');
    await send('PUT', `/calls/${second.id}/verdict`, { verdict: 'genuine', takerId: 'taker1' });
    // Offline: the takers' time of the report stops growing.
    await send('PUT', '/takers/taker1/state', { state: 'offline' });
    const to = new Date(Date.now() + 60_000);
    const range = `from=${from.toISOString()}&to=${to.toISOString()}`;

    expect(second.screening).toMatchObject({
      decision: 'connect-low',
      reasons: expect.arrayContaining([expect.any(String)]),
    });
    // A verdict reaches the timeline through the record writer: compare once it has, or the two
    // reads below could straddle its arrival.
    for (const call of [first, second]) {
      await eventually(
        async () => (await c.calls.listCallEvents(call.id)).some((e) => e.type === 'verdict'),
        'the verdict on the timeline',
      );
    }
    for (const call of [first, second]) {
      expect(await get(`/calls/${call.id}`)).toEqual(
        asJson({ record: await c.calls.getCall(call.id), events: await c.calls.listCallEvents(call.id) }),
      );
    }
    const { items } = await searchCalls(c.database.db, { from, to }, { limit: 50 });
    expect(items.map((row) => [row.id, row.verdict, row.incidentCategory])).toEqual([
      [second.id, 'genuine', null],
      [first.id, 'prank', 'other'],
    ]);
    expect(await get(`/calls?${range}`)).toEqual(asJson({ items, next: null }));
    expect(await get('/callers/081211112222/history')).toEqual(
      asJson({ number: '+6281211112222', days: 30, calls: items, verdicts: { genuine: 1, prank: 1 } }),
    );
    for (const by of ['hour', 'day', 'trunk'] as const) {
      // The takers' time comes from their state changes, copied to Postgres a moment later.
      await eventually(async () => {
        const rows = await callReport(c.database.db, { from, to }, by, 'UTC');
        expect(await get(`/reports/calls?${range}&by=${by}&timeZone=UTC`)).toEqual(
          asJson({ from, to, by, timeZone: 'UTC', rows }),
        );
        return true;
      }, `the report by ${by}`);
    }

    await c.service.notices.publish({
      kind: 'ring-no-answer',
      at: Date.now(),
      takerId: 'taker1',
      callId: first.id,
      detail: { endpoint: 'PJSIP/taker1', attempts: [{ at: 1, cause: 'no-answer' }], ringMs: 2000.5 },
    });
    expect(await get('/live/notices')).toEqual(asJson(await c.service.notices.recent(50)));
    expect(await get('/agencies')).toEqual(asJson(loadConfig(c.env).calls.agencies));
    expect(await get('/rules/schema')).toEqual(asJson(ScreeningRulesSchema));

    const rules = {
      ...DEFAULT_RULES,
      releaseAfterPranks24h: 1,
      weights: { ...DEFAULT_RULES.weights, silent7d: 0.25 },
      prompts: { warning: ['sound:siaga112/lebaran-warning'] },
    };
    const created = await send('POST', '/rules', { rules, comment: 'one prank is enough', author: 'rina' });
    expect(await send('POST', `/rules/${created.version}/activate`, { author: 'rina' })).toEqual({
      version: created.version,
      activated: true,
    });
    expect(await get('/rules/in-force')).toEqual(asJson({ version: created.version, rules }));

    const score = { decision: expect.any(String), score: expect.any(Number), reasons: expect.any(Array) };
    const decisions = { connect: 1, 'connect-low': 1, challenge: 0, 'warn-and-release': 0 };
    expect(
      await send('POST', '/rules/backtest', {
        rules: { ...rules, releaseAfterPranks24h: 2 },
        from: from.toISOString(),
        to: to.toISOString(),
      }),
    ).toEqual({
      from: from.toISOString(),
      to: to.toISOString(),
      inForceVersion: created.version,
      calls: 2,
      decisions: { inForce: { ...decisions, 'connect-low': 0, 'warn-and-release': 1 }, candidate: decisions },
      transitions: [{ from: 'warn-and-release', to: 'connect-low', calls: 1, byVerdict: { genuine: 1 } }],
      genuineReleased: 0,
      changes: [
        {
          callId: second.id,
          arrivedAt: second.arrivedAt.toISOString(),
          callerNumber: '+6281211112222',
          verdict: 'genuine',
          inForce: { ...score, decision: 'warn-and-release' },
          candidate: { ...score, decision: 'connect-low' },
        },
      ],
    });
  });
});
