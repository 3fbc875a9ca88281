/**
 * The supervisor wallboard's server side: the page is public and holds no data; a supervisor's key
 * opens a session (a cookie, since EventSource sends no Authorization header) that the wallboard's
 * read-only routes accept and no other route does; the day's figures are those of the records.
 * The page itself is driven in a browser by test/browser/wallboard.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createApiKeyRepository } from '../../src/auth/api-keys.ts';
import { WALLBOARD_COOKIE } from '../../src/auth/wallboard-sessions.ts';
import { localDay } from '../../src/local-day.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

/** A request with exactly these credentials: a key, a cookie, or neither. */
function request(
  c: CallCenterUnderTest,
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  credentials: { key?: string; cookie?: string } = {},
) {
  return c.service.app.inject({
    method,
    url,
    headers: {
      authorization: credentials.key ? `Bearer ${credentials.key}` : '',
      ...(credentials.cookie ? { cookie: credentials.cookie } : {}),
    },
  });
}

/** Opens a session with `key`; the cookie to send back. */
async function signIn(c: CallCenterUnderTest, key: string): Promise<string> {
  const reply = await request(c, 'POST', '/wallboard/session', { key });
  expect(reply.statusCode, reply.body).toBe(200);
  const setCookie = String(reply.headers['set-cookie']);
  return setCookie.split(';')[0] as string;
}

/** Status of the stream's response, and its first event when it is 200. */
async function openStream(api: string, cookie: string | undefined) {
  const controller = new AbortController();
  const response = await fetch(`${api}/wallboard/stream`, {
    headers: cookie ? { cookie } : {},
    signal: controller.signal,
  });
  if (response.status !== 200) return { status: response.status, events: '' };
  const reader = response.body!.getReader();
  let text = '';
  while (!text.includes('event: summary') || !text.includes('event: live')) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  controller.abort();
  return { status: 200, events: text };
}

describe('the wallboard', () => {
  it('serves its page and assets to anyone, with no data in them and a strict content policy', async () => {
    center = await startCallCenter({ takers: 1 });
    for (const [url, type] of [
      ['/wallboard', 'text/html'],
      ['/wallboard/wallboard.js', 'text/javascript'],
      ['/wallboard/wallboard.css', 'text/css'],
    ] as const) {
      const reply = await request(center, 'GET', url);
      expect(reply.statusCode, url).toBe(200);
      expect(reply.headers['content-type']).toContain(type);
      expect(reply.headers['content-security-policy']).toContain("script-src 'self'");
      expect(reply.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
    const page = (await request(center, 'GET', '/wallboard')).body;
    expect(page).toContain('/wallboard/wallboard.js');
    expect(page).not.toMatch(/taker1|s112_/);
    // Hidden from the API document: a page, not an API.
    const document = (await center.service.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(Object.keys(document.paths)).not.toContain('/wallboard');
    expect(Object.keys(document.paths)).toContain('/wallboard/summary');
  });

  it('opens a session for a supervisor key only: 401 without a key, 403 for a call taker', async () => {
    center = await startCallCenter({ takers: 1 });
    const c = center;
    const takerKey = await c.createKey('call-taker', 'taker1');
    const supervisorKey = await c.createKey('supervisor');

    const anonymous = await request(c, 'POST', '/wallboard/session');
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json().detail).toMatch(/^headers\.authorization: /);
    expect((await request(c, 'POST', '/wallboard/session', { key: takerKey })).statusCode).toBe(403);
    expect((await request(c, 'GET', '/wallboard/summary', { key: takerKey })).statusCode).toBe(403);
    expect((await request(c, 'GET', '/wallboard/summary')).statusCode).toBe(401);

    const reply = await request(c, 'POST', '/wallboard/session', { key: supervisorKey });
    expect(reply.statusCode).toBe(200);
    expect(Date.parse(reply.json().expiresAt)).toBeGreaterThan(Date.now() + 3600_000);
    const setCookie = String(reply.headers['set-cookie']);
    expect(setCookie).toMatch(new RegExp(`^${WALLBOARD_COOKIE}=[A-Za-z0-9_-]{43}; `));
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Strict');
    expect(setCookie).toContain('Path=/wallboard');
    expect(reply.headers['cache-control']).toBe('no-store');
    // The sign-in is a person's write: it is in the audit log.
    await eventually(async () => {
      const audit = await c.database.db.selectFrom('audit_log').select(['route', 'role']).execute();
      expect(audit).toContainEqual({ route: '/wallboard/session', role: 'supervisor' });
      return true;
    }, 'the sign-in in the audit log');
  });

  it('lets the session read the wallboard, nothing else, and ends it on sign-out or when the key is revoked', async () => {
    center = await startCallCenter({ takers: 1 });
    const c = center;
    const api = await c.service.app.listen({ host: '127.0.0.1', port: 0 });
    const supervisor = await createApiKeyRepository(c.database.db).create({
      name: 'wall screen',
      role: 'supervisor',
      createdBy: 'test',
    });
    const cookie = await signIn(c, supervisor.key);

    expect((await request(c, 'GET', '/wallboard/summary', { cookie })).statusCode).toBe(200);
    const stream = await openStream(api, cookie);
    expect(stream.status).toBe(200);
    expect(stream.events).toMatch(/event: live\ndata: \{"at":/);
    expect(stream.events).toMatch(/event: summary\ndata: \{"day":/);
    expect((await openStream(api, undefined)).status).toBe(401);

    // The cookie is not a key: no other route takes it.
    for (const url of ['/live', '/live/stream', '/calls/00000000-0000-4000-8000-000000000000', '/takers']) {
      expect((await request(c, 'GET', url, { cookie })).statusCode, url).toBe(401);
    }
    // A made-up or altered token is nobody's.
    const forged = `${WALLBOARD_COOKIE}=${'A'.repeat(43)}`;
    expect((await request(c, 'GET', '/wallboard/summary', { cookie: forged })).statusCode).toBe(401);
    expect((await request(c, 'GET', '/wallboard/summary', { cookie: `${cookie}x` })).statusCode).toBe(401);

    // Signing out ends the session and removes the cookie.
    const out = await request(c, 'DELETE', '/wallboard/session', { cookie });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(new RegExp(`^${WALLBOARD_COOKIE}=; Max-Age=0; `));
    expect((await request(c, 'GET', '/wallboard/summary', { cookie })).statusCode).toBe(401);

    // Revoking the key ends every session it opened.
    const again = await signIn(c, supervisor.key);
    expect((await request(c, 'GET', '/wallboard/summary', { cookie: again })).statusCode).toBe(200);
    // A stream already open ends too.
    const open = await fetch(`${api}/wallboard/stream`, { headers: { cookie: again } });
    const reader = open.body!.getReader();
    await reader.read();
    await createApiKeyRepository(c.database.db).revoke(supervisor.principal.keyId, new Date());
    expect((await request(c, 'GET', '/wallboard/summary', { cookie: again })).statusCode).toBe(401);
    expect((await openStream(api, again)).status).toBe(401);
    await eventually(async () => (await reader.read()).done, 'the open stream ended by the server');
  });

  it('does not hold the service up: closing it ends an open stream', async () => {
    center = await startCallCenter({ takers: 1 });
    const c = center;
    const api = await c.service.app.listen({ host: '127.0.0.1', port: 0 });
    const cookie = await signIn(c, await c.createKey('supervisor'));
    const response = await fetch(`${api}/wallboard/stream`, { headers: { cookie } });
    const reader = response.body!.getReader();
    await reader.read();
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      c.service.close().then(() => 'closed'),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve('still open after 10 s'), 10_000);
      }),
    ]);
    clearTimeout(timer);
    expect(closed).toBe('closed');
    // The stream was ended by the server, not left hanging.
    for (;;) if ((await reader.read()).done) break;
  });

  it("shows the day's figures as the records have them", async () => {
    center = await startCallCenter({ takers: 1 });
    const c = center;
    c.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    await c.makeAvailable('taker1');
    const answered: string[] = [];
    for (const from of ['081311110001', '081311110002', '081311110003']) {
      const call = c.emulator.placeCall({ from });
      await call.ended;
      answered.push(
        await eventually(async () => {
          const row = await c.database.db
            .selectFrom('calls')
            .select(['id', 'disposition'])
            .where('caller_channel_id', '=', call.channelId)
            .executeTakeFirst();
          return row?.disposition ? row.id : undefined;
        }, 'the record'),
      );
    }
    for (const [callId, verdict] of [
      [answered[0], 'genuine'],
      [answered[1], 'prank'],
    ] as const) {
      const reply = await c.service.app.inject({
        method: 'PUT',
        url: `/calls/${callId}/verdict`,
        payload: { verdict, takerId: 'taker1' },
      });
      expect(reply.statusCode, reply.body).toBe(200);
    }
    // Nobody to answer: the caller gives up.
    await c.service.app.inject({ method: 'PUT', url: '/takers/taker1/state', payload: { state: 'offline' } });
    const gaveUp = c.emulator.placeCall({ from: '081311110004', patienceMs: 200 });
    await gaveUp.ended;
    await eventually(
      async () =>
        (
          await c.database.db
            .selectFrom('calls')
            .select('id')
            .where('disposition', '=', 'abandoned')
            .execute()
        ).length === 1,
      'the abandoned call recorded',
    );

    const summary = (
      await c.service.app.inject({ method: 'GET', url: '/wallboard/summary?timeZone=UTC' })
    ).json();
    const today = localDay(Date.now(), 'UTC');
    expect(summary).toMatchObject({ day: today.date, timeZone: 'UTC', from: today.from.toISOString() });
    expect(summary.figures).toMatchObject({
      offered: 4,
      answered: 3,
      abandoned: 1,
      released: 0,
      prank: 1,
      silent: 0,
    });
    const waits = await c.database.db
      .selectFrom('calls')
      .select('wait_ms')
      .where('taker_id', 'is not', null)
      .where('connected_at', 'is not', null)
      .execute();
    const within15 = waits.filter((w) => (w.wait_ms ?? Infinity) <= 15_000).length;
    expect(summary.figures.serviceLevel15).toBeCloseTo(within15 / 4, 6);
    const average = waits.reduce((sum, w) => sum + (w.wait_ms ?? 0), 0) / waits.length / 1000;
    expect(summary.figures.averageAnswerSeconds).toBeCloseTo(average, 1);
    // The chart: 24 hours; the calls may fall either side of an hour's end, so count over the day.
    expect(summary.hours.map((h: { hour: number }) => h.hour)).toEqual([...Array(24).keys()]);
    const total = (name: string) =>
      summary.hours.reduce(
        (sum: number, h: { calls: Record<string, number> }) => sum + (h.calls[name] ?? 0),
        0,
      );
    expect({ genuine: total('genuine'), prank: total('prank'), none: total('none') }).toEqual({
      genuine: 1,
      prank: 1,
      none: 2,
    });
    expect(summary.decisions.connect).toBe(4);
    expect(summary.recent).toHaveLength(4);
    expect(summary.recent[0]).toMatchObject({ decision: 'connect', caller: '+6281*******04' });
    expect(summary.takerNames).toHaveProperty('taker1');
  });
});
