import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CallerHistoryStore } from '../../src/queues/caller-history.ts';
import type { CallRecord } from '../../src/records/call-record.ts';
import { DEFAULT_RULES } from '../../src/routing/screening.ts';
import { testRedisUrl } from '../support/test-redis.ts';
import {
  type CallCenterUnderTest,
  eventually,
  startCallCenter,
  untilBridged,
} from './call-center-harness.ts';

const DAY = 24 * 3600_000;
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
  it('warns and releases a caller judged a prankster twice today, and challenges one calling straight back', async () => {
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

    // Two pranks today: the next call hears the misuse warning and is released.
    const third = center.emulator.placeCall({ from: '081299990000' });
    await third.ended;
    const released = await finishedRecord(center, third.channelId);
    expect(released).toMatchObject({ disposition: 'released', endedBy: 'system', takerId: null });
    expect(released.screening?.reasons).toEqual(
      expect.arrayContaining(['pranks today: warned and released', '2 judged prank in the last 24 h']),
    );
    const releaseEvents = (await center.calls.listCallEvents(released.id)).map((e) => e.type);
    expect(releaseEvents).toEqual(expect.arrayContaining(['screened', 'releasing', 'ended']));
    expect(releaseEvents).not.toContain('offered');

    // Calling straight back is not released twice (fail open): a key press reaches a person.
    const fourth = center.emulator.placeCall({ from: '081299990000' });
    await eventually(async () => {
      const rows = await center!.database.db.selectFrom('call_events').select('type').execute();
      return rows.some((r) => r.type === 'challenge');
    }, 'the challenge');
    fourth.pressKeys('55');
    await untilBridged(center, fourth, 'the challenged caller with a taker after pressing 5');
    fourth.hangup();
    const challenged = await finishedRecord(center, fourth.channelId);
    expect(challenged).toMatchObject({ disposition: 'connected', takerId: 'taker1' });
    expect(challenged.screening?.decision).toBe('challenge');
    expect((await center.calls.listCallEvents(challenged.id)).map((e) => e.type)).toContain(
      'challenge-passed',
    );
  });

  it('queues a challenged caller who presses nothing at low priority, behind a first-time caller', async () => {
    center = await startCallCenter({ takers: 1, env: { CHALLENGE_WINDOW_SECONDS: '3' } });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    // Seven pranks this week put the number behind the challenge.
    const redis = new Redis(testRedisUrl());
    const history = new CallerHistoryStore(redis, center.redisPrefix);
    for (let i = 0; i < 7; i++)
      await history.recordVerdict('+6281299990000', `old-${i}`, 'prank', Date.now() - 2 * DAY);
    await history.rebuild('+6281299990000', [], Date.now());
    redis.disconnect();

    const silentSuspect = center.emulator.placeCall({ from: '081299990000' });
    await eventually(
      async () => (await center!.service.queue.waiting()).length === 1,
      'the suspect queued after the window',
      10_000,
    );
    const clean = center.emulator.placeCall({ from: '081211112222' });
    await eventually(async () => (await center!.service.queue.waiting()).length === 2, 'both waiting');
    await center.makeAvailable('taker1');
    await Promise.all([silentSuspect.ended, clean.ended]);
    const suspect = await finishedRecord(center, silentSuspect.channelId);
    const firstTimer = await finishedRecord(center, clean.channelId);
    expect(suspect).toMatchObject({
      disposition: 'connected',
      priority: 2,
      screening: { decision: 'challenge' },
    });
    expect((await center.calls.listCallEvents(suspect.id)).map((e) => e.type)).toContain(
      'challenge-unanswered',
    );
    expect(firstTimer.connectedAt!.getTime()).toBeLessThan(suspect.connectedAt!.getTime());
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

describe('silent calls', () => {
  const silentEnv = {
    SILENCE_WINDOW_SECONDS: '2',
    CHALLENGE_WINDOW_SECONDS: '3',
    SILENT_RELEASE_SECONDS: '2',
  };

  it('puts a caller who cannot speak but presses 5 twice first in line, as urgent', async () => {
    center = await startCallCenter({ takers: 1, env: silentEnv });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    const earlier = center.emulator.placeCall({ from: '081211112222' });
    earlier.startTalking();
    const silent = center.emulator.placeCall({ from: '081233334444' });
    await eventually(
      async () => {
        const rows = await center!.database.db.selectFrom('call_events').select('type').execute();
        return rows.some((r) => r.type === 'challenge');
      },
      'the silent prompt',
      10_000,
    );
    silent.pressKeys('55');
    await eventually(async () => (await center!.service.queue.waiting()).length === 2, 'both waiting again');
    // The silent caller came later but is urgent now.
    expect((await center.service.queue.waiting())[0]).toMatchObject({ level: 0 });
    await center.makeAvailable('taker1');
    await untilBridged(center, silent, 'the silent caller with a taker');
    silent.hangup();
    earlier.hangup();
    const record = await finishedRecord(center, silent.channelId);
    expect(record).toMatchObject({ disposition: 'connected', priority: 0, takerId: 'taker1' });
    const types = (await center.calls.listCallEvents(record.id)).map((e) => e.type);
    expect(types).toEqual(
      expect.arrayContaining(['challenge', 'person-heard', 'silent-confirmed', 'connected']),
    );
    const speaker = await finishedRecord(center, earlier.channelId);
    expect((await center.calls.listCallEvents(speaker.id)).map((e) => e.type)).not.toContain('challenge');
  });

  it('releases a pocket dial as silent after its bounds, having queued it at low priority meanwhile', async () => {
    center = await startCallCenter({ takers: 1, env: silentEnv });
    const pocket = center.emulator.placeCall({ from: '081255556666' });
    await pocket.ended;
    const record = await finishedRecord(center, pocket.channelId);
    expect(record).toMatchObject({ disposition: 'silent', endedBy: 'system', priority: 2, takerId: null });
    const types = (await center.calls.listCallEvents(record.id)).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['challenge', 'silent-unconfirmed', 'ended']));
    expect(types).not.toContain('person-heard');
  });
});

describe('allowlist and blocklist', () => {
  async function put(c: CallCenterUnderTest, number: string, body: Record<string, unknown>) {
    return c.service.app.inject({
      method: 'PUT',
      url: `/caller-lists/${encodeURIComponent(number)}`,
      payload: body,
    });
  }

  it('warns and releases a blocklisted number, but challenges it when it calls straight back', async () => {
    center = await startCallCenter({ takers: 1 });
    await center.service.databaseReady;
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    const listed = await put(center, '0812 7777 8888', {
      list: 'block',
      reason: 'threatened call takers',
      author: 'supervisor1',
    });
    expect(listed.statusCode, listed.body).toBe(200);
    expect(listed.json()).toMatchObject({ number: '+6281277778888', list: 'block', expiresAt: null });

    const first = center.emulator.placeCall({ from: '081277778888' });
    await first.ended;
    expect(await finishedRecord(center, first.channelId)).toMatchObject({
      disposition: 'released',
      screening: { decision: 'warn-and-release', reasons: ['on the blocklist: warned and released'] },
    });

    const again = center.emulator.placeCall({ from: '+6281277778888' });
    await eventually(async () => {
      const rows = await center!.database.db.selectFrom('call_events').select('type').execute();
      return rows.some((r) => r.type === 'challenge');
    }, 'the challenge');
    again.pressKeys('55');
    await untilBridged(center, again, 'the blocked caller reaching a person after the key press');
    again.hangup();
    expect((await finishedRecord(center, again.channelId)).screening?.decision).toBe('challenge');
  });

  it('lets an allowlisted number through whatever its history, and validates entries', async () => {
    center = await startCallCenter({ takers: 1 });
    await center.service.databaseReady;
    const redis = new Redis(testRedisUrl());
    const history = new CallerHistoryStore(redis, center.redisPrefix);
    for (let i = 0; i < 3; i++)
      await history.recordVerdict('+6281200001111', `old-${i}`, 'prank', Date.now());
    await history.rebuild('+6281200001111', [], Date.now());
    redis.disconnect();
    expect(
      (await put(center, '081200001111', { list: 'allow', reason: 'RSUD Kendari ER desk', author: 'admin' }))
        .statusCode,
    ).toBe(200);
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10 });
    await center.makeAvailable('taker1');
    const call = center.emulator.placeCall({ from: '081200001111' });
    await untilBridged(center, call);
    call.hangup();
    expect((await finishedRecord(center, call.channelId)).screening).toMatchObject({
      decision: 'connect',
      reasons: ['on the allowlist'],
    });

    const junk = await put(center, 'anonymous', { list: 'block', reason: 'nope', author: 'admin' });
    expect(junk.statusCode).toBe(400);
    expect(junk.json().detail).toBe('params.number: not a usable phone number (anonymous)');
    const past = await put(center, '081200002222', {
      list: 'block',
      reason: 'expired already',
      author: 'admin',
      expiresAt: '2020-01-01T00:00:00Z',
    });
    expect(past.json().detail).toBe('body.expiresAt: must be in the future');
    const missing = await center.service.app.inject({ method: 'DELETE', url: '/caller-lists/081200002222' });
    expect(missing.statusCode).toBe(404);
    const listed = await center.service.app.inject({ method: 'GET', url: '/caller-lists' });
    expect(listed.json()).toMatchObject([{ number: '+6281200001111', list: 'allow', author: 'admin' }]);
    const removed = await center.service.app.inject({
      method: 'DELETE',
      url: '/caller-lists/+6281200001111',
    });
    expect(removed.statusCode).toBe(204);
  });
});

describe('rules as data', () => {
  it('activates a rule set proposed on one instance on the other within moments, and validates it', async () => {
    center = await startCallCenter({ takers: 1 });
    await center.service.databaseReady;
    const standby = await center.startAnotherService();
    const leader = center.service;
    const inForce = async () => (await leader.app.inject({ method: 'GET', url: '/rules/in-force' })).json();
    expect((await inForce()).version).toBeNull();

    const invalid = await standby.app.inject({
      method: 'POST',
      url: '/rules',
      payload: {
        rules: { ...DEFAULT_RULES, releaseAfterPranks24h: 0 },
        comment: 'too strict',
        author: 'admin',
      },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().detail).toMatch(/^body\.rules\.releaseAfterPranks24h: /);
    const badPrompt = await standby.app.inject({
      method: 'POST',
      url: '/rules',
      payload: {
        rules: { ...DEFAULT_RULES, prompts: { warning: ['/etc/passwd'] } },
        comment: 'a prompt that is not media',
        author: 'admin',
      },
    });
    expect(badPrompt.statusCode).toBe(400);
    expect(badPrompt.json().detail).toMatch(/^body\.rules\.prompts\.warning\.0: /);

    const stricter = {
      ...DEFAULT_RULES,
      releaseAfterPranks24h: 1,
      prompts: { warning: ['sound:siaga112/lebaran-warning'] },
    };
    const created = await standby.app.inject({
      method: 'POST',
      url: '/rules',
      payload: {
        rules: stricter,
        comment: 'one prank a day is enough during Lebaran',
        author: 'supervisor1',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const { version } = created.json();
    // Proposed is not in force.
    expect((await inForce()).version).toBeNull();
    const activated = await standby.app.inject({
      method: 'POST',
      url: `/rules/${version}/activate`,
      payload: { author: 'supervisor1' },
    });
    expect(activated.statusCode).toBe(200);
    await eventually(
      async () => (await inForce()).version === version,
      'the leader screening with the new set',
    );
    expect((await inForce()).rules.releaseAfterPranks24h).toBe(1);

    // In force: one prank today now releases.
    const redis = new Redis(testRedisUrl());
    await new CallerHistoryStore(redis, center.redisPrefix).recordVerdict(
      '+6281244445555',
      'old',
      'prank',
      Date.now(),
    );
    redis.disconnect();
    const played: unknown[] = [];
    center.emulator.on('event', ({ event }) => {
      if (event.type === 'PlaybackStarted') played.push((event.playback as { media_uri: string }).media_uri);
    });
    const call = center.emulator.placeCall({ from: '081244445555' });
    await call.ended;
    expect(await finishedRecord(center, call.channelId)).toMatchObject({
      disposition: 'released',
      screening: { decision: 'warn-and-release' },
    });
    // The rule set's own warning, not the configured one.
    expect(played).toContain('sound:siaga112/lebaran-warning');
    expect(played).not.toContain('sound:siaga112/misuse-warning');

    const audit = (await leader.app.inject({ method: 'GET', url: '/rules' })).json();
    expect(audit).toMatchObject([
      {
        version,
        createdBy: 'supervisor1',
        activatedBy: 'supervisor1',
        comment: 'one prank a day is enough during Lebaran',
      },
    ]);
    const unknown = await leader.app.inject({
      method: 'POST',
      url: '/rules/999/activate',
      payload: { author: 'x' },
    });
    expect(unknown.statusCode).toBe(404);
  });

  it('backtests a candidate rule set over stored calls, leaving live calls alone', async () => {
    center = await startCallCenter({ takers: 1 });
    center.emulator.setEndpoint('PJSIP/taker1', { answer: 'after', delayMs: 10, hangupAfterMs: 50 });
    await center.makeAvailable('taker1');
    const from = new Date(Date.now() - 60_000).toISOString();
    const ids: string[] = [];
    for (const number of ['081233330000', '081233330000', '085677778888']) {
      const call = center.emulator.placeCall({ from: number });
      await call.ended;
      const record = await finishedRecord(center, call.channelId);
      ids.push(record.id);
      const verdictGiven = number === '085677778888' ? 'genuine' : 'prank';
      expect(
        (await verdict(center, record.id, { verdict: verdictGiven, takerId: 'taker1' })).statusCode,
      ).toBe(200);
    }
    const to = new Date(Date.now() + 60_000).toISOString();

    const backtest = (body: Record<string, unknown>) =>
      center!.service.app.inject({ method: 'POST', url: '/rules/backtest', payload: body });
    const reply = await backtest({ rules: { ...DEFAULT_RULES, releaseAfterPranks24h: 1 }, from, to });
    expect(reply.statusCode, reply.body).toBe(200);
    const result = reply.json();
    expect(result).toMatchObject({
      calls: 3,
      inForceVersion: null,
      decisions: {
        inForce: { connect: 2, 'connect-low': 1, challenge: 0, 'warn-and-release': 0 },
        candidate: { connect: 2, 'connect-low': 0, challenge: 0, 'warn-and-release': 1 },
      },
      transitions: [{ from: 'connect-low', to: 'warn-and-release', calls: 1, byVerdict: { prank: 1 } }],
      genuineReleased: 0,
    });
    expect(result.changes).toMatchObject([{ callId: ids[1], verdict: 'prank' }]);
    // Stored and live state untouched: the record keeps what was decided then.
    expect((await center.calls.getCall(ids[1]!))?.screening?.decision).toBe('connect-low');

    const backwards = await backtest({ rules: DEFAULT_RULES, from: to, to: from });
    expect(backwards.statusCode).toBe(400);
    expect(backwards.json().detail).toMatch(/^body\.to: /);
    const malformed = await backtest({ rules: DEFAULT_RULES, from: 'yesterday', to });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().detail).toMatch(/^body\.from: /);
  });
});
