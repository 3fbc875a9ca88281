import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundCall } from '../../src/emulator/inbound-caller.ts';
import { CallerHistoryStore } from '../../src/queues/caller-history.ts';
import type { CallRecord } from '../../src/records/call-record.ts';
import { type Callback, createCallbackRepository } from '../../src/records/callback-repository.ts';
import { testRedisUrl } from '../support/test-redis.ts';
import { type CallCenterUnderTest, eventually, startCallCenter } from './call-center-harness.ts';

const DAY = 24 * 3600_000;
let center: CallCenterUnderTest | undefined;
afterEach(async () => {
  await center?.close();
  center = undefined;
});

/** The call's record once the app has answered the caller (the IVR was reached). */
async function answeredRecord(c: CallCenterUnderTest, call: InboundCall): Promise<CallRecord> {
  return eventually(async () => {
    const row = await c.database.db
      .selectFrom('calls')
      .select('id')
      .where('caller_channel_id', '=', call.channelId)
      .executeTakeFirst();
    const record = row ? await c.calls.getCall(row.id) : undefined;
    return record?.answeredAt ? record : undefined;
  }, `the app to answer ${call.channelId}`);
}

async function callbackOf(
  c: CallCenterUnderTest,
  callId: string,
  status?: Callback['status'],
): Promise<Callback> {
  const callbacks = createCallbackRepository(c.database.db);
  return eventually(
    async () => {
      const callback = await callbacks.getByCall(callId);
      return callback && (status === undefined || callback.status === status) ? callback : undefined;
    },
    `the callback of ${callId}${status ? ` ${status}` : ''}`,
  );
}

async function eventTypes(c: CallCenterUnderTest, callId: string): Promise<string[]> {
  return (await c.calls.listCallEvents(callId)).map((e) => e.type);
}

async function claim(c: CallCenterUnderTest, callbackId: string, takerId: string) {
  return c.service.app.inject({
    method: 'POST',
    url: `/callbacks/${callbackId}/claim`,
    payload: { takerId },
  });
}

/** A caller reaches the IVR, waits with no free taker, and hangs up: owed a callback. */
async function abandonAfterIvr(c: CallCenterUnderTest, from: string): Promise<CallRecord> {
  const call = c.emulator.placeCall({ from });
  const record = await answeredRecord(c, call);
  call.hangup();
  await call.ended;
  return record;
}

describe('callbacks for callers who hung up before a person answered', () => {
  it('a claimed callback rings the taker, dials the caller through the trunk and bridges them', async () => {
    center = await startCallCenter({ takers: 1 });
    // Nobody logged on: the caller waits after the greeting, then gives up.
    const record = await abandonAfterIvr(center, '081234567890');
    const pending = await callbackOf(center, record.id, 'pending');
    expect(pending).toMatchObject({ callerNumber: '+6281234567890', trunk: 'telkomsel', attempts: 0 });
    await eventually(
      async () => (await eventTypes(center!, record.id)).includes('callback-created'),
      'callback-created',
    );

    const list = await center.service.app.inject({ method: 'GET', url: '/callbacks?status=pending' });
    expect(list.statusCode, list.body).toBe(200);
    expect(list.json()).toEqual([
      expect.objectContaining({
        id: pending.id,
        callId: record.id,
        callerNumber: '+6281234567890',
        attempts: 0,
      }),
    ]);

    // 112 calls come first: a taker who is not available cannot claim.
    const offline = await claim(center, pending.id, 'taker1');
    expect(offline.statusCode, offline.body).toBe(409);
    expect(offline.json().detail).toMatch(/^body\.takerId: /);

    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/081234567890@telkomsel', {
      answer: 'after',
      delayMs: 20,
      hangupAfterMs: 150,
    });
    await center.makeAvailable('taker1');
    const claimed = await claim(center, pending.id, 'taker1');
    expect(claimed.statusCode, claimed.body).toBe(202);
    expect(claimed.json()).toEqual({ id: pending.id, status: 'claimed', takerId: 'taker1', attempt: 1 });
    // While the callback is dialled or talking, the taker is not offered 112 calls.
    const presence = await center.service.queue.getTaker('taker1');
    expect(['reserved', 'on-call']).toContain(presence?.state);

    const again = await claim(center, pending.id, 'taker1');
    expect(again.statusCode).toBe(409);

    const takerLeg = `siaga112-callback-${pending.id}-1-taker`;
    const callerLeg = `siaga112-callback-${pending.id}-1-caller`;
    await eventually(
      () => (center!.bridgeEntries.get(takerLeg) ?? 0) > 0 && (center!.bridgeEntries.get(callerLeg) ?? 0) > 0,
      'the taker and the caller bridged',
    );
    const reached = await callbackOf(center, record.id, 'reached');
    expect(reached).toMatchObject({ attempts: 1, lastOutcome: 'reached', claimedBy: 'taker1' });
    await eventually(
      async () => (await eventTypes(center!, record.id)).includes('callback-ended'),
      'the callback to end',
    );
    const events = await center.calls.listCallEvents(record.id);
    const trace = events.filter((e) => e.type.startsWith('callback-'));
    expect(trace.map((e) => e.type)).toEqual([
      'callback-created',
      'callback-claimed',
      'callback-dialing',
      'callback-outcome',
      'callback-connected',
      'callback-ended',
    ]);
    expect(trace[1]!.detail).toMatchObject({ takerId: 'taker1', attempt: 1 });
    expect(trace[3]!.detail).toMatchObject({ outcome: 'reached', attempt: 1 });
    expect(trace[5]!.detail).toMatchObject({ endedBy: 'caller' });
    // The trace comes after the call's own end, numbered on from it; the record is untouched.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.findIndex((e) => e.type === 'ended')).toBeLessThan(events.indexOf(trace[0]!));
    expect(await center.calls.getCall(record.id)).toMatchObject({ disposition: 'abandoned', takerId: null });
    // Both legs gone, the taker free again for 112 calls.
    await eventually(
      () => !center!.emulator.snapshot().channels.some((ch) => ch.id === takerLeg || ch.id === callerLeg),
      'both callback legs hung up',
    );
    await eventually(
      async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
      'taker1 available again',
    );
  });

  it('retries a callback nobody answers on the schedule, then gives up', async () => {
    // Two retries, 0.3 s apart (minutes as decimals).
    center = await startCallCenter({ takers: 1, env: { CALLBACK_RETRY_MINUTES: '0.005,0.005' } });
    const record = await abandonAfterIvr(center, '081298765432');
    const pending = await callbackOf(center, record.id, 'pending');
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    // The caller's phone rings out (Asterisk reports cause 19, no answer).
    center.emulator.setEndpoint('PJSIP/081298765432@telkomsel', { answer: 'reject', cause: 19 });
    await center.makeAvailable('taker1');

    for (const attempt of [1, 2, 3]) {
      const reply = await claim(center, pending.id, 'taker1');
      expect(reply.statusCode, reply.body).toBe(202);
      expect(reply.json().attempt).toBe(attempt);
      const after = attempt < 3 ? 'pending' : 'exhausted';
      const callback = await callbackOf(center, record.id, after);
      expect(callback).toMatchObject({ attempts: attempt, lastOutcome: 'no-answer', claimedBy: null });
      await eventually(
        async () => (await center!.service.queue.getTaker('taker1'))?.state === 'available',
        `taker1 freed after attempt ${attempt}`,
      );
    }
    const exhausted = await claim(center, pending.id, 'taker1');
    expect(exhausted.statusCode).toBe(409);

    await eventually(
      async () => (await eventTypes(center!, record.id)).includes('callback-exhausted'),
      'callback-exhausted recorded',
    );
    const trace = (await center.calls.listCallEvents(record.id)).filter((e) =>
      e.type.startsWith('callback-'),
    );
    const byAttempt = (type: string) => trace.filter((e) => e.type === type).map((e) => e.detail.attempt);
    expect(byAttempt('callback-dialing')).toEqual([1, 2, 3]);
    expect(trace.filter((e) => e.type === 'callback-outcome').map((e) => e.detail)).toEqual([
      expect.objectContaining({ outcome: 'no-answer', attempt: 1, cause: 19 }),
      expect.objectContaining({ outcome: 'no-answer', attempt: 2, cause: 19 }),
      expect.objectContaining({ outcome: 'no-answer', attempt: 3, cause: 19 }),
    ]);
    expect(byAttempt('callback-retry-scheduled')).toEqual([2, 3]);
    expect(byAttempt('callback-pending')).toEqual([2, 3]);
    // Each retry scheduled before it became due, and dialled only after.
    const types = trace.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual([
      'callback-created',
      'callback-claimed',
      'callback-dialing',
      'callback-outcome',
    ]);
    expect(types.at(-1)).toBe('callback-ended');
    expect(types.indexOf('callback-retry-scheduled')).toBeLessThan(types.indexOf('callback-pending'));
    expect(types.lastIndexOf('callback-pending')).toBeLessThan(types.lastIndexOf('callback-dialing'));
  });

  it('gives the callback back when the taker does not answer their own claim, and fails a number the trunk cannot place', async () => {
    center = await startCallCenter({ takers: 2 });
    const record = await abandonAfterIvr(center, '081277776666');
    const pending = await callbackOf(center, record.id, 'pending');
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'reject', cause: 19 });
    await center.makeAvailable('taker1');
    const missed = await claim(center, pending.id, 'taker1');
    expect(missed.statusCode, missed.body).toBe(202);
    await eventually(
      async () => (await eventTypes(center!, record.id)).includes('callback-released'),
      'the callback released',
    );
    // Not an attempt on the caller: pending again, nothing counted; the taker out as after a missed offer.
    expect(await callbackOf(center, record.id, 'pending')).toMatchObject({ attempts: 0, claimedBy: null });
    expect(await center.service.queue.getTaker('taker1')).toMatchObject({ state: 'break', reason: 'missed' });

    // No route for the number (no endpoint behind it): Asterisk answers 500 "Allocation failed".
    center.emulator.setEndpoint('PJSIP/taker2', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker2');
    const reply = await claim(center, pending.id, 'taker2');
    expect(reply.statusCode, reply.body).toBe(202);
    expect(await callbackOf(center, record.id, 'failed')).toMatchObject({
      attempts: 1,
      lastOutcome: 'invalid',
    });
    await eventually(
      async () => (await center!.service.queue.getTaker('taker2'))?.state === 'available',
      'taker2 freed',
    );
    await eventually(
      async () => (await eventTypes(center!, record.id)).includes('callback-ended'),
      'the end',
    );
    const trace = (await eventTypes(center, record.id)).filter((t) => t.startsWith('callback-'));
    expect(trace).toEqual([
      'callback-created',
      'callback-claimed',
      'callback-released',
      'callback-claimed',
      'callback-dialing',
      'callback-outcome',
      'callback-failed',
      'callback-ended',
    ]);
  });

  it('a restarted service gives back a callback its predecessor was dialling', async () => {
    center = await startCallCenter({ takers: 1 });
    const record = await abandonAfterIvr(center, '081255554444');
    const pending = await callbackOf(center, record.id, 'pending');
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    center.emulator.setEndpoint('PJSIP/081255554444@telkomsel', { answer: 'never' });
    await center.makeAvailable('taker1');
    expect((await claim(center, pending.id, 'taker1')).statusCode).toBe(202);
    await callbackOf(center, record.id, 'dialing');

    // The process goes away mid-callback; its successor finds the callback without a dialer.
    await center.service.close();
    const successor = await center.startAnotherService();
    const again = await callbackOf(center, record.id, 'pending');
    expect(again).toMatchObject({ attempts: 0, claimedBy: null });
    await eventually(
      async () => (await eventTypes(center!, record.id)).includes('callback-interrupted'),
      'callback-interrupted recorded',
    );
    await eventually(
      async () => (await successor.queue.getTaker('taker1'))?.state === 'available',
      'taker1 free again',
    );
    expect(
      center.emulator.snapshot().channels.filter((ch) => ch.id.startsWith(`siaga112-callback-${pending.id}`)),
    ).toEqual([]);
  });

  it('answers 404 for an unknown callback or taker and 400 for a malformed claim, naming the field', async () => {
    center = await startCallCenter({ takers: 1 });
    const unknown = await claim(center, '00000000-0000-4000-8000-000000000000', 'taker1');
    expect(unknown.statusCode).toBe(404);
    expect(unknown.headers['content-type']).toContain('application/problem+json');
    const record = await abandonAfterIvr(center, '081211110000');
    const pending = await callbackOf(center, record.id, 'pending');
    const noTaker = await claim(center, pending.id, 'nobody');
    expect(noTaker.statusCode).toBe(404);
    expect(noTaker.json().detail).toMatch(/^body\.takerId: /);
    const malformed = await center.service.app.inject({
      method: 'POST',
      url: `/callbacks/${pending.id}/claim`,
      payload: { takerId: 'taker 1!' },
    });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().detail).toMatch(/^body\.takerId: /);
    const badStatus = await center.service.app.inject({ method: 'GET', url: '/callbacks?status=lost' });
    expect(badStatus.statusCode).toBe(400);
    expect(badStatus.json().detail).toMatch(/^querystring\.status: /);
  });

  it('creates no callback for a suspected prank, a released caller, an anonymous caller or one who left before the IVR', async () => {
    center = await startCallCenter({ takers: 1 });
    // One prank verdict this week: screened connect-low.
    const redis = new Redis(testRedisUrl());
    const history = new CallerHistoryStore(redis, center.redisPrefix);
    await history.recordVerdict('+6281200000001', 'old-1', 'prank', Date.now() - 2 * DAY);
    await history.rebuild('+6281200000001', [], Date.now());
    redis.disconnect();
    const suspect = await abandonAfterIvr(center, '081200000001');
    const lowered = await eventually(async () => {
      const r = await center!.calls.getCall(suspect.id);
      return r?.disposition ? r : undefined;
    }, 'the suspect ended');
    expect(lowered).toMatchObject({ disposition: 'abandoned', screening: { decision: 'connect-low' } });

    // The blocklist: warned and released.
    const listed = await center.service.app.inject({
      method: 'PUT',
      url: `/caller-lists/${encodeURIComponent('+6281200000002')}`,
      payload: { list: 'block', reason: 'test', author: 'supervisor' },
    });
    expect(listed.statusCode, listed.body).toBe(200);
    const blocked = center.emulator.placeCall({ from: '081200000002' });
    await blocked.ended;

    const anonymous = await abandonAfterIvr(center, 'anonymous');
    expect(anonymous.callerNumber).toBeNull();

    // Gone before the app could answer.
    const hasty = center.emulator.placeCall({ from: '081200000003' });
    hasty.hangup();
    await hasty.ended;

    // A clean caller last: once their callback exists, every earlier call was decided.
    const clean = await abandonAfterIvr(center, '081200000004');
    await callbackOf(center, clean.id, 'pending');
    const all = await center.database.db
      .selectFrom('callbacks')
      .select(['call_id', 'caller_number'])
      .execute();
    expect(all).toEqual([{ call_id: clean.id, caller_number: '+6281200000004' }]);
    const hastyRecord = await center.database.db
      .selectFrom('calls')
      .select(['answered_at'])
      .where('caller_channel_id', '=', hasty.channelId)
      .executeTakeFirst();
    if (hastyRecord) expect(hastyRecord.answered_at).toBeNull();
  });
});
