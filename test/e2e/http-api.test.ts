import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

let center: CallCenterUnderTest;
beforeAll(async () => {
  center = await startCallCenter({ takers: 1 });
});
afterAll(async () => {
  await center.close();
});

describe('the HTTP API of a running service', () => {
  it('is healthy and ready when ARI, Redis and Postgres answer', async () => {
    const health = await center.service.app.inject({ method: 'GET', url: '/health' });
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await eventually(async () => {
      const reply = await center.service.app.inject({ method: 'GET', url: '/ready' });
      return reply.statusCode === 200 ? reply : undefined;
    }, '/ready to answer 200');
    expect(ready.json()).toEqual({
      ready: true,
      checks: { ari: true, redis: true, postgres: true, recording: true },
      degraded: [],
    });
  });

  it('rejects a malformed state change with a 400 that names the field', async () => {
    const reply = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'sleeping' },
    });
    expect(reply.statusCode).toBe(400);
    expect(reply.headers['content-type']).toContain('application/problem+json');
    expect(reply.json()).toMatchObject({ status: 400, title: 'invalid-request' });
    expect(reply.json().detail).toMatch(/^body\.state: /);

    const missing = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: {},
    });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().detail).toMatch(/^body\.state: /);
  });

  it('answers 404 for an unknown taker and an unknown route, and leaves presence untouched', async () => {
    const unknownTaker = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/nobody/state',
      payload: { state: 'available' },
    });
    expect(unknownTaker.statusCode).toBe(404);
    expect(unknownTaker.json()).toMatchObject({ title: 'taker-not-found', detail: 'no call taker nobody' });

    const unknownRoute = await center.service.app.inject({ method: 'GET', url: '/nowhere?x=1' });
    expect(unknownRoute.statusCode).toBe(404);
    expect(unknownRoute.json()).toMatchObject({ detail: 'no route GET /nowhere' });

    const presence = await center.service.app.inject({ method: 'GET', url: '/takers/presence' });
    expect(presence.json()).toEqual([]);
  });

  it('marks a taker available and lists the presence', async () => {
    await center.makeAvailable('taker1');
    const presence = await center.service.app.inject({ method: 'GET', url: '/takers/presence' });
    expect(presence.json()).toEqual([
      {
        takerId: 'taker1',
        state: 'available',
        reason: null,
        callId: null,
        since: expect.any(String),
        reachable: true,
      },
    ]);
  });

  it('shows the live queue per priority with wait times, and the takers', async () => {
    await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'offline' },
    });
    const call = center.emulator.placeCall({ from: '081234567890' });
    await eventually(async () => (await center.service.queue.waiting()).length === 1, 'the call waiting');
    const live = await center.service.app.inject({ method: 'GET', url: '/live' });
    expect(live.statusCode).toBe(200);
    const body = live.json();
    expect(body.waiting.urgent).toEqual([]);
    expect(body.waiting.low).toEqual([]);
    expect(body.waiting.normal).toEqual([
      { callId: expect.any(String), priority: 'normal', category: null, waitingMs: expect.any(Number) },
    ]);
    expect(body.longestWaitMs).toBe(body.waiting.normal[0].waitingMs);
    expect(body.takers).toMatchObject([{ takerId: 'taker1', state: 'offline', reachable: true }]);
    expect(body.takersByState).toEqual({ offline: 1 });
    call.hangup();
    await call.ended;

    const badLimit = await center.service.app.inject({ method: 'GET', url: '/live/notices?limit=0' });
    expect(badLimit.statusCode).toBe(400);
    expect(badLimit.json().detail).toMatch(/^querystring\.limit: /);
  });

  it('refuses a break reason on any other state, naming the field', async () => {
    const reply = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'available', reason: 'meal' },
    });
    expect(reply.statusCode).toBe(400);
    expect(reply.json().detail).toBe('body.reason: only a break has a reason');
  });

  it('is not ready while Asterisk is unreachable', async () => {
    // The earlier call's recording is stored first: the emulator removes its recording directory
    // when it stops, and a file gone before it was kept is a failed recording (degraded).
    await eventually(async () => {
      const rows = await center.database.db.selectFrom('call_recordings').select('state').execute();
      return rows.length > 0 && rows.every((row) => row.state !== 'recording');
    }, 'the recordings kept');
    await center.emulator.stop();
    const reply = await eventually(async () => {
      const r = await center.service.app.inject({ method: 'GET', url: '/ready' });
      return r.statusCode === 503 ? r : undefined;
    }, '/ready to answer 503');
    expect(reply.json()).toEqual({
      ready: false,
      checks: { ari: false, redis: true, postgres: true, recording: true },
      degraded: [],
    });
  });

  it('streams the live state as server-sent events, pushing a change when a taker logs on', async () => {
    const api = await center.service.app.listen({ host: '127.0.0.1', port: 0 });
    const controller = new AbortController();
    const response = await fetch(`${api}/live/stream`, {
      signal: controller.signal,
      headers: { authorization: `Bearer ${center.adminKey}` },
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const states: Array<{ takersByState: Record<string, number> }> = [];
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const reading = (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = /^data: (.+)$/m.exec(buffer.slice(0, end))?.[1];
          if (data) states.push(JSON.parse(data));
          buffer = buffer.slice(end + 2);
        }
      }
    })();
    await eventually(() => states.length >= 1, 'the first live state');
    const availableBefore = states[0]!.takersByState.available ?? 0;
    await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'offline' },
    });
    await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'available' },
    });
    await eventually(
      () =>
        states.some((state) => (state.takersByState.available ?? 0) !== availableBefore || states.length > 1),
      'a pushed change',
    );
    controller.abort();
    await reading;
  });
});
