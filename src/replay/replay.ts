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
import { type FastClock, fastClock } from '../clock.ts';
import { loadConfig } from '../config.ts';
import {
  type AsteriskEmulator,
  type InboundCall,
  startAsteriskEmulator,
} from '../emulator/asterisk-emulator.ts';
import { createLogger } from '../logger.ts';
import { createCallRepository } from '../records/call-repository.ts';
import type { Database } from '../records/database.ts';
import { createDatabase } from '../records/database.ts';
import { createTakerRepository } from '../records/taker-repository.ts';
import { OFFER_CHANNEL_PREFIX } from '../routing/call-session.ts';
import { type Service, startService } from '../service.ts';
import type { ReplayOutcome } from './replay-report.ts';
import type { TrafficCall } from './traffic.ts';

/** The service, the emulator and the virtual call takers a replay runs on. */
export interface ReplaySetup {
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
  /** Where call time starts (epoch ms; default now): the demo starts its day at local midnight. */
  clockOrigin?: number;
  /** Where the API listens (default 127.0.0.1, any free port). */
  http?: { host: string; port: number };
}

export interface ReplayRun {
  onProgress?: (placed: number, total: number) => void;
  /** The call-clock moment the file's `at` counts from (default: when `run` is called). */
  startAt?: number;
  /** Stops placing calls and hangs up the callers on the line; `run` then rejects with the reason. */
  signal?: AbortSignal;
}

export interface ReplayOptions extends ReplaySetup, ReplayRun {
  calls: readonly TrafficCall[];
}

/** A replay whose service is up and whose virtual call takers are logged on. */
export interface Replay {
  /** The API's base URL, e.g. http://127.0.0.1:40123. */
  readonly api: string;
  readonly clock: FastClock;
  readonly service: Service;
  /** A small pool on the replay's database (for keys, and for reading records). */
  readonly db: Kysely<Database>;
  /** Places the calls at their times, waits until every record is written, reads the outcomes. */
  run(calls: readonly TrafficCall[], options?: ReplayRun): Promise<ReplayOutcome[]>;
  /** Stops the service and the emulator. */
  close(): Promise<void>;
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

/** Starts, runs and stops a replay: `startReplay`, `run`, `close`. */
export async function runReplay(options: ReplayOptions): Promise<ReplayOutcome[]> {
  const replay = await startReplay(options);
  try {
    return await replay.run(options.calls, options);
  } finally {
    await replay.close();
  }
}

/** Starts the emulator and the service on one fast clock and logs the virtual call takers on. */
export async function startReplay(options: ReplaySetup): Promise<Replay> {
  const clock = fastClock(options.rate, options.clockOrigin);
  const password = randomBytes(12).toString('hex');
  const emulator = await startAsteriskEmulator({
    username: 'siaga112',
    password,
    sounds: SOUNDS,
    timeScale: options.rate,
  });
  let service: Service | undefined;
  let db: Kysely<Database> | undefined;
  const close = async () => {
    await db?.destroy();
    await service?.close();
    await emulator.stop();
  };
  try {
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
      // The emulated Asterisk writes its recordings there (a directory it removes when it stops).
      RECORDINGS_DIR: emulator.recordingsDir,
      ...options.env,
    });
    service = await startService(config, createLogger(config.logLevel), { clock });
    db = createDatabase(options.databaseUrl, { maxConnections: 2, applicationName: 'siaga112-replay' });
    const api = await service.app.listen(options.http ?? { host: '127.0.0.1', port: 0 });
    await service.ari.waitUntilConnected(10_000);
    await service.databaseReady;
    const deskKeys = await logTakersOn(api, db, emulator, options);
    const started = { api, clock, service, db };
    return {
      ...started,
      run: (calls, run = {}) => placeCalls(started, emulator, deskKeys, calls, run),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

async function placeCalls(
  { api, clock, service, db }: { api: string; clock: FastClock; service: Service; db: Kysely<Database> },
  emulator: AsteriskEmulator,
  deskKeys: Map<string, string>,
  calls: readonly TrafficCall[],
  { onProgress, signal, startAt }: ReplayRun,
): Promise<ReplayOutcome[]> {
  const byCaller = new Map<string, TrafficCall>();
  const conversations = new Map<string, Conversation>();
  const verdicts: Array<Promise<void>> = [];
  let pendingVerdicts = 0;
  const talking = new Set<NodeJS.Timeout>();
  const stopListening = emulator.on('event', ({ event }) => {
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
    const timer = clock.setTimeout(() => {
      talking.delete(timer);
      emulator.hangupChannel(offerChannelId);
      // Writing the verdict is still work on the floor: call time must not skip past it, or the
      // caller's next call would be screened before the verdict it deserves.
      pendingVerdicts += 1;
      const given = giveVerdict(api, deskKeys.get(conversation.takerId) ?? '', conversation, call.verdict);
      verdicts.push(given.finally(() => (pendingVerdicts -= 1)));
    }, call.talk * 1000);
    talking.add(timer);
  });

  const placed: InboundCall[] = [];
  // Callers still on the line; with no live session either, time may skip ahead.
  let onTheLine = 0;
  const live = new Set<InboundCall>();
  const hangUpEveryone = () => {
    for (const call of live) call.hangup();
  };
  signal?.addEventListener('abort', hangUpEveryone, { once: true });
  try {
    const start = startAt ?? clock.now();
    for (const call of calls) {
      await waitUntil(
        start + call.at * 1000,
        clock,
        () => onTheLine === 0 && pendingVerdicts === 0 && service.center.activeCalls.length === 0,
        signal,
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
      live.add(inbound);
      onTheLine += 1;
      void inbound.ended.then(() => {
        onTheLine -= 1;
        live.delete(inbound);
      });
      onProgress?.(placed.length, calls.length);
    }
    await Promise.all(placed.map((call) => call.ended));
    signal?.throwIfAborted();
    await service.center.idle();
    await Promise.all(verdicts);
    await drainRecords(service);
    return await readOutcomes(db, byCaller);
  } finally {
    signal?.removeEventListener('abort', hangUpEveryone);
    stopListening();
    // Stopped early: conversations still timed end with the service, and no verdict is owed.
    for (const timer of talking) clearTimeout(timer);
    void Promise.allSettled(verdicts);
  }
}

/** Waits until call time `at`, skipping ahead when nothing is live. */
async function waitUntil(
  at: number,
  clock: FastClock,
  idle: () => boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (;;) {
    signal?.throwIfAborted();
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
  emulator: AsteriskEmulator,
  options: ReplaySetup,
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

async function drainRecords(service: Service): Promise<void> {
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
