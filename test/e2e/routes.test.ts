/**
 * Every route of the OpenAPI document, each with a request it accepts and one it refuses (the 4xx
 * and the field its message names). The list is checked against `/openapi.json`, so a new route
 * without its two requests fails here. Roles (401/403) are walked in `auth.test.ts`.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundCall } from '../../src/emulator/asterisk-emulator.ts';
import { DEFAULT_RULES } from '../../src/routing/screening.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';
const RANGE = () => {
  const to = new Date(Date.now() + 3600_000).toISOString();
  return { from: '2026-01-01T00:00:00Z', to };
};

interface Refusal {
  request: InjectOptions;
  status: number;
  /** What the problem's `detail` starts with: the offending field. */
  names: string;
}

/** A request each route must refuse, by `METHOD /openapi/path`. */
const REFUSALS: Record<string, Refusal> = {
  // Routes without input: a malformed credential is what they can get wrong.
  ...Object.fromEntries(
    [
      '/agencies',
      '/caller-lists',
      '/live',
      '/live/notices',
      '/live/stream',
      '/metrics',
      '/rules',
      '/rules/in-force',
      '/rules/schema',
      '/takers',
      '/takers/presence',
    ].map((url) => [
      `GET ${url}`,
      {
        request: { method: 'GET', url, headers: { authorization: 'Basic c2lhZ2E=' } },
        status: 401,
        names: 'headers.authorization',
      },
    ]),
  ),
  // Open to all and without input: only a wrong method can be wrong.
  'GET /health': { request: { method: 'POST', url: '/health' }, status: 404, names: 'no route POST /health' },
  'GET /ready': {
    request: { method: 'DELETE', url: '/ready' },
    status: 404,
    names: 'no route DELETE /ready',
  },
  'GET /live/notices?limit': {
    request: { method: 'GET', url: '/live/notices?limit=0' },
    status: 400,
    names: 'querystring.limit',
  },
  'PUT /takers/{takerId}': {
    request: { method: 'PUT', url: '/takers/taker3', payload: { name: 'Ayu', endpoint: 'SIP/taker3' } },
    status: 400,
    names: 'body.endpoint',
  },
  'PUT /takers/{takerId}/state': {
    request: { method: 'PUT', url: '/takers/taker1/state', payload: { state: 'asleep' } },
    status: 400,
    names: 'body.state',
  },
  'GET /takers/{takerId}/desk': {
    request: { method: 'GET', url: '/takers/no%20one/desk' },
    status: 400,
    names: 'params.takerId',
  },
  'PUT /caller-lists/{number}': {
    request: {
      method: 'PUT',
      url: '/caller-lists/081200000001',
      payload: { list: 'grey', reason: 'x', author: 'a' },
    },
    status: 400,
    names: 'body.list',
  },
  'DELETE /caller-lists/{number}': {
    request: { method: 'DELETE', url: '/caller-lists/hello' },
    status: 400,
    names: 'params.number',
  },
  'POST /rules': {
    request: { method: 'POST', url: '/rules', payload: { rules: DEFAULT_RULES, author: 'rina' } },
    status: 400,
    names: 'body.comment',
  },
  'POST /rules/validate': {
    request: {
      method: 'POST',
      url: '/rules/validate',
      payload: { rules: { ...DEFAULT_RULES, releaseAfterPranks24h: 0 } },
    },
    status: 400,
    names: 'body.rules.releaseAfterPranks24h',
  },
  'POST /rules/backtest': {
    request: {
      method: 'POST',
      url: '/rules/backtest',
      payload: { rules: DEFAULT_RULES, from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' },
    },
    status: 400,
    names: 'body.to',
  },
  'POST /rules/{version}/activate': {
    request: { method: 'POST', url: '/rules/0/activate', payload: { author: 'rina' } },
    status: 400,
    names: 'params.version',
  },
  'PUT /calls/{callId}/verdict': {
    request: {
      method: 'PUT',
      url: `/calls/${UNKNOWN_ID}/verdict`,
      payload: { verdict: 'funny', takerId: 'taker1' },
    },
    status: 400,
    names: 'body.verdict',
  },
  'POST /calls/{callId}/hold': {
    request: { method: 'POST', url: '/calls/not-a-call/hold', payload: { takerId: 'taker1' } },
    status: 400,
    names: 'params.callId',
  },
  'POST /calls/{callId}/resume': {
    request: { method: 'POST', url: `/calls/${UNKNOWN_ID}/resume`, payload: {} },
    status: 400,
    names: 'body.takerId',
  },
  'POST /calls/{callId}/conference': {
    request: {
      method: 'POST',
      url: `/calls/${UNKNOWN_ID}/conference`,
      payload: { takerId: 'taker1', agencyId: 'Police!' },
    },
    status: 400,
    names: 'body.agencyId',
  },
  'POST /calls/{callId}/leave': {
    request: { method: 'POST', url: `/calls/${UNKNOWN_ID}/leave`, payload: { takerId: 'taker 1' } },
    status: 400,
    names: 'body.takerId',
  },
  'POST /calls/{callId}/monitor': {
    request: {
      method: 'POST',
      url: `/calls/${UNKNOWN_ID}/monitor`,
      payload: { supervisorId: 'sup1', endpoint: 'Local/evil', mode: 'listen' },
    },
    status: 400,
    names: 'body.endpoint',
  },
  'GET /calls': {
    request: { method: 'GET', url: '/calls?from=yesterday&to=today' },
    status: 400,
    names: 'querystring.from',
  },
  'GET /calls/{callId}': {
    request: { method: 'GET', url: '/calls/42' },
    status: 400,
    names: 'params.callId',
  },
  'GET /callers/{number}/history': {
    request: { method: 'GET', url: '/callers/hello/history' },
    status: 400,
    names: 'params.number',
  },
  'GET /calls/{callId}/recordings': {
    request: { method: 'GET', url: '/calls/42/recordings' },
    status: 400,
    names: 'params.callId',
  },
  'GET /calls/{callId}/recordings/{segment}': {
    request: { method: 'GET', url: `/calls/${UNKNOWN_ID}/recordings/1` },
    status: 400,
    names: 'querystring.reason',
  },
  'PUT /calls/{callId}/legal-hold': {
    request: {
      method: 'PUT',
      url: `/calls/${UNKNOWN_ID}/legal-hold`,
      payload: { hold: 'yes', reason: 'case 1' },
    },
    status: 400,
    names: 'body.hold',
  },
  'GET /exports/prank-calls.tar': {
    request: { method: 'GET', url: '/exports/prank-calls.tar?number=hello&reason=police%20request' },
    status: 400,
    names: 'querystring.number',
  },
  'GET /exports/calls.csv': {
    request: { method: 'GET', url: '/exports/calls.csv?from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z' },
    status: 400,
    names: 'querystring.to',
  },
  'GET /reports/calls': {
    request: {
      method: 'GET',
      url: '/reports/calls?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&by=week',
    },
    status: 400,
    names: 'querystring.by',
  },
  'GET /callbacks': {
    request: { method: 'GET', url: '/callbacks?status=forgotten' },
    status: 400,
    names: 'querystring.status',
  },
  'POST /callbacks/{callbackId}/claim': {
    request: { method: 'POST', url: `/callbacks/${UNKNOWN_ID}/claim`, payload: { takerId: '' } },
    status: 400,
    names: 'body.takerId',
  },
  // The wallboard: a session is opened with a key, never with another session's cookie.
  'POST /wallboard/session': {
    request: {
      method: 'POST',
      url: '/wallboard/session',
      headers: {
        authorization: '',
        cookie: 'siaga112_wallboard=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      },
    },
    status: 401,
    names: 'headers.authorization',
  },
  'DELETE /wallboard/session': {
    request: { method: 'DELETE', url: '/wallboard/session', headers: { authorization: 'Basic c2lhZ2E=' } },
    status: 401,
    names: 'headers.authorization',
  },
  'GET /wallboard/summary': {
    request: { method: 'GET', url: '/wallboard/summary?timeZone=Mars/Olympus_Mons' },
    status: 400,
    names: 'querystring.timeZone',
  },
  'GET /wallboard/stream': {
    request: { method: 'GET', url: '/wallboard/stream?timeZone=UTC+7' },
    status: 400,
    names: 'querystring.timeZone',
  },
};

/** The OpenAPI document's operations, as `METHOD /path`. */
async function documentedRoutes(c: CallCenterUnderTest): Promise<string[]> {
  const document = (await c.service.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

let center: CallCenterUnderTest;
beforeAll(async () => {
  center = await startCallCenter({ takers: 2 });
});
afterAll(async () => {
  await center?.close();
});

describe('every route', () => {
  it('refuses an invalid request with a problem naming the field', async () => {
    const routes = await documentedRoutes(center);
    expect(
      Object.keys(REFUSALS)
        .filter((key) => !key.includes('?'))
        .sort(),
    ).toEqual([...routes].sort());
    let client = 0;
    for (const [route, refusal] of Object.entries(REFUSALS)) {
      // Each from its own address: ten bad credentials from one would be slowed down (429).
      client += 1;
      const reply = await center.service.app.inject({
        remoteAddress: `192.0.2.${client}`,
        ...refusal.request,
      });
      expect(reply.statusCode, route).toBe(refusal.status);
      expect(reply.headers['content-type'], route).toMatch(/^application\/problem\+json/);
      const problem = reply.json() as { detail: string; status: number };
      expect(problem.status, route).toBe(refusal.status);
      expect(problem.detail, route).toMatch(new RegExp(`^${refusal.names.replaceAll('.', '\\.')}\\b`));
    }
  });

  it('accepts a valid request to each, and does what it says', async () => {
    const routes = new Set(await documentedRoutes(center));
    const served = new Set<string>();
    const inject = async (route: string, request: Partial<InjectOptions>, status: number) => {
      const [method, path] = route.split(' ') as ['GET', string];
      const reply = await center.service.app.inject({ method, url: path, ...request } as InjectOptions);
      expect(reply.statusCode, `${route}: ${reply.body.slice(0, 300)}`).toBe(status);
      served.add(route);
      return reply;
    };
    const { from, to } = RANGE();

    expect((await inject('GET /health', { url: '/health' }, 200)).json()).toEqual({ status: 'ok' });
    expect((await inject('GET /ready', { url: '/ready' }, 200)).json().ready).toBe(true);
    expect((await inject('GET /metrics', { url: '/metrics' }, 200)).body).toContain('siaga112_calls_waiting');
    expect((await inject('GET /agencies', { url: '/agencies' }, 200)).json()).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'police' })]),
    );

    // The directory and the desk state.
    const ayu = { name: 'Ayu', endpoint: 'PJSIP/taker3', skills: ['medical'] };
    expect(
      (await inject('PUT /takers/{takerId}', { url: '/takers/taker3', payload: ayu }, 200)).json(),
    ).toMatchObject({ id: 'taker3', ...ayu, active: true });
    const directory = (await inject('GET /takers', { url: '/takers' }, 200)).json() as Array<{ id: string }>;
    expect(directory.map((t) => t.id)).toEqual(expect.arrayContaining(['taker1', 'taker2', 'taker3']));
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    const state = await inject(
      'PUT /takers/{takerId}/state',
      { url: '/takers/taker1/state', payload: { state: 'available' } },
      200,
    );
    expect(state.json()).toMatchObject({ takerId: 'taker1', state: 'available' });
    const presence = (await inject('GET /takers/presence', { url: '/takers/presence' }, 200)).json();
    expect(presence).toEqual(
      expect.arrayContaining([expect.objectContaining({ takerId: 'taker1', state: 'available' })]),
    );

    // Lists.
    const entry = { list: 'block', reason: 'known prankster', author: 'rina' };
    expect(
      (
        await inject('PUT /caller-lists/{number}', { url: '/caller-lists/081200000001', payload: entry }, 200)
      ).json(),
    ).toMatchObject({ number: '+6281200000001', list: 'block' });
    expect((await inject('GET /caller-lists', { url: '/caller-lists' }, 200)).json()).toHaveLength(1);
    await inject('DELETE /caller-lists/{number}', { url: '/caller-lists/081200000001' }, 204);
    expect((await inject('GET /caller-lists', { url: '/caller-lists' }, 200)).json()).toHaveLength(0);

    // Rules.
    expect((await inject('GET /rules/schema', { url: '/rules/schema' }, 200)).json()).toHaveProperty(
      'properties',
    );
    const created = await inject(
      'POST /rules',
      { url: '/rules', payload: { rules: DEFAULT_RULES, comment: 'the defaults, again', author: 'rina' } },
      201,
    );
    const { version } = created.json() as { version: number };
    expect((await inject('GET /rules', { url: '/rules' }, 200)).json()).toEqual(
      expect.arrayContaining([expect.objectContaining({ version })]),
    );
    await inject(
      'POST /rules/{version}/activate',
      { url: `/rules/${version}/activate`, payload: { author: 'rina' } },
      200,
    );
    expect((await inject('GET /rules/in-force', { url: '/rules/in-force' }, 200)).json()).toMatchObject({
      version,
    });

    // A live call: controls, monitoring and an agency.
    center.emulator.setEndpoint('PJSIP/supervisor1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/110@telkomsel', { answer: 'after', delayMs: 20 });
    const api = await center.service.app.listen({ host: '127.0.0.1', port: 0 });
    const desk = await firstEvent(`${api}/takers/taker1/desk`);
    served.add('GET /takers/{takerId}/desk');
    expect(desk).toMatchObject({ event: 'ready', data: { takerId: 'taker1' } });
    const live = await firstEvent(`${api}/live/stream`);
    served.add('GET /live/stream');
    expect(live.data).toHaveProperty('waiting');
    const wallboard = await firstEvent(`${api}/wallboard/stream?timeZone=Asia/Makassar`);
    served.add('GET /wallboard/stream');
    expect(wallboard).toMatchObject({ event: 'live', data: { rate: 1 } });

    const call = center.emulator.placeCall({ from: '081277770001' });
    const callId = await connected(call);
    expect((await inject('GET /live', { url: '/live' }, 200)).json().takers).toEqual(
      expect.arrayContaining([expect.objectContaining({ takerId: 'taker1', state: 'on-call' })]),
    );
    const candidate = { ...DEFAULT_RULES, releaseAfterPranks24h: DEFAULT_RULES.releaseAfterPranks24h + 1 };
    const validated = await inject(
      'POST /rules/validate',
      { url: '/rules/validate', payload: { rules: candidate } },
      200,
    );
    expect(validated.json()).toMatchObject({
      valid: true,
      changes: [{ field: 'releaseAfterPranks24h', candidate: candidate.releaseAfterPranks24h }],
    });
    const asTaker = { takerId: 'taker1' };
    await inject('POST /calls/{callId}/hold', { url: `/calls/${callId}/hold`, payload: asTaker }, 202);
    await inject('POST /calls/{callId}/resume', { url: `/calls/${callId}/resume`, payload: asTaker }, 202);
    const monitor = { supervisorId: 'sup1', endpoint: 'PJSIP/supervisor1', mode: 'listen' };
    await inject('POST /calls/{callId}/monitor', { url: `/calls/${callId}/monitor`, payload: monitor }, 202);
    await inject(
      'POST /calls/{callId}/conference',
      { url: `/calls/${callId}/conference`, payload: { ...asTaker, agencyId: 'police' } },
      202,
    );
    await eventually(
      async () => (await center.calls.listCallEvents(callId)).some((e) => e.type === 'agency-joined'),
      'the police on the line',
    );
    await inject('POST /calls/{callId}/leave', { url: `/calls/${callId}/leave`, payload: asTaker }, 202);
    call.hangup();
    await call.ended;
    await eventually(async () => (await center.calls.getCall(callId))?.endedAt, 'the record ended');
    const verdict = { verdict: 'genuine', takerId: 'taker1', incidentCategory: 'police' };
    expect(
      (
        await inject(
          'PUT /calls/{callId}/verdict',
          { url: `/calls/${callId}/verdict`, payload: verdict },
          200,
        )
      ).json(),
    ).toEqual({ callId, verdict: 'genuine' });

    // Records and reports.
    const range = `from=${from}&to=${encodeURIComponent(to)}`;
    const found = (await inject('GET /calls', { url: `/calls?${range}&verdict=genuine` }, 200)).json();
    expect(found.items.map((c: { id: string }) => c.id)).toEqual([callId]);
    const detail = (await inject('GET /calls/{callId}', { url: `/calls/${callId}` }, 200)).json();
    expect(detail.events.map((e: { type: string }) => e.type)).toEqual(
      expect.arrayContaining(['arrived', 'held', 'resumed', 'agency-joined', 'ended']),
    );
    const history = (
      await inject('GET /callers/{number}/history', { url: '/callers/081277770001/history' }, 200)
    ).json();
    expect(history).toMatchObject({ number: '+6281277770001', verdicts: { genuine: 1 } });
    const csv = (await inject('GET /exports/calls.csv', { url: `/exports/calls.csv?${range}` }, 200)).body;
    expect(csv.split('\r\n').filter(Boolean)).toHaveLength(2);
    const report = (
      await inject('GET /reports/calls', { url: `/reports/calls?${range}&by=day` }, 200)
    ).json();
    expect(report.rows.reduce((sum: number, row: { answered: number }) => sum + row.answered, 0)).toBe(1);
    const today = (await inject('GET /wallboard/summary', { url: '/wallboard/summary' }, 200)).json();
    expect(today).toMatchObject({ timeZone: 'Asia/Jakarta', figures: { answered: 1 } });
    const session = await inject('POST /wallboard/session', { url: '/wallboard/session' }, 200);
    const cookie = String(session.headers['set-cookie']).split(';')[0] as string;
    await inject('DELETE /wallboard/session', { url: '/wallboard/session', headers: { cookie } }, 204);
    const backtest = await inject(
      'POST /rules/backtest',
      {
        url: '/rules/backtest',
        payload: { rules: DEFAULT_RULES, from: new Date(Date.now() - 86400_000).toISOString(), to },
      },
      200,
    );
    expect(backtest.json()).toMatchObject({ calls: 1, changes: [], inForceVersion: version });

    // Recordings: the call's segments, a playback (audited with its reason), a legal hold, and the
    // police export of a caller's recorded prank calls.
    await eventually(async () => {
      const list = await inject(
        'GET /calls/{callId}/recordings',
        { url: `/calls/${callId}/recordings` },
        200,
      );
      const segments = list.json().segments as Array<{ state: string }>;
      return segments.length === 2 && segments.every((segment) => segment.state === 'done');
    }, 'the call recorded');
    const played = await inject(
      'GET /calls/{callId}/recordings/{segment}',
      { url: `/calls/${callId}/recordings/2?reason=quality%20review`, headers: { range: 'bytes=0-43' } },
      206,
    );
    expect(played.rawPayload.subarray(0, 4).toString('ascii')).toBe('RIFF');
    const held = await inject(
      'PUT /calls/{callId}/legal-hold',
      { url: `/calls/${callId}/legal-hold`, payload: { hold: true, reason: 'complaint 12/2026' } },
      200,
    );
    expect(held.json()).toMatchObject({ callId, hold: true });
    const prank = center.emulator.placeCall({ from: '081277770003' });
    const prankId = await connected(prank);
    prank.hangup();
    await eventually(async () => (await center.calls.getCall(prankId))?.endedAt, 'the prank call ended');
    await inject(
      'PUT /calls/{callId}/verdict',
      { url: `/calls/${prankId}/verdict`, payload: { verdict: 'prank', takerId: 'taker1' } },
      200,
    );
    await eventually(async () => {
      const segments = (await center.service.recordings.routes.listForCall(prankId))?.segments ?? [];
      return segments.length === 2 && segments.every((segment) => segment.state === 'done');
    }, 'the prank call recorded');
    const bundle = await inject(
      'GET /exports/prank-calls.tar',
      { url: '/exports/prank-calls.tar?number=081277770003&reason=police%20request%20LP-9' },
      200,
    );
    expect(bundle.headers['content-type']).toBe('application/x-tar');

    // A caller who hangs up before anyone answers is owed a callback, which a taker claims.
    await inject(
      'PUT /takers/{takerId}/state',
      { url: '/takers/taker1/state', payload: { state: 'offline' } },
      200,
    );
    const missed = center.emulator.placeCall({ from: '081277770002' });
    await eventually(
      async () => (await center.service.queue.listSnapshots()).length === 1,
      'the call waiting',
    );
    missed.hangup();
    await missed.ended;
    const callbacks = await eventually(async () => {
      const list = (await inject('GET /callbacks', { url: '/callbacks?status=pending' }, 200)).json();
      return list.length === 1 ? (list as Array<{ id: string; callerNumber: string }>) : undefined;
    }, 'the callback owed');
    expect(callbacks[0]?.callerNumber).toBe('+6281277770002');
    await inject(
      'PUT /takers/{takerId}/state',
      { url: '/takers/taker1/state', payload: { state: 'available' } },
      200,
    );
    const claimed = await inject(
      'POST /callbacks/{callbackId}/claim',
      { url: `/callbacks/${callbacks[0]?.id}/claim`, payload: asTaker },
      202,
    );
    expect(claimed.json()).toMatchObject({ takerId: 'taker1', attempt: 1 });
    expect((await inject('GET /live/notices', { url: '/live/notices?limit=10' }, 200)).json()).toBeInstanceOf(
      Array,
    );

    expect([...routes].filter((route) => !served.has(route))).toEqual([]);
  });
});

/** Waits until the call is connected to a taker; its call id. */
async function connected(call: InboundCall): Promise<string> {
  await untilBridged(center, call, 'the caller with the taker');
  const snapshot = await eventually(
    async () =>
      (await center.service.queue.listSnapshots())
        .map((text) => JSON.parse(text) as { callId: string; callerChannelId: string; state: string })
        .find((s) => s.callerChannelId === call.channelId && s.state === 'connected'),
    'the call connected',
  );
  return snapshot.callId;
}

/** The first server-sent event of a stream, then the stream is closed. */
async function firstEvent(url: string): Promise<{ event: string; data: Record<string, unknown> }> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${center.adminKey}` },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const block = text.split('\n\n').find((b) => b.includes('data:'));
    if (block) {
      await reader.cancel();
      controller.abort();
      const field = (name: string) =>
        block
          .split('\n')
          .find((line) => line.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim() ?? '';
      return { event: field('event') || 'message', data: JSON.parse(field('data')) };
    }
  }
  throw new Error(`${url} ended without an event`);
}
