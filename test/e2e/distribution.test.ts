import { afterEach, describe, expect, it } from 'vitest';
import type { CallCategory, PriorityLevel } from '../../src/queues/call-queue.ts';
import type { CallRecord } from '../../src/records/call-record.ts';
import { createTakerEventRepository } from '../../src/records/taker-event-repository.ts';
import { createTakerRepository } from '../../src/records/taker-repository.ts';
import type { CallClassification } from '../../src/routing/call-session.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

/**
 * Stands in for screening and the menu (their own issues): the caller's number decides the
 * call's place. `0811…` urgent, `0812…` normal, `0813…` low; a last digit 7 chose "fire".
 */
function classifyByNumber(event: { channel: { caller: { number: string } } }): CallClassification {
  const number = event.channel.caller.number;
  const level =
    ({ '0811': 0, '0812': 1, '0813': 2 } as Record<string, PriorityLevel>)[number.slice(0, 4)] ?? 1;
  const category: CallCategory | null = number.endsWith('7') ? 'fire' : null;
  return { level, category };
}

async function recordsByCaller(c: CallCenterUnderTest, count: number): Promise<Map<string, CallRecord>> {
  return eventually(async () => {
    const rows = await c.database.db.selectFrom('calls').select('id').execute();
    const records = await Promise.all(rows.map((r) => c.calls.getCall(r.id)));
    if (records.length !== count || records.some((r) => !r?.disposition)) return undefined;
    return new Map(records.map((r) => [r!.callerIdRaw, r!]));
  }, `${count} finished call records`);
}

async function waitingCount(c: CallCenterUnderTest, n: number): Promise<void> {
  await eventually(async () => (await c.service.queue.waiting()).length === n, `${n} calls waiting`);
}

describe('call distribution through the whole service', () => {
  it('answers urgent calls first, then normal, then low, first come first served within each', async () => {
    center = await startCallCenter({ takers: 1, service: { classify: classifyByNumber } });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    const callers = ['081300000001', '081200000001', '081100000001', '081200000002', '081100000002'];
    const calls = [];
    for (const [i, from] of callers.entries()) {
      calls.push(center.emulator.placeCall({ from }));
      await waitingCount(center, i + 1);
    }
    await center.makeAvailable('taker1');
    await Promise.all(calls.map((c) => c.ended));

    const records = await recordsByCaller(center, callers.length);
    const answered = [...records.values()].sort(
      (a, b) => a.connectedAt!.getTime() - b.connectedAt!.getTime(),
    );
    expect(answered.map((r) => r.callerIdRaw)).toEqual([
      '081100000001',
      '081100000002',
      '081200000001',
      '081200000002',
      '081300000001',
    ]);
    expect(answered.map((r) => r.priority)).toEqual([0, 0, 1, 1, 2]);
  });

  it('promotes a low-priority call that has waited past the ageing bound ahead of newer urgent calls', async () => {
    center = await startCallCenter({
      takers: 1,
      service: { classify: classifyByNumber },
      env: { QUEUE_AGING_SECONDS: '1' },
    });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    const low = center.emulator.placeCall({ from: '081300000009' });
    // Two bounds waited: the low call now counts as urgent, and it came first.
    const queuedAt = Date.now();
    await eventually(async () => Date.now() - queuedAt > 2100, 'the low call to wait two ageing bounds');
    const urgent = center.emulator.placeCall({ from: '081100000009' });
    await waitingCount(center, 2);
    await center.makeAvailable('taker1');
    await Promise.all([low.ended, urgent.ended]);
    const records = await recordsByCaller(center, 2);
    expect(records.get('081300000009')!.connectedAt!.getTime()).toBeLessThan(
      records.get('081100000009')!.connectedAt!.getTime(),
    );
  });

  it('offers a call to the longest-idle taker', async () => {
    center = await startCallCenter({ takers: 2 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    center.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    await center.makeAvailable('taker1');
    await center.makeAvailable('taker2');
    await center.emulator.placeCall({ from: '081200000001' }).ended;
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
      'taker1 free again',
    );
    await center.emulator.placeCall({ from: '081200000002' }).ended;
    const records = await recordsByCaller(center, 2);
    // taker1 had waited longest for the first call; after it, taker2 had.
    expect(records.get('081200000001')!.takerId).toBe('taker1');
    expect(records.get('081200000002')!.takerId).toBe('taker2');
  });

  it('keeps a call that chose a category for a skilled taker until the fallback bound, then takes anyone', async () => {
    center = await startCallCenter({
      takers: 0,
      service: { classify: classifyByNumber },
      env: { SKILL_FALLBACK_SECONDS: '1' },
    });
    const takers = createTakerRepository(center.database.db);
    await takers.upsertTaker({ id: 'medic', name: 'Medic', endpoint: 'PJSIP/medic', skills: ['medical'] });
    await takers.upsertTaker({ id: 'firefighter', name: 'Fire', endpoint: 'PJSIP/fire', skills: ['fire'] });
    center.emulator.setEndpoint('PJSIP/medic', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    center.emulator.setEndpoint('PJSIP/fire', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    await center.makeAvailable('medic');

    // Only the medic is free: the fire call waits for a fire-trained taker...
    const first = center.emulator.placeCall({ from: '081200000007' });
    await waitingCount(center, 1);
    expect((await center.service.queue.getTaker('medic'))?.state).toBe('available');
    // ...who arrives within the bound and gets it.
    await center.makeAvailable('firefighter');
    await first.ended;
    // Nobody trained for fire is free now: after the bound the medic takes the next fire call.
    await center.service.queue.setTakerState('firefighter', 'offline');
    const second = center.emulator.placeCall({ from: '081200000017' });
    await second.ended;
    const records = await recordsByCaller(center, 2);
    expect(records.get('081200000007')!.takerId).toBe('firefighter');
    const fallback = records.get('081200000017')!;
    expect(fallback.takerId).toBe('medic');
    expect(fallback.offeredAt!.getTime() - fallback.queuedAt!.getTime()).toBeGreaterThanOrEqual(1000);
  });

  it('puts a taker in wrap-up after a call, back to available by itself, every step in taker_events', async () => {
    center = await startCallCenter({ takers: 1, env: { WRAP_UP_SECONDS: '1' } });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    await center.makeAvailable('taker1');
    const first = center.emulator.placeCall({ from: '081200000001' });
    await first.ended;
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'wrap-up',
      'taker1 wrapping up',
    );
    // A call arriving during wrap-up waits for it to end, then reaches the same taker.
    const second = center.emulator.placeCall({ from: '081200000002' });
    await second.ended;
    const records = await recordsByCaller(center, 2);
    expect(records.get('081200000002')).toMatchObject({ disposition: 'connected', takerId: 'taker1' });

    const history = createTakerEventRepository(center.database.db);
    const states = await eventually(async () => {
      const events = await history.listTakerEvents('taker1');
      return events.length >= 9
        ? events.map((e) => `${e.state}${e.reason ? `/${e.reason}` : ''}`)
        : undefined;
    }, 'taker1 history in Postgres');
    expect(states.slice(0, 9)).toEqual([
      'available',
      'reserved',
      'on-call',
      'wrap-up',
      'available/wrap-up-ended',
      'reserved',
      'on-call',
      'wrap-up',
      'available/wrap-up-ended',
    ]);
  });

  it('sends a missed offer to break, tells supervisors, and re-offers the call at the head of the queue', async () => {
    center = await startCallCenter({ takers: 2 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
    center.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 10, hangupAfterMs: 30 });
    await center.makeAvailable('taker1');
    const first = center.emulator.placeCall({ from: '081200000001' });
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'reserved',
      'taker1 rung',
    );
    const second = center.emulator.placeCall({ from: '081200000002' });
    await waitingCount(center, 1);
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'break',
      'taker1 rang out',
    );
    // Both wait again, the first one back in its own place ahead of the second.
    const waiting = await center.service.queue.waiting();
    expect(waiting).toHaveLength(2);
    expect(waiting[0]!.enqueuedAt).toBeLessThan(waiting[1]!.enqueuedAt);
    await center.makeAvailable('taker2');
    await Promise.all([first.ended, second.ended]);
    const records = await recordsByCaller(center, 2);
    expect(records.get('081200000001')!.connectedAt!.getTime()).toBeLessThan(
      records.get('081200000002')!.connectedAt!.getTime(),
    );
    expect(await center.service.queue.getTaker('taker1')).toMatchObject({ state: 'break', reason: 'missed' });
    const notices = await center.service.notices.recent();
    expect(notices).toContainEqual(
      expect.objectContaining({
        kind: 'ring-no-answer',
        takerId: 'taker1',
        callId: records.get('081200000001')!.id,
      }),
    );
  });
});

describe('overflow to another center', () => {
  const PROVINCIAL = 'PJSIP/0401312112@provincial';

  it('overflows at once when no call taker is logged in, and records it on the call', async () => {
    center = await startCallCenter({ takers: 1, env: { OVERFLOW_TARGET: PROVINCIAL } });
    center.emulator.setEndpoint(PROVINCIAL, { answer: 'after', delayMs: 20 });
    const call = center.emulator.placeCall({ from: '081200000001' });
    await untilBridged(center, call, 'the caller bridged with the provincial center');
    call.hangup();
    const record = (await recordsByCaller(center, 1)).get('081200000001')!;
    expect(record).toMatchObject({ disposition: 'overflowed', takerId: null, connectedAt: null });
    const events = await center.calls.listCallEvents(record.id);
    expect(events.find((e) => e.type === 'overflowing')?.detail).toMatchObject({
      target: PROVINCIAL,
      reason: 'no-takers',
    });
    expect(events.find((e) => e.type === 'overflowed')?.detail).toMatchObject({ target: PROVINCIAL });
  });

  it('overflows a call that waited past the bound while takers are logged in but busy', async () => {
    center = await startCallCenter({
      takers: 1,
      env: { OVERFLOW_TARGET: PROVINCIAL, OVERFLOW_AFTER_SECONDS: '1' },
    });
    center.emulator.setEndpoint(PROVINCIAL, { answer: 'after', delayMs: 20 });
    const reply = await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'break', reason: 'briefing' },
    });
    expect(reply.statusCode).toBe(200);
    const call = center.emulator.placeCall({ from: '081200000001' });
    await untilBridged(center, call, 'the caller bridged with the provincial center');
    call.hangup();
    const record = (await recordsByCaller(center, 1)).get('081200000001')!;
    expect(record.disposition).toBe('overflowed');
    const events = await center.calls.listCallEvents(record.id);
    const overflowing = events.find((e) => e.type === 'overflowing')!;
    expect(overflowing.detail).toMatchObject({ reason: 'waited-too-long' });
    expect(overflowing.detail.waitedMs as number).toBeGreaterThanOrEqual(1000);
  });

  it('keeps the call in the queue, in its place, when the overflow target does not answer', async () => {
    center = await startCallCenter({ takers: 1, env: { OVERFLOW_TARGET: PROVINCIAL } });
    center.emulator.setEndpoint(PROVINCIAL, { answer: 'reject' });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    const call = center.emulator.placeCall({ from: '081200000001' });
    await eventually(async () => {
      const rows = await center!.database.db.selectFrom('call_events').select('type').execute();
      return rows.some((r) => r.type === 'overflow-failed');
    }, 'the overflow attempt to fail');
    await waitingCount(center, 1);
    await center.makeAvailable('taker1');
    await untilBridged(center, call, 'the caller bridged with taker1');
    call.hangup();
    const record = (await recordsByCaller(center, 1)).get('081200000001')!;
    expect(record).toMatchObject({ disposition: 'connected', takerId: 'taker1' });
  });
});

describe('softphone presence', () => {
  it.each([
    { via: 'ARI endpoint state', ami: false },
    { via: 'ARI endpoint state and AMI ContactStatus', ami: true },
  ])('takes a taker whose softphone is unreachable out of rotation and back ($via)', async ({ ami }) => {
    center = await startCallCenter({ takers: 2, ami });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    await center.makeAvailable('taker2');

    expect(center.emulator.setEndpointReachable('PJSIP/taker1', false)).toBe(true);
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.reason === 'unreachable',
      'taker1 out of rotation',
    );
    expect(await center.service.queue.getTaker('taker1')).toMatchObject({ state: 'break', reachable: false });
    // taker1 has been idle longest, yet the call goes to taker2.
    const call = center.emulator.placeCall({ from: '081200000001' });
    await untilBridged(center, call, 'the caller bridged');
    call.hangup();
    expect((await recordsByCaller(center, 1)).get('081200000001')!.takerId).toBe('taker2');
    expect(await center.service.notices.recent()).toContainEqual(
      expect.objectContaining({ kind: 'softphone-unreachable', takerId: 'taker1' }),
    );

    center.emulator.setEndpointReachable('PJSIP/taker1', true);
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
      'taker1 back in rotation',
    );
    expect(await center.service.notices.recent()).toContainEqual(
      expect.objectContaining({ kind: 'softphone-reachable', takerId: 'taker1' }),
    );
  });
});

describe('while a caller waits', () => {
  it('plays the hold announcement every interval, then music again, and stops it when a taker answers', async () => {
    center = await startCallCenter({
      takers: 1,
      env: {
        ANNOUNCE_INTERVAL_SECONDS: '1',
        ANNOUNCE_POSITION: 'true',
        ANNOUNCE_MEDIA: 'sound:siaga112/please-hold',
      },
    });
    const announcements: Array<{ id: string; media: string }> = [];
    center.emulator.on('event', ({ event }) => {
      const e = event as { type: string; playback?: { id: string; media_uri: string } };
      if (e.type === 'PlaybackStarted' && e.playback?.id.includes('-announce-')) {
        announcements.push({ id: e.playback.id, media: e.playback.media_uri });
      }
    });
    const holdMusic: number[] = [];
    center.emulator.on('request', ({ method, path, status }) => {
      if (method === 'POST' && path.endsWith('/moh') && status === 204) holdMusic.push(announcements.length);
    });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    const call = center.emulator.placeCall({ from: '081200000001' });
    await eventually(() => announcements.length >= 2, 'two announcements', 15_000);
    // Music after the greeting (no announcement yet), and again after each announcement.
    expect(holdMusic.slice(0, 2)).toEqual([0, 1]);
    expect(announcements[0]).toMatchObject({ media: 'sound:siaga112/please-hold' });
    expect(new Set(announcements.map((a) => a.id)).size).toBe(announcements.length);

    await center.makeAvailable('taker1');
    await untilBridged(center, call, 'the caller bridged');
    const heard = announcements.length;
    call.hangup();
    const record = (await recordsByCaller(center, 1)).get('081200000001')!;
    const events = await center.calls.listCallEvents(record.id);
    expect(events.filter((e) => e.type === 'announced').length).toBeGreaterThanOrEqual(2);
    // Nothing announced after the taker answered.
    const connectedSeq = events.find((e) => e.type === 'connected')!.seq;
    expect(events.filter((e) => e.type === 'announced' && e.seq > connectedSeq)).toEqual([]);
    expect(announcements).toHaveLength(heard);
  });
});
