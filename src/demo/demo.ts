/**
 * `npm run demo [-- --traffic <file.jsonl>] [--rate 90] [--takers 2] [--answer-seconds 3] [--port 0]
 * [--time-zone Asia/Jakarta]`
 *
 * A 112 center on this machine, to watch in a browser: the real service (real sockets, real
 * PostgreSQL and Redis) on the Asterisk emulator, virtual call takers who answer and give verdicts,
 * and a day of calls (../shared/traffic/kendari-day.jsonl, or a generated day with its profile)
 * replayed in compressed time by src/replay. It prints the wallboard's address with a supervisor
 * key made for the demo, a progress line, and the replay's report. The demo's day starts at local
 * midnight, so the wallboard's "today" is the whole replayed day. Ctrl-C stops it cleanly: the
 * demo's database and Redis keys are removed either way.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createApiKeyRepository } from '../auth/api-keys.ts';
import { type LocalServices, resolveLocalServices } from '../dev/local-services.ts';
import { deleteRedisPrefix } from '../dev/redis-prefix.ts';
import { isTimeZone, localDay } from '../local-day.ts';
import { type Replay, startReplay } from '../replay/replay.ts';
import { buildReplayReport, formatReplayReport } from '../replay/replay-report.ts';
import { parseTraffic, type TrafficCall, type TrafficProblem } from '../replay/traffic.ts';
import { generateDay } from '../replay/traffic-generator.ts';

const USAGE =
  'usage: npm run demo -- [--traffic <file.jsonl>] [--rate 90] [--takers 2] [--answer-seconds 3] [--port 0] [--time-zone Asia/Jakarta]';
const DEFAULT_TRAFFIC = new URL('../../../shared/traffic/kendari-day.jsonl', import.meta.url);
const DEFAULT_RATE = 90;
const DEFAULT_TIME_ZONE = 'Asia/Jakarta';
/** Real seconds between the wallboard's address and the first call: time to open it. */
const LEAD_IN_MS = 5_000;
/** After the last call, long enough for the wallboard's last push (figures every 2 s). */
const LAST_PUSH_MS = 3_000;

class Stopped extends Error {
  override readonly name = 'Stopped';
}

function positiveNumber(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`--${name} must be a positive number, got ${JSON.stringify(value)}`);
  return n;
}

async function loadTraffic(file: string | undefined): Promise<{
  calls: TrafficCall[];
  problems: TrafficProblem[];
  source: string;
}> {
  if (file === undefined && !existsSync(DEFAULT_TRAFFIC)) {
    return { calls: generateDay(), problems: [], source: 'a generated day with the Kendari profile' };
  }
  const path = file ?? DEFAULT_TRAFFIC;
  const traffic = parseTraffic(await readFile(path, 'utf8'));
  const name = file ?? '../shared/traffic/kendari-day.jsonl';
  for (const problem of traffic.problems)
    console.error(`${name}:${problem.line}: skipped: ${problem.message}`);
  if (traffic.calls.length === 0) throw new Error(`${name}: no calls to replay`);
  return { ...traffic, source: name };
}

async function main(signal: AbortSignal): Promise<number> {
  const { values } = parseArgs({
    options: {
      traffic: { type: 'string' },
      rate: { type: 'string' },
      takers: { type: 'string' },
      'answer-seconds': { type: 'string' },
      port: { type: 'string' },
      'time-zone': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const rate = positiveNumber(values.rate, 'rate', DEFAULT_RATE);
  if (rate < 1) throw new Error('--rate must be ≥ 1');
  const takers = Math.round(positiveNumber(values.takers, 'takers', 2));
  const takerAnswerSeconds = positiveNumber(values['answer-seconds'], 'answer-seconds', 3);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port must be 0 to 65535');
  const timeZone = values['time-zone'] ?? DEFAULT_TIME_ZONE;
  if (!isTimeZone(timeZone)) throw new Error(`--time-zone: unknown time zone ${timeZone}`);

  const traffic = await loadTraffic(values.traffic);
  const first = traffic.calls[0]!.at;
  const span = traffic.calls.at(-1)!.at - first;
  console.log(
    `siaga112 demo: ${traffic.calls.length} calls to 112 over ${(span / 3600).toFixed(1)} h (${traffic.source}), ` +
      `time ×${rate}, idle stretches skipped`,
  );
  console.log('  finding PostgreSQL and Redis…');
  const services = await resolveLocalServices();
  console.log(`  postgres: ${services.postgres.source}, redis: ${services.redis.source}`);
  const runId = randomBytes(4).toString('hex');
  const redisPrefix = `siaga112-demo-${runId}`;
  let replay: Replay | undefined;
  try {
    signal.throwIfAborted();
    const databaseUrl = await services.createDatabase(`siaga112_demo_${runId}`);
    // The day's first call at local midnight: the wallboard's "today" is the replayed day. The
    // service starts a little before, "yesterday", and time skips ahead to the first call.
    const midnight = localDay(Date.now(), timeZone).from.getTime();
    replay = await startReplay({
      rate,
      takers,
      takerAnswerSeconds,
      databaseUrl,
      redisUrl: services.redis.url,
      redisPrefix,
      clockOrigin: midnight - Math.max(3600_000, 30_000 * rate),
      http: { host: '127.0.0.1', port },
      ...(process.env.LOG_LEVEL ? { logLevel: process.env.LOG_LEVEL } : {}),
    });
    signal.throwIfAborted();
    const { key } = await createApiKeyRepository(replay.db).create({
      name: 'demo wallboard',
      role: 'supervisor',
      createdBy: 'demo',
    });
    const zone = timeZone === DEFAULT_TIME_ZONE ? '' : `?timeZone=${encodeURIComponent(timeZone)}`;
    console.log(
      `  ${takers} virtual call takers pick up after ${takerAnswerSeconds} s, talk for each call's time, give its verdict`,
    );
    console.log(`\n  Wallboard: ${replay.api}/wallboard${zone}#key=${key}`);
    console.log('  (a supervisor key made for this demo; it goes with the demo database at the end)');
    console.log(`  API: ${replay.api} (OpenAPI at /docs)\n`);
    console.log(`  the first call comes in ${LEAD_IN_MS / 1000} s; Ctrl-C stops the demo`);
    await delay(LEAD_IN_MS, signal);

    const started = performance.now();
    const progress = showProgress(replay, timeZone, traffic.calls.length, started);
    let outcomes: Awaited<ReturnType<Replay['run']>>;
    try {
      outcomes = await replay.run(traffic.calls, {
        startAt: midnight - first * 1000,
        signal,
        onProgress: (placed) => progress.placed(placed),
      });
    } finally {
      progress.stop();
    }
    const report = buildReplayReport(outcomes, traffic.problems);
    console.log(`\nreplayed in ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
    console.log(formatReplayReport(report));
    await delay(LAST_PUSH_MS, signal);
    return report.genuineNotReached.length === 0 && report.missingRecords.length === 0 ? 0 : 1;
  } finally {
    await cleanUp(replay, services, redisPrefix);
  }
}

/** Stops the service and the emulator, removes the demo's Redis keys and database. */
async function cleanUp(
  replay: Replay | undefined,
  services: LocalServices,
  redisPrefix: string,
): Promise<void> {
  await replay?.close();
  const keys = await deleteRedisPrefix(services.redis.url, redisPrefix).catch((error: unknown) => {
    console.error(`siaga112 demo: could not remove the Redis keys under ${redisPrefix}:*: ${String(error)}`);
    return 0;
  });
  await services.stop();
  console.log(`\ndemo database dropped, ${keys} Redis keys removed`);
}

/**
 * One progress line: call time, calls placed, the queue and the takers. Rewritten in place on a
 * terminal, a line every 10 s otherwise.
 */
function showProgress(replay: Replay, timeZone: string, total: number, started: number) {
  const tty = process.stdout.isTTY === true;
  const time = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  });
  let placed = 0;
  let last = '';
  const show = async () => {
    const [waiting, takers] = await Promise.all([
      replay.service.queue.waiting(),
      replay.service.queue.listTakers(),
    ]);
    const busy = takers.filter((t) => t.state === 'reserved' || t.state === 'on-call').length;
    const line =
      `  ${time.format(replay.clock.now())} call time · ${placed}/${total} calls placed · ${waiting.length} waiting · ` +
      `${busy}/${takers.length} takers busy · ${((performance.now() - started) / 1000).toFixed(0)} s`;
    if (tty) process.stdout.write(`\r${line.padEnd(last.length)}`);
    else console.log(line);
    last = line;
  };
  const timer = setInterval(() => void show().catch(() => {}), tty ? 1000 : 10_000);
  return {
    placed: (n: number) => {
      placed = n;
    },
    stop: () => {
      clearInterval(timer);
      if (tty && last) process.stdout.write('\n');
    },
  };
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

// Ctrl-C once: hang up, stop, clean up. Twice: leave at once.
const stop = new AbortController();
process.on('SIGINT', () => {
  if (stop.signal.aborted) {
    console.error('\nsiaga112 demo: stopped at once; the demo database and Redis keys may be left behind');
    process.exit(130);
  }
  console.log(
    '\nstopping: hanging up the callers, closing the service, removing the demo data (Ctrl-C again to quit at once)…',
  );
  stop.abort(new Stopped('stopped'));
});
try {
  process.exitCode = await main(stop.signal);
} catch (error) {
  if (error instanceof Stopped) process.exitCode = 130;
  else {
    console.error(`siaga112 demo: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
