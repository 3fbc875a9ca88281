/**
 * Replays a traffic file through the real service: the Asterisk emulator plays the PBX and the
 * scripted callers, virtual call takers answer on their softphones, end each call after the line's
 * talk time and record the line's verdict through the REST API, as a desk would. Records are read
 * back from Postgres to build the report.
 *
 * Time runs `rate` times faster for both the emulator and the service (one clock), and skips ahead
 * over stretches where no call is live: a day of traffic with ~120 calls replays in minutes while
 * history windows, cooldowns and silence windows keep their meaning. Processing latency is real,
 * so it is magnified by the rate in the call-time figures (at rate 60, 5 ms becomes 0.3 s).
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createApiKeyRepository } from '../auth/api-keys.ts';
import { fastClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import { type InboundCall, startAsteriskEmulator } from '../emulator/asterisk-emulator.ts';
import { createLogger } from '../logger.ts';
import { createCallRepository } from '../records/call-repository.ts';
import type { Database } from '../records/database.ts';
import { createDatabase } from '../records/database.ts';
import { createTakerRepository } from '../records/taker-repository.ts';
import { OFFER_CHANNEL_PREFIX } from '../routing/call-session.ts';
import { startService } from '../service.ts';
import type { ReplayOutcome } from './replay-report.ts';
import type { TrafficCall } from './traffic.ts';

export interface ReplayOptions {
  calls: readonly TrafficCall[];
  /** Call-time milliseconds per real millisecond. */
  rate: number;
  takers: number;
  /** How long a virtual call taker's phone rings before they pick up (call time). */
  takerAnswerSeconds: number;
  databaseUrl: string;
  redisUrl: string;
  redisPrefix: string;
  logLevel?: string;
  /** Extra service settings (the environment variables of src/config.ts). */
  env?: Record<string, string>;
  onProgress?: (placed: number, total: number) => void;
}

// Sound lengths of the emulated prompts, in call time.
const SOUNDS = {
  'sound:siaga112/greeting': 4000,
  'sound:siaga112/please-hold': 3000,
  'sound:siaga112/misuse-warning': 8000,
  'sound:siaga112/press-5-twice': 5000,
  'sound:siaga112/silent-press-5': 5000,
};
/** While a call is live, how often (real ms, at most) the arrival loop looks at the clock. */
const POLL_MS = 20;
const VERDICT_ATTEMPTS = 100;

interface Conversation {
  callId: string;
  takerId: string;
  offerChannelId: string;
}

export async function runReplay(options: ReplayOptions): Promise<ReplayOutcome[]> {
  const clock = fastClock(options.rate);
  const password = randomBytes(12).toString('hex');
  const emulator = await startAsteriskEmulator({
    username: 'siaga112',
    password,
    sounds: SOUNDS,
    timeScale: options.rate,
  });
  const config = loadConfig({
    ARI_URL: emulator.url,
    ARI_USERNAME: 'siaga112',
    ARI_PASSWORD: password,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.redisPrefix,
    HTTP_PORT: '0',
    LOG_LEVEL: options.logLevel ?? 'warn',
    SIAGA_INSTANCE_ID: `replay-${options.redisPrefix}`,
    ...options.env,
  });
  const service = await startService(config, createLogger(config.logLevel), { clock });
  const db = createDatabase(options.databaseUrl, { maxConnections: 2, applicationName: 'siaga112-replay' });
  try {
    const api = await service.app.listen({ host: '127.0.0.1', port: 0 });
    await service.ari.waitUntilConnected(10_000);
    await service.databaseReady;
    const deskKeys = await logTakersOn(api, db, emulator, options);

    const byCaller = new Map<string, TrafficCall>();
    const conversations = new Map<string, Conversation>();
    const verdicts: Array<Promise<void>> = [];
    let pendingVerdicts = 0;
    emulator.on('event', ({ event }) => {
      if (event.type !== 'ChannelEnteredBridge') return;
      const bridged = ((event.bridge as { channels?: string[] } | undefined)?.channels ?? []) as string[];
      const callerChannelId = bridged.find((id) => byCaller.has(id));
      const offerChannelId = bridged.find((id) => id.startsWith(OFFER_CHANNEL_PREFIX));
      if (!callerChannelId || !offerChannelId || conversations.has(callerChannelId)) return;
      const call = byCaller.get(callerChannelId) as TrafficCall;
      const talkingTo = emulator.snapshot().channels.find((c) => c.id === offerChannelId);
      const conversation = {
        callId: offerChannelId.slice(OFFER_CHANNEL_PREFIX.length).replace(/-\d+$/, ''),
        takerId: (talkingTo?.name ?? '').replace(/^PJSIP\//, '').replace(/-[0-9a-f]+$/, ''),
        offerChannelId,
      };
      conversations.set(callerChannelId, conversation);
      // The call taker talks for the line's time, hangs up, then records the verdict.
      clock.setTimeout(() => {
        emulator.hangupChannel(offerChannelId);
        // Writing the verdict is still work on the floor: call time must not skip past it, or the
        // caller's next call would be screened before the verdict it deserves.
        pendingVerdicts += 1;
        const given = giveVerdict(api, deskKeys.get(conversation.takerId) ?? '', conversation, call.verdict);
        verdicts.push(given.finally(() => (pendingVerdicts -= 1)));
      }, call.talk * 1000);
    });

    const placed: InboundCall[] = [];
    // Callers still on the line; with no live session either, time may skip ahead.
    let onTheLine = 0;
    const start = clock.now();
    for (const call of options.calls) {
      await waitUntil(
        start + call.at * 1000,
        clock,
        () => onTheLine === 0 && pendingVerdicts === 0 && service.center.activeCalls.length === 0,
      );
      const inbound = emulator.placeCall({
        from: call.from,
        trunk: call.trunk,
        appArgs: [call.trunk],
        caller: call.caller,
        patienceMs: call.patience * 1000,
      });
      byCaller.set(inbound.channelId, call);
      placed.push(inbound);
      onTheLine += 1;
      void inbound.ended.then(() => {
        onTheLine -= 1;
      });
      options.onProgress?.(placed.length, options.calls.length);
    }
    await Promise.all(placed.map((call) => call.ended));
    await service.center.idle();
    await Promise.all(verdicts);
    await drainRecords(service);
    return await readOutcomes(db, byCaller);
  } finally {
    await db.destroy();
    await service.close();
    await emulator.stop();
  }
}

/** Waits until call time `at`, skipping ahead when nothing is live. */
async function waitUntil(
  at: number,
  clock: ReturnType<typeof fastClock>,
  idle: () => boolean,
): Promise<void> {
  for (;;) {
    const left = at - clock.now();
    if (left <= 0) return;
    if (idle()) {
      clock.skip(left);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, left / clock.rate)));
  }
}

async function logTakersOn(
  api: string,
  db: Kysely<Database>,
  emulator: Awaited<ReturnType<typeof startAsteriskEmulator>>,
  options: ReplayOptions,
): Promise<Map<string, string>> {
  const takers = createTakerRepository(db);
  const keys = createApiKeyRepository(db);
  const deskKeys = new Map<string, string>();
  for (let i = 1; i <= options.takers; i++) {
    const id = `taker${i}`;
    const endpoint = `PJSIP/${id}`;
    await takers.upsertTaker({ id, name: `Virtual taker ${i}`, endpoint });
    // Each virtual desk signs in with its own call taker's key, as a real one would.
    const { key } = await keys.create({
      name: `virtual desk ${id}`,
      role: 'call-taker',
      takerId: id,
      createdBy: 'replay',
    });
    deskKeys.set(id, key);
    emulator.setEndpoint(endpoint, { answer: 'after', delayMs: options.takerAnswerSeconds * 1000 });
    const reply = await fetch(`${api}/takers/${id}/state`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ state: 'available' }),
    });
    if (!reply.ok) throw new Error(`could not log ${id} on: ${reply.status} ${await reply.text()}`);
  }
  return deskKeys;
}

/** The verdict goes through the REST API once the call's record is in Postgres (it is written asynchronously). */
async function giveVerdict(
  api: string,
  key: string,
  conversation: Conversation,
  verdict: string,
): Promise<void> {
  for (let attempt = 0; attempt < VERDICT_ATTEMPTS; attempt++) {
    const reply = await fetch(`${api}/calls/${conversation.callId}/verdict`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ verdict, takerId: conversation.takerId }),
    });
    if (reply.ok) return;
    // 404 / 409: the record has not landed yet.
    if (reply.status !== 404 && reply.status !== 409) {
      throw new Error(`verdict for ${conversation.callId}: ${reply.status} ${await reply.text()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`verdict for ${conversation.callId}: its record never showed it answered`);
}

async function drainRecords(service: Awaited<ReturnType<typeof startService>>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const backlog = await service.recordBacklog();
    if (backlog.waiting + backlog.active + backlog.delayed === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function readOutcomes(
  db: Kysely<Database>,
  byCaller: Map<string, TrafficCall>,
): Promise<ReplayOutcome[]> {
  const repository = createCallRepository(db);
  const rows = await db.selectFrom('calls').select(['id', 'caller_channel_id']).execute();
  const recordByChannel = new Map(rows.map((row) => [row.caller_channel_id, row.id]));
  const outcomes: ReplayOutcome[] = [];
  for (const [channelId, call] of byCaller) {
    const id = recordByChannel.get(channelId);
    const record = id ? await repository.getCall(id) : undefined;
    outcomes.push({
      call,
      disposition: record?.disposition ?? null,
      decision: record?.screening?.decision ?? null,
      timeToHumanMs:
        record?.connectedAt && record.disposition === 'connected'
          ? record.connectedAt.getTime() - record.arrivedAt.getTime()
          : null,
      talkMs: record?.talkMs ?? 0,
    });
  }
  return outcomes;
}
