import { afterEach, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/records/call-record.ts';
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

async function finishedRecord(c: CallCenterUnderTest, channelId: string): Promise<CallRecord> {
  return eventually(async () => {
    const row = await c.database.db
      .selectFrom('calls')
      .select('id')
      .where('caller_channel_id', '=', channelId)
      .executeTakeFirst();
    const record = row ? await c.calls.getCall(row.id) : undefined;
    return record?.disposition ? record : undefined;
  }, `the record of ${channelId}`);
}

async function verdict(c: CallCenterUnderTest, callId: string, body: Record<string, unknown>) {
  return c.service.app.inject({ method: 'PUT', url: `/calls/${callId}/verdict`, payload: body });
}

describe('screening with call-taker verdicts', () => {
  it('lowers a caller that takers judged a prankster twice today, with the reasons on the record', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    await center.makeAvailable('taker1');

    // First call clean; after one prank verdict the next is lowered.
    for (const expected of ['connect', 'connect-low']) {
      const prank = center.emulator.placeCall({ from: '081299990000' });
      await prank.ended;
      const record = await finishedRecord(center, prank.channelId);
      expect(record.screening?.decision).toBe(expected);
      const reply = await verdict(center, record.id, { verdict: 'prank', takerId: 'taker1' });
      expect(reply.statusCode, reply.body).toBe(200);
    }

    // The taker steps away; the prankster calls again, then a first-time caller.
    await center.service.app.inject({
      method: 'PUT',
      url: '/takers/taker1/state',
      payload: { state: 'offline' },
    });
    const third = center.emulator.placeCall({ from: '081299990000' });
    await eventually(
      async () => (await center!.service.queue.waiting()).length === 1,
      'the prankster waiting',
    );
    const clean = center.emulator.placeCall({ from: '081211112222' });
    await eventually(async () => (await center!.service.queue.waiting()).length === 2, 'both waiting');
    await center.makeAvailable('taker1');
    await Promise.all([third.ended, clean.ended]);

    const suspect = await finishedRecord(center, third.channelId);
    const firstTimer = await finishedRecord(center, clean.channelId);
    expect(suspect.screening).toMatchObject({ decision: 'warn-and-release' });
    expect(suspect.screening?.reasons).toEqual(
      expect.arrayContaining(['pranks today: warned and released', '2 judged prank in the last 24 h']),
    );
    expect(suspect.priority).toBe(2);
    expect(firstTimer).toMatchObject({ priority: 1, screening: { decision: 'connect' } });
    // Friction for the suspicious only: the first-time caller, who came later, is answered first.
    expect(firstTimer.connectedAt!.getTime()).toBeLessThan(suspect.connectedAt!.getTime());
    // Until the IVR carries out releases, a released-for-pranks caller still reaches a person.
    expect(suspect.disposition).toBe('connected');
  });

  it('rejects verdicts on unknown or unanswered calls and malformed ones, naming the field', async () => {
    center = await startCallCenter({ takers: 1 });
    const abandoned = center.emulator.placeCall({ from: '081233334444' });
    await eventually(async () => (await center!.service.queue.waiting()).length === 1, 'the call waiting');
    abandoned.hangup();
    const record = await finishedRecord(center, abandoned.channelId);

    const unanswered = await verdict(center, record.id, { verdict: 'prank', takerId: 'taker1' });
    expect(unanswered.statusCode).toBe(409);
    expect(unanswered.json().title).toBe('call-not-answered');

    const unknown = await verdict(center, '00000000-0000-4000-8000-000000000000', {
      verdict: 'prank',
      takerId: 'taker1',
    });
    expect(unknown.statusCode).toBe(404);

    const malformed = await verdict(center, record.id, { verdict: 'rude', takerId: 'taker1' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().detail).toMatch(/^body\.verdict: /);

    const notAnId = await verdict(center, 'call-1', { verdict: 'prank', takerId: 'taker1' });
    expect(notAnId.statusCode).toBe(400);
    expect(notAnId.json().detail).toMatch(/^params\.callId: /);
  });

  it('lets a caller with a shared caller ID through untouched, whatever others did with it', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    const call = center.emulator.placeCall({ from: 'anonymous' });
    await untilBridged(center, call);
    call.hangup();
    const record = await finishedRecord(center, call.channelId);
    expect(record.screening).toEqual({
      decision: 'connect',
      score: 0,
      reasons: ['caller ID anonymous: no history of its own, never penalized'],
    });
  });
});
