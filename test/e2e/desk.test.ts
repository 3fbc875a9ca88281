import { afterEach, describe, expect, it } from 'vitest';
import type { InboundCall } from '../../src/emulator/asterisk-emulator.ts';
import type { DeskEvent } from '../../src/queues/desk-events.ts';
import { createCallbackRepository } from '../../src/records/callback-repository.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
const streams: AbortController[] = [];
afterEach(async () => {
  for (const stream of streams.splice(0)) stream.abort();
  await center?.close();
  center = undefined;
});

/** A call taker's desk: the server-sent events of GET /takers/{id}/desk, collected as they come. */
async function openDesk(c: CallCenterUnderTest, api: string, takerId: string): Promise<DeskEvent[]> {
  const controller = new AbortController();
  streams.push(controller);
  // The desk signs in with its own call taker's key.
  const key = await c.createKey('call-taker', takerId);
  const response = await fetch(`${api}/takers/${takerId}/desk`, {
    signal: controller.signal,
    headers: { authorization: `Bearer ${key}` },
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: DeskEvent[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let ready: () => void = () => {};
  const isReady = new Promise<void>((resolve) => {
    ready = resolve;
  });
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let end = buffer.indexOf('\n\n');
        while (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (type === 'ready') ready();
          else if (type && data) events.push(JSON.parse(data) as DeskEvent);
          end = buffer.indexOf('\n\n');
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  await isReady;
  return events;
}

async function post(c: CallCenterUnderTest, url: string, payload: Record<string, unknown>) {
  return c.service.app.inject({ method: 'POST', url, payload });
}

async function connectedCall(
  c: CallCenterUnderTest,
  from = '081211112222',
): Promise<{ call: InboundCall; callId: string }> {
  const call = c.emulator.placeCall({ from });
  await untilBridged(c, call, 'the caller with the taker');
  const row = await eventually(
    async () =>
      (await c.service.queue.listSnapshots())
        .map((text) => JSON.parse(text) as { callId: string; callerChannelId: string; state: string })
        .find((snapshot) => snapshot.callerChannelId === call.channelId && snapshot.state === 'connected'),
    'the call connected',
  );
  return { call, callId: row.callId };
}

const bridgeOf = (c: CallCenterUnderTest, callId: string) =>
  c.emulator.snapshot().bridges.find((bridge) => bridge.id === `${callId}-bridge`)?.channels ?? [];

async function eventTypes(c: CallCenterUnderTest, callId: string): Promise<string[]> {
  return (await c.calls.listCallEvents(callId)).map((event) => event.type);
}

describe("the call taker's desk", () => {
  it('pops the call on the desk when the phone rings: caller, trunk, screening, last calls; then connected and ended', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 30, hangupAfterMs: 50 });
    await center.makeAvailable('taker1');
    const api = await center.service.app.listen({ host: '127.0.0.1', port: 0 });
    const desk = await openDesk(center, api, 'taker1');

    const first = center.emulator.placeCall({ from: '081233334444', trunk: 'indosat' });
    await first.ended;
    await eventually(() => desk.some((e) => e.type === 'ended'), 'the first call ended on the desk');
    const firstId = desk[0]!.callId;
    await eventually(async () => (await center!.calls.getCall(firstId))?.disposition, 'the first record');

    const second = center.emulator.placeCall({ from: '+6281233334444', trunk: 'indosat' });
    await second.ended;
    await eventually(() => desk.filter((e) => e.type === 'ended').length === 2, 'the second call ended');
    const pop = desk.filter((e) => e.type === 'offer')[1]!;
    expect(pop.detail).toMatchObject({
      callerNumber: '+6281233334444',
      callerIdRaw: '+6281233334444',
      callerIdKind: 'e164',
      trunk: 'indosat',
      priority: 1,
      screening: { decision: 'connect' },
      recentCalls: [{ callId: firstId, disposition: 'connected', verdict: null }],
    });
    const secondId = pop.callId;
    expect(desk.filter((e) => e.callId === secondId).map((e) => e.type)).toEqual([
      'offer',
      'connected',
      'ended',
    ]);
    // Another taker's desk hears nothing of it.
    const unknownDesk = await fetch(`${api}/takers/nobody/desk`, {
      headers: { authorization: `Bearer ${center.adminKey}` },
    });
    expect(unknownDesk.status).toBe(404);
  });

  it('holds the caller (out of the bridge, on music) and resumes; refuses what the taker may not do, naming why', async () => {
    center = await startCallCenter({ takers: 2 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    const mohStarted: string[] = [];
    center.emulator.on('request', ({ operation, path }) => {
      if (operation === 'channels.startMoh') mohStarted.push(path);
    });
    const { call, callId } = await connectedCall(center);

    const held = await post(center, `/calls/${callId}/hold`, { takerId: 'taker1' });
    expect(held.statusCode, held.body).toBe(202);
    await eventually(
      () => !bridgeOf(center!, callId).includes(call.channelId),
      'the caller out of the bridge',
    );
    expect(mohStarted.some((path) => path.includes(call.channelId))).toBe(true);
    expect((await post(center, `/calls/${callId}/hold`, { takerId: 'taker1' })).statusCode).toBe(409);

    const resumed = await post(center, `/calls/${callId}/resume`, { takerId: 'taker1' });
    expect(resumed.statusCode, resumed.body).toBe(202);
    await eventually(
      () => bridgeOf(center!, callId).includes(call.channelId),
      'the caller back in the bridge',
    );

    const notYours = await post(center, `/calls/${callId}/hold`, { takerId: 'taker2' });
    expect(notYours.statusCode).toBe(409);
    expect(notYours.json()).toMatchObject({ type: expect.stringContaining('not-your-call') });
    const unknownCall = await post(center, '/calls/00000000-0000-4000-8000-000000000000/hold', {
      takerId: 'taker1',
    });
    expect(unknownCall.statusCode).toBe(404);
    const badBody = await post(center, `/calls/${callId}/hold`, { takerId: 'taker 1!' });
    expect(badBody.statusCode).toBe(400);
    expect(badBody.json().detail).toMatch(/^body\.takerId: /);
    const badAgency = await post(center, `/calls/${callId}/conference`, {
      takerId: 'taker1',
      agencyId: 'ghostbusters',
    });
    expect(badAgency.statusCode).toBe(400);
    expect(badAgency.json().detail).toMatch(/^body\.agencyId: /);

    call.hangup();
    await eventually(
      async () => (await center!.calls.getCall(callId))?.disposition === 'connected',
      'the record',
    );
    const types = await eventTypes(center, callId);
    expect(types.indexOf('held')).toBeLessThan(types.indexOf('resumed'));
  });

  it('conferences the police in (three on the line), then the taker leaves them with the caller', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/110@telkomsel', { answer: 'after', delayMs: 40 });
    await center.makeAvailable('taker1');
    const agencies = (await center.service.app.inject({ method: 'GET', url: '/agencies' })).json();
    expect(agencies).toEqual(
      expect.arrayContaining([{ id: 'police', name: 'Polisi 110', dial: 'PJSIP/110@telkomsel' }]),
    );
    const { call, callId } = await connectedCall(center);

    const dialed = await post(center, `/calls/${callId}/conference`, {
      takerId: 'taker1',
      agencyId: 'police',
    });
    expect(dialed.statusCode, dialed.body).toBe(202);
    await eventually(() => bridgeOf(center!, callId).length === 3, 'caller, taker and police in one bridge');

    expect((await post(center, `/calls/${callId}/leave`, { takerId: 'taker1' })).statusCode).toBe(202);
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
      'the taker free',
    );
    const members = bridgeOf(center, callId);
    expect(members).toHaveLength(2);
    expect(members).toContain(call.channelId);

    call.hangup();
    const record = await eventually(async () => {
      const r = await center!.calls.getCall(callId);
      return r?.disposition ? r : undefined;
    }, 'the record');
    expect(record).toMatchObject({ disposition: 'connected', takerId: 'taker1' });
    // Nothing left behind: the agency's leg was hung up with the caller's.
    await eventually(() => center!.emulator.snapshot().channels.length === 0, 'every channel gone');
    const types = await eventTypes(center, callId);
    expect(types).toEqual(
      expect.arrayContaining(['agency-dialing', 'agency-joined', 'handed-over', 'ended']),
    );
    expect(types.indexOf('agency-joined')).toBeLessThan(types.indexOf('handed-over'));
  });

  it('an agency that does not answer gives control back to the taker, with the reason', async () => {
    center = await startCallCenter({ takers: 1, env: { AGENCY_RING_SECONDS: '1' } });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/113@telkomsel', { answer: 'never' });
    await center.makeAvailable('taker1');
    const api = await center.service.app.listen({ host: '127.0.0.1', port: 0 });
    const desk = await openDesk(center, api, 'taker1');
    const { call, callId } = await connectedCall(center);

    expect(
      (await post(center, `/calls/${callId}/conference`, { takerId: 'taker1', agencyId: 'fire' })).statusCode,
    ).toBe(202);
    const failed = await eventually(() => desk.find((e) => e.type === 'agency-failed'), 'the desk told');
    expect(failed.detail).toMatchObject({ agencyId: 'fire', reason: 'no-answer' });
    // The caller and the taker are still talking.
    expect(bridgeOf(center, callId)).toHaveLength(2);
    expect((await post(center, `/calls/${callId}/leave`, { takerId: 'taker1' })).statusCode).toBe(409);
    call.hangup();
    await eventually(
      async () => (await center!.calls.getCall(callId))?.disposition === 'connected',
      'the record',
    );
    expect(await eventTypes(center, callId)).toEqual(
      expect.arrayContaining(['agency-dialing', 'agency-failed']),
    );
  });

  it('hands the caller over blind: the taker leaves as soon as the ambulance answers', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/118@telkomsel', { answer: 'after', delayMs: 30 });
    await center.makeAvailable('taker1');
    const { call, callId } = await connectedCall(center);

    const handOver = { takerId: 'taker1', agencyId: 'ambulance', handOver: true };
    expect((await post(center, `/calls/${callId}/conference`, handOver)).statusCode).toBe(202);
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
      'the taker free',
    );
    const members = bridgeOf(center, callId);
    expect(members).toHaveLength(2);
    expect(members).toContain(call.channelId);
    expect(members.some((id) => id.startsWith('siaga112-agency-'))).toBe(true);

    // The ambulance hangs up: the caller is not left alone on the line.
    center.emulator.hangupChannel(members.find((id) => id.startsWith('siaga112-agency-'))!);
    await call.ended;
    const record = await eventually(async () => {
      const r = await center!.calls.getCall(callId);
      return r?.disposition ? r : undefined;
    }, 'the record');
    expect(record.endedBy).toBe('system');
    const types = await eventTypes(center, callId);
    expect(types).toEqual(expect.arrayContaining(['agency-joined', 'handed-over', 'agency-left', 'ended']));
  });

  it('files the verdict with a note and an incident category; wrap-up ending without one files unknown, flagged', async () => {
    center = await startCallCenter({ takers: 1, env: { WRAP_UP_SECONDS: '1' } });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    await center.makeAvailable('taker1');
    const verdictOf = (channelId: string) =>
      center!.database.db
        .selectFrom('calls')
        .select(['id', 'disposition', 'verdict', 'verdict_note', 'incident_category', 'verdict_auto'])
        .where('caller_channel_id', '=', channelId)
        .executeTakeFirst();

    const judged = center.emulator.placeCall({ from: '081255556666' });
    await judged.ended;
    const judgedRow = await eventually(async () => {
      const row = await verdictOf(judged.channelId);
      return row?.disposition ? row : undefined;
    }, 'the first record');
    const reply = await center.service.app.inject({
      method: 'PUT',
      url: `/calls/${judgedRow.id}/verdict`,
      payload: {
        verdict: 'genuine',
        takerId: 'taker1',
        note: 'kebakaran rumah, Jl. Sudirman 12',
        incidentCategory: 'fire',
      },
    });
    expect(reply.statusCode, reply.body).toBe(200);
    const badCategory = await center.service.app.inject({
      method: 'PUT',
      url: `/calls/${judgedRow.id}/verdict`,
      payload: { verdict: 'genuine', takerId: 'taker1', incidentCategory: 'aliens' },
    });
    expect(badCategory.statusCode).toBe(400);
    expect(badCategory.json().detail).toMatch(/^body\.incidentCategory: /);

    // Wait for the taker's wrap-up (1 s) to pass, before the next call is placed.
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
      'wrap-up over',
    );
    const unjudged = center.emulator.placeCall({ from: '081277778888' });
    await unjudged.ended;
    const filed = await eventually(async () => {
      const row = await verdictOf(unjudged.channelId);
      return row?.verdict ? row : undefined;
    }, 'the missing verdict filed once wrap-up ended');
    expect(filed).toMatchObject({ verdict: 'unknown', verdict_auto: true });
    expect(await verdictOf(judged.channelId)).toMatchObject({
      verdict: 'genuine',
      verdict_note: 'kebakaran rumah, Jl. Sudirman 12',
      incident_category: 'fire',
      verdict_auto: false,
    });
    // Both on the timeline: the taker's verdict, and the one that went missing.
    await eventually(
      async () => (await eventTypes(center!, judgedRow.id)).includes('verdict'),
      'the verdict event',
    );
    await eventually(
      async () => (await eventTypes(center!, filed.id)).includes('verdict-missing'),
      'the missing-verdict event',
    );
  });

  it('lets a supervisor listen in and whisper to the taker, each on the timeline with who and how', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/supervisor1', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    const snoops: Array<{ spied: string; spy: string; whisper: string }> = [];
    center.emulator.on('channel-created', ({ kind, snoop }) => {
      if (kind === 'snoop' && snoop)
        snoops.push({ spied: snoop.spiedChannelId, spy: snoop.spy, whisper: snoop.whisper });
    });
    const { call, callId } = await connectedCall(center);
    const takerLeg = bridgeOf(center, callId).find((id) => id !== call.channelId)!;
    const monitorBridges = () =>
      center!.emulator
        .snapshot()
        .bridges.filter((b) => b.id.startsWith('siaga112-monitor-') && b.channels.length === 2);

    const listen = { supervisorId: 'sup1', endpoint: 'PJSIP/supervisor1', mode: 'listen' };
    expect((await post(center, `/calls/${callId}/monitor`, listen)).statusCode).toBe(202);
    await eventually(() => monitorBridges().length === 1, 'the supervisor listening');
    const whisper = { supervisorId: 'sup1', endpoint: 'PJSIP/supervisor1', mode: 'whisper' };
    expect((await post(center, `/calls/${callId}/monitor`, whisper)).statusCode).toBe(202);
    await eventually(() => monitorBridges().length === 2, 'the supervisor whispering');
    // Listening spies on the caller both ways; whispering speaks to the taker only.
    expect(snoops).toEqual([
      { spied: call.channelId, spy: 'both', whisper: 'none' },
      { spied: takerLeg, spy: 'both', whisper: 'out' },
    ]);
    // The call itself is untouched: caller and taker still in their bridge.
    expect(bridgeOf(center, callId)).toHaveLength(2);

    const badEndpoint = await post(center, `/calls/${callId}/monitor`, { ...listen, endpoint: 'Local/evil' });
    expect(badEndpoint.statusCode).toBe(400);
    expect(badEndpoint.json().detail).toMatch(/^body\.endpoint: /);

    call.hangup();
    await eventually(() => center!.emulator.snapshot().channels.length === 0, 'every channel gone');
    const events = await eventually(async () => {
      const all = await center!.calls.listCallEvents(callId);
      return all.filter((e) => e.type === 'monitor-ended').length === 2 ? all : undefined;
    }, 'both monitorings ended on the timeline');
    const monitoring = events.filter((e) => e.type.startsWith('monitor-'));
    expect(monitoring.map((e) => [e.type, e.detail.mode, e.detail.supervisorId])).toEqual(
      expect.arrayContaining([
        ['monitor-started', 'listen', 'sup1'],
        ['monitor-connected', 'listen', 'sup1'],
        ['monitor-started', 'whisper', 'sup1'],
        ['monitor-connected', 'whisper', 'sup1'],
        ['monitor-ended', 'listen', 'sup1'],
        ['monitor-ended', 'whisper', 'sup1'],
      ]),
    );
  });

  it('pops a callback with the call it returns, then connected and ended', async () => {
    center = await startCallCenter({ takers: 1 });
    const api = await center.service.app.listen({ host: '127.0.0.1', port: 0 });
    // Nobody logged on: the caller hears the greeting, waits, and gives up.
    const abandoned = center.emulator.placeCall({ from: '081299998888' });
    const callId = await eventually(async () => {
      const row = await center!.database.db
        .selectFrom('calls')
        .select(['id', 'answered_at'])
        .where('caller_channel_id', '=', abandoned.channelId)
        .executeTakeFirst();
      return row?.answered_at ? row.id : undefined;
    }, 'the app answering the caller');
    abandoned.hangup();
    const callback = await eventually(
      async () => (await createCallbackRepository(center!.database.db).getByCall(callId)) ?? undefined,
      'the callback',
    );

    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/081299998888@telkomsel', {
      answer: 'after',
      delayMs: 20,
      hangupAfterMs: 100,
    });
    await center.makeAvailable('taker1');
    const desk = await openDesk(center, api, 'taker1');
    const claimed = await post(center, `/callbacks/${callback.id}/claim`, { takerId: 'taker1' });
    expect(claimed.statusCode, claimed.body).toBe(202);

    await eventually(() => desk.some((e) => e.type === 'ended'), 'the callback over on the desk');
    expect(desk.map((e) => e.type)).toEqual(['offer', 'connected', 'ended']);
    expect(desk[0]).toMatchObject({
      callId,
      detail: {
        callbackOf: callId,
        callbackId: callback.id,
        callerNumber: '+6281299998888',
        trunk: 'telkomsel',
        originalCall: { disposition: 'abandoned' },
      },
    });
    expect(desk[2]?.detail).toMatchObject({ reached: true });
  });
});
