import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AriClientAdapter } from '../../../src/ari/ari-client-adapter.ts';
import type { OriginateRequest } from '../../../src/ari/ari-port.ts';
import { originateOnce } from '../../../src/ari/originate-once.ts';
import { realClock } from '../../../src/clock.ts';
import { type AsteriskEmulator, startAsteriskEmulator } from '../../../src/emulator/asterisk-emulator.ts';
import { createLogger } from '../../../src/logger.ts';

/** The adapter gives up on a request after this long. */
const TIMEOUT_MS = 200;
const ORIGINATE = 'channels.originateWithId';

let emulator: AsteriskEmulator;
let ari: AriClientAdapter;
/** Status of every originate Asterisk answered (late ones included), in the order answered. */
let answered: number[];
/** Ids of the channels originates created. */
let created: string[];
let seq = 0;

beforeAll(async () => {
  emulator = await startAsteriskEmulator({ username: 'u', password: 'p' });
  emulator.setEndpoint('PJSIP/taker1', { answer: 'never' });
  emulator.on('request', ({ operation, status }) => {
    if (operation === ORIGINATE) answered.push(status);
  });
  emulator.on('channel-created', ({ channel, kind }) => {
    if (kind === 'originated') created.push(channel.id);
  });
  ari = new AriClientAdapter({
    url: emulator.url,
    username: 'u',
    password: 'p',
    app: 'siaga112',
    requestTimeoutMs: TIMEOUT_MS,
    logger: createLogger('silent'),
  });
  await ari.start();
  await ari.waitUntilConnected(10_000);
});

afterAll(async () => {
  await ari?.close();
  await emulator?.stop();
});

beforeEach(() => {
  answered = [];
  created = [];
});

function request(timeoutSeconds = 10): OriginateRequest {
  seq += 1;
  return { endpoint: 'PJSIP/taker1', channelId: `originate-once-${seq}`, appArgs: ['test'], timeoutSeconds };
}

const options = (wanted = () => true) => ({
  clock: realClock,
  wanted,
  signal: new AbortController().signal,
});

async function untilAnswered(count: number): Promise<void> {
  for (let i = 0; i < 200 && answered.length < count; i++) await new Promise((r) => setTimeout(r, 25));
  expect(answered).toHaveLength(count);
}

describe('the ARI adapter on an originate', () => {
  it('tells an unanswered request (no-reply) from a refused one, and a repeat finds the channel (exists)', async () => {
    const req = request();
    emulator.slowDown(ORIGINATE, { delayMs: 3 * TIMEOUT_MS, hold: 'reply' });
    await expect(ari.originate(req)).rejects.toMatchObject({ code: 'no-reply' });
    await expect(ari.originate(req)).rejects.toMatchObject({ code: 'exists', status: 409 });
    await expect(ari.originate({ ...request(), endpoint: 'PJSIP/nobody' })).rejects.toMatchObject({
      code: 'asterisk',
      status: 500,
    });
    expect(created).toEqual([req.channelId]);
    // The slow one is answered (200) after the service gave up on it.
    await untilAnswered(3);
    expect(answered).toEqual([409, 500, 200]);
  });
});

describe('originateOnce', () => {
  it.each([
    { hold: 'reply' as const, how: 'created at once, answered late' },
    { hold: 'request' as const, how: 'acted on late' },
  ])('$how: repeats under the same id, one channel, created', async ({ hold }) => {
    const req = request();
    emulator.slowDown(ORIGINATE, { delayMs: 5 * TIMEOUT_MS, hold });
    const unanswered: number[] = [];
    const outcome = await originateOnce(ari, req, {
      ...options(),
      onUnanswered: (_error, count) => unanswered.push(count),
    });
    expect(outcome).toEqual({ kind: 'created', unanswered: 1 });
    expect(unanswered).toEqual([1]);
    await untilAnswered(2);
    // One of the two created the channel, the other was refused: 409, never a second channel.
    expect([...answered].sort()).toEqual([200, 409]);
    expect(created).toEqual([req.channelId]);
  });

  it('takes a 409 to a first request as a refusal: that channel is not ours', async () => {
    const req = request();
    await ari.originate(req);
    const outcome = await originateOnce(ari, req, options());
    expect(outcome).toMatchObject({ kind: 'refused', unanswered: 0, error: { code: 'exists' } });
  });

  it("passes Asterisk's refusal on at once, with nothing repeated", async () => {
    const outcome = await originateOnce(ari, { ...request(), endpoint: 'PJSIP/nobody' }, options());
    expect(outcome).toMatchObject({ kind: 'refused', unanswered: 0, error: { code: 'asterisk' } });
    expect(answered).toEqual([500]);
  });

  it('stops asking once the leg is no longer wanted: unanswered, the channel may exist', async () => {
    const req = request();
    emulator.slowDown(ORIGINATE, { delayMs: 3 * TIMEOUT_MS, hold: 'reply' });
    const outcome = await originateOnce(
      ari,
      req,
      options(() => false),
    );
    expect(outcome).toMatchObject({ kind: 'unanswered', unanswered: 1, error: { code: 'no-reply' } });
    expect(created).toEqual([req.channelId]);
    await untilAnswered(1);
  });

  it('stops asking once the ring time is spent', async () => {
    const req = request(1);
    emulator.slowDown(ORIGINATE, { delayMs: 5 * TIMEOUT_MS, hold: 'request' });
    const outcome = await originateOnce(ari, req, options());
    // 1 s of ringing: after one timeout and a pause less than a second is left, so no repeat.
    expect(outcome).toMatchObject({ kind: 'unanswered', unanswered: 1 });
    await untilAnswered(1);
    expect(answered).toEqual([200]);
  });
});
