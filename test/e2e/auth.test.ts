import { afterEach, describe, expect, it } from 'vitest';
import { policyRoutes } from '../../src/auth/access-policy.ts';
import { DEFAULT_RULES } from '../../src/routing/screening.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

/** A request with exactly this authorization (or none). */
function as(c: CallCenterUnderTest, key: string | null) {
  return (method: 'GET' | 'HEAD' | 'PUT' | 'POST', url: string, payload?: Record<string, unknown>) =>
    c.service.app.inject({
      method,
      url,
      headers: { authorization: key === null ? '' : `Bearer ${key}` },
      ...(payload ? { payload } : {}),
    });
}

describe('API keys and roles', () => {
  it('lets nobody in without a valid key, except to health and the API docs', async () => {
    center = await startCallCenter({ takers: 1 });
    const anonymous = as(center, null);
    expect((await anonymous('GET', '/health')).statusCode).toBe(200);
    expect((await anonymous('GET', '/openapi.json')).statusCode).toBe(200);
    const denied = await anonymous('GET', '/live');
    expect(denied.statusCode).toBe(401);
    expect(denied.json().detail).toMatch(/^headers\.authorization: /);
    expect((await as(center, 's112_not-a-key')('GET', '/live')).statusCode).toBe(401);
    // An unknown route does not tell an anonymous caller that it does not exist.
    expect((await anonymous('GET', '/no-such-thing')).statusCode).toBe(401);
  });

  it('gives each role its own routes; a call taker acts only for themselves', async () => {
    center = await startCallCenter({ takers: 2 });
    const taker = as(center, await center.createKey('call-taker', 'taker1'));
    const supervisor = as(center, await center.createKey('supervisor'));
    const metrics = as(center, await center.createKey('metrics'));
    const admin = as(center, center.adminKey);

    expect((await taker('PUT', '/takers/taker1/state', { state: 'available' })).statusCode).toBe(200);
    const other = await taker('PUT', '/takers/taker2/state', { state: 'available' });
    expect(other.statusCode).toBe(403);
    expect(other.json().type).toContain('not-your-desk');
    expect((await taker('GET', '/agencies')).statusCode).toBe(200);
    // HEAD follows its GET: a role that may read a route may ask for its headers, and no more.
    expect((await taker('HEAD', '/agencies')).statusCode).toBe(200);
    expect((await taker('HEAD', '/live')).statusCode).toBe(403);
    expect((await taker('HEAD', '/takers/taker2/desk')).statusCode).toBe(403);
    expect((await taker('GET', '/live')).statusCode).toBe(403);

    expect((await supervisor('GET', '/live')).statusCode).toBe(200);
    expect((await supervisor('GET', '/rules')).statusCode).toBe(200);
    expect(
      (await supervisor('PUT', '/takers/taker2/state', { state: 'break', reason: 'briefing' })).statusCode,
    ).toBe(200);
    const rules = { rules: DEFAULT_RULES, comment: 'same as the defaults', author: 'rina' };
    expect((await supervisor('POST', '/rules', rules)).statusCode).toBe(403);
    expect((await admin('POST', '/rules', rules)).statusCode).toBe(201);

    expect((await metrics('GET', '/live')).statusCode).toBe(403);
    expect((await metrics('HEAD', '/metrics')).statusCode).toBe(200);
    expect((await metrics('PUT', '/takers/taker1/state', { state: 'offline' })).statusCode).toBe(403);
  });

  it('writes every change a person makes to the audit log: who, what, when', async () => {
    center = await startCallCenter({ takers: 1 });
    const taker = as(center, await center.createKey('call-taker', 'taker1'));
    expect(
      (await taker('PUT', '/takers/taker1/state', { state: 'break', reason: 'prayer' })).statusCode,
    ).toBe(200);
    expect((await taker('GET', '/agencies')).statusCode).toBe(200);
    expect((await taker('PUT', '/takers/taker1/state', { state: 'nonsense' })).statusCode).toBe(400);
    const rows = await center.database.db.selectFrom('audit_log').selectAll().execute();
    // Reads and refused requests change nothing and are not audited.
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      actor: 'test call-taker',
      role: 'call-taker',
      method: 'PUT',
      route: '/takers/:takerId/state',
      url: '/takers/taker1/state',
      status: 200,
      body: { state: 'break', reason: 'prayer' },
    });
  });

  it('slows down an address that keeps failing, never a valid key, and refuses a revoked key', async () => {
    center = await startCallCenter({ takers: 1 });
    const wrong = as(center, 's112_wrong');
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await wrong('GET', '/live')).statusCode);
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual([429, 429]);
    // The same address with a valid key is served.
    expect((await as(center, center.adminKey)('GET', '/live')).statusCode).toBe(200);

    const key = await center.createKey('supervisor');
    const keyRow = await center.database.db
      .selectFrom('api_keys')
      .select('id')
      .where('role', '=', 'supervisor')
      .executeTakeFirstOrThrow();
    await center.database.db
      .updateTable('api_keys')
      .set({ revoked_at: new Date() })
      .where('id', '=', keyRow.id)
      .execute();
    expect((await as(center, key)('GET', '/live')).statusCode).toBe(429);
  });

  it('tells clients apart behind a trusted reverse proxy by X-Forwarded-For, and only behind one', async () => {
    const failFrom = (c: CallCenterUnderTest, client: string) =>
      c.service.app.inject({
        method: 'GET',
        url: '/live',
        headers: { authorization: 'Bearer s112_wrong', 'x-forwarded-for': client },
      });
    // inject() comes from 127.0.0.1: the proxy.
    center = await startCallCenter({ takers: 1, env: { TRUST_PROXY: '127.0.0.1' } });
    for (let i = 0; i < 10; i++) expect((await failFrom(center, '203.0.113.5')).statusCode).toBe(401);
    expect((await failFrom(center, '203.0.113.5')).statusCode).toBe(429);
    // Another client behind the same proxy is not slowed down by the first one's failures.
    expect((await failFrom(center, '203.0.113.6')).statusCode).toBe(401);
    await center.close();

    // Without TRUST_PROXY the header is the client's word and is ignored: one address, one limit.
    center = await startCallCenter({ takers: 1 });
    for (let i = 0; i < 10; i++) await failFrom(center, `198.51.100.${i}`);
    expect((await failFrom(center, '198.51.100.99')).statusCode).toBe(429);
  });

  it('guards every route of the OpenAPI document: 401 without a key, 403 for a role without it', async () => {
    center = await startCallCenter({ takers: 1 });
    const document = (await as(center, null)('GET', '/openapi.json')).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const open = new Set(['GET /health', 'GET /ready']);
    const metricsKey = await center.createKey('metrics');
    const checked: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      // A syntactically valid value for every path parameter.
      const url = path
        .replace('{callId}', '00000000-0000-4000-8000-000000000000')
        .replace('{id}', '00000000-0000-4000-8000-000000000000')
        .replace(/\{[^}]+\}/g, '1');
      for (const method of Object.keys(operations)) {
        const route = `${method.toUpperCase()} ${path}`;
        const inject = (authorization: string) =>
          center!.service.app.inject({
            method: method.toUpperCase() as 'GET',
            url,
            headers: { authorization },
          });
        if (open.has(route)) {
          expect((await inject('')).statusCode, route).not.toBe(401);
          continue;
        }
        // 429 once this address has failed ten times in a minute: refused all the same.
        expect([401, 429], route).toContain((await inject('')).statusCode);
        if (route !== 'GET /metrics')
          expect((await inject(`Bearer ${metricsKey}`)).statusCode, route).toBe(403);
        checked.push(route);
      }
    }
    expect(checked.length).toBeGreaterThan(25);
  });

  it('names only real routes in its access policy, so none falls back to admin-only by a typo', async () => {
    center = await startCallCenter({ takers: 1 });
    const app = center.service.app;
    const document = (await as(center, null)('GET', '/openapi.json')).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    // fastify matches `:id` and `:callbackId` alike: compare parameter names through the document.
    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, operations]) =>
        Object.keys(operations).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    const missing = policyRoutes().filter((entry) => {
      if (documented.has(entry)) return false;
      const [method, url] = entry.split(' ') as ['GET', string];
      return url.includes(':') || !app.hasRoute({ method, url });
    });
    expect(missing).toEqual([]);
    // The route a call taker claims a callback by is theirs (404: no such callback, not 403).
    const taker = as(center, await center.createKey('call-taker', 'taker1'));
    const claim = await taker('POST', '/callbacks/00000000-0000-4000-8000-000000000000/claim', {
      takerId: 'taker1',
    });
    expect(claim.statusCode).toBe(404);
  });

  it('lets a call taker judge only the calls they answered', async () => {
    center = await startCallCenter({ takers: 2 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    await center.makeAvailable('taker1');
    const call = center.emulator.placeCall({ from: '081244440000' });
    await call.ended;
    const row = await eventually(async () => {
      const found = await center!.database.db
        .selectFrom('calls')
        .select(['id', 'disposition'])
        .where('caller_channel_id', '=', call.channelId)
        .executeTakeFirst();
      return found?.disposition ? found : undefined;
    }, 'the record');
    const verdict = (key: string, takerId: string) =>
      as(center!, key)('PUT', `/calls/${row.id}/verdict`, { verdict: 'prank', takerId });
    const colleague = await verdict(await center.createKey('call-taker', 'taker2'), 'taker2');
    expect(colleague.statusCode).toBe(403);
    expect(colleague.json().type).toContain('not-your-call');
    expect((await verdict(await center.createKey('call-taker', 'taker1'), 'taker1')).statusCode).toBe(200);
    // A supervisor may judge any call.
    expect((await verdict(await center.createKey('supervisor'), 'sup1')).statusCode).toBe(200);
  });
});
